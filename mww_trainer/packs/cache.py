"""The packs in the data folder: `<data>/packs/<id>/` with installed.json and contents.json.

Speech packs (role "negative") hold audio for training; voice packs (role "voices") hold
piper models for mww-synth: `audio_dirs()` and `voice_dirs()` keep the two apart.

installed.json records where a pack came from (URLs, checksums, licence and attribution)
and where its audio is; contents.json lists every unpacked file with its size and sha256,
so `verify` can tell whether anything changed since. Downloads in progress live in
`<data>/packs/.downloads/<id>/`, out of sight of training.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mww_trainer.fileio import sha256_file
from mww_trainer.packs.catalog import NEGATIVE, PACK_ID, VOICES
from mww_trainer.packs.errors import PackError

PACKS_DIR = "packs"
RECORD_NAME = "installed.json"
CONTENTS_NAME = "contents.json"
DOWNLOADS_DIR = ".downloads"
RECORD_FORMAT = 1
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class InstalledPack:
    id: str
    title: str
    role: str
    licence: str
    licence_url: str
    attribution: str
    folder: Path
    audio_dir: Path
    installed_at: float
    download_bytes: int
    audio_files: int
    audio_bytes: int
    files: tuple[dict[str, Any], ...]
    # Hours of audio: the catalog's figure, kept in installed.json; records written before it
    # was kept count 16-bit 16 kHz mono WAV bytes (FLAC holds more, so this errs low).
    hours: float | None = None

    @property
    def audio_hours(self) -> float:
        if self.hours is not None:
            return self.hours
        return self.audio_bytes / (2 * 16000 * 3600)

    @classmethod
    def from_record(cls, record: dict[str, Any], folder: Path) -> InstalledPack:
        return cls(
            id=record["id"],
            title=record["title"],
            role=record["role"],
            licence=record["licence"],
            licence_url=record.get("licence_url", ""),
            attribution=record["attribution"],
            folder=folder,
            audio_dir=folder / record.get("audio_dir", ""),
            installed_at=float(record["installed_at"]),
            download_bytes=int(record["download_bytes"]),
            audio_files=int(record["audio_files"]),
            audio_bytes=int(record["audio_bytes"]),
            files=tuple(record.get("files", ())),
            hours=None if record.get("hours") is None else float(record["hours"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "role": self.role,
            "licence": self.licence,
            "licence_url": self.licence_url,
            "attribution": self.attribution,
            "audio_dir": str(self.audio_dir),
            "installed_at": self.installed_at,
            "download_bytes": self.download_bytes,
            "audio_files": self.audio_files,
            "audio_bytes": self.audio_bytes,
            "hours": round(self.audio_hours, 2),
        }


@dataclass(frozen=True)
class VerifyReport:
    pack_id: str
    checked: int
    missing: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.changed


class PackCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> PackCache:
        return cls(Path(data_dir) / PACKS_DIR)

    def folder(self, pack_id: str) -> Path:
        if not PACK_ID.match(pack_id):
            raise PackError(f"{pack_id!r} is not a pack id (a-z, 0-9, '.', '_', '-')")
        return self.root / pack_id

    def downloads(self, pack_id: str) -> Path:
        return self.root / DOWNLOADS_DIR / self.folder(pack_id).name

    def installed(self, pack_id: str) -> InstalledPack | None:
        folder = self.folder(pack_id)
        try:
            record = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
            return InstalledPack.from_record(record, folder)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PackError(
                f"{folder / RECORD_NAME} is damaged ({exc}); remove the pack and fetch it again"
            ) from None

    def all_installed(self) -> list[InstalledPack]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not (folder / RECORD_NAME).is_file():
                continue
            with contextlib.suppress(PackError):  # a damaged record: not offered for training
                pack = self.installed(folder.name)
                found.append(pack)
        return [p for p in found if p is not None]

    def audio_dirs(self, role: str = NEGATIVE) -> list[Path]:
        """The audio folders of the installed packs that serve `role`, for training configs."""
        return [p.audio_dir for p in self.all_installed() if p.role == role]

    def speech_hours(self) -> float:
        """Hours of people talking in the installed speech packs (what training adds)."""
        return sum(p.audio_hours for p in self.all_installed() if p.role == NEGATIVE)

    def voice_dirs(self) -> list[Path]:
        """The folders of the installed voice packs (piper models), for mww-synth."""
        return self.audio_dirs(VOICES)

    def partial_bytes(self, pack_id: str) -> int:
        """Bytes already downloaded towards a pack (what the next fetch resumes from)."""
        folder = self.downloads(pack_id)
        return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())

    def verify(self, pack_id: str) -> VerifyReport:
        """Re-reads every unpacked file and compares its size and sha256 with contents.json."""
        pack = self.installed(pack_id)
        if pack is None:
            raise PackError(f"{pack_id} is not installed in {self.root}")
        contents = json.loads((pack.folder / CONTENTS_NAME).read_text(encoding="utf-8"))
        missing, changed = [], []
        for relpath, size, sha256 in contents:
            path = pack.folder / relpath
            if not path.is_file():
                missing.append(relpath)
            elif path.stat().st_size != size or sha256_file(path) != sha256:
                changed.append(relpath)
        return VerifyReport(pack_id, len(contents), tuple(missing), tuple(changed))

    def remove(self, pack_id: str) -> bool:
        """Deletes an installed pack and any partial download of it; False if there was none."""
        folder, downloads = self.folder(pack_id), self.downloads(pack_id)
        existed = folder.exists() or downloads.exists()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)
        return existed

    @contextlib.contextmanager
    def lock(self, pack_id: str) -> Iterator[None]:
        """One fetch of a pack at a time, across processes (the CLI and the add-on)."""
        path = self.root / DOWNLOADS_DIR / f"{self.folder(pack_id).name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PackError(
                    f"{pack_id} is already being fetched (by mww-packs or the add-on); "
                    "wait for that to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
