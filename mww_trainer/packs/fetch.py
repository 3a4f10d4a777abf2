"""Fetch a pack: download its files (resuming), check them, unpack beside the target and
rename into place, so a pack folder is either complete with its record or absent.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

from mww_trainer.fileio import atomic_directory, atomic_write_text
from mww_trainer.packs.archive import DEFAULT_LIMITS, Limits, Written, unpack
from mww_trainer.packs.cache import (
    CONTENTS_NAME,
    RECORD_FORMAT,
    RECORD_NAME,
    InstalledPack,
    PackCache,
)
from mww_trainer.packs.catalog import VOICES, Pack
from mww_trainer.packs.download import DEFAULT_OPTIONS, DownloadOptions, download_file
from mww_trainer.packs.errors import PackError
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
UNPACK_FACTOR = 1.1  # unpacked audio takes about what its (already compressed) archive takes


def fetch_pack(
    pack: Pack,
    cache: PackCache,
    *,
    on_progress: ProgressCallback = ignore_progress,
    cancel: threading.Event | None = None,
    options: DownloadOptions = DEFAULT_OPTIONS,
    limits: Limits = DEFAULT_LIMITS,
) -> InstalledPack:
    """Installs `pack` into the cache (a no-op if it is installed with the same files)."""
    current = cache.installed(pack.id)
    if current is not None and _same_files(current, pack):
        on_progress(ProgressEvent("installed", 1, 1, f"{pack.id} is already installed"))
        return current
    with cache.lock(pack.id):
        downloads = cache.downloads(pack.id)
        _check_space(cache, pack)
        archives = _download_all(pack, downloads, on_progress, cancel, options)
        folder = cache.folder(pack.id)
        with atomic_directory(folder) as staging:
            written = _unpack_all(pack, archives, staging, on_progress, cancel, limits)
            _write_record(pack, staging, written)
        shutil.rmtree(downloads, ignore_errors=True)
    installed = cache.installed(pack.id)
    assert installed is not None  # just renamed into place with its record
    on_progress(ProgressEvent("installed", 1, 1, f"{pack.id}: {installed.audio_files} files"))
    return installed


def _same_files(installed: InstalledPack, pack: Pack) -> bool:
    """The same files, known by their checksums (a moved URL is still the same file)."""
    have = [(f.get("sha256"), f.get("md5")) for f in installed.files]
    return have == [(f.sha256, f.md5) for f in pack.files]


def _check_space(cache: PackCache, pack: Pack) -> None:
    have = cache.partial_bytes(pack.id)
    need = int(pack.size_bytes * (1 + UNPACK_FACTOR)) - have
    cache.root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache.root).free
    if need > free:
        raise PackError(
            f"not enough disk space in {cache.root} for {pack.id}: it needs about "
            f"{need / 1e9:.1f} GB (download and unpacked), {free / 1e9:.1f} GB are free"
        )


def _download_all(
    pack: Pack,
    folder: Path,
    on_progress: ProgressCallback,
    cancel: threading.Event | None,
    options: DownloadOptions,
) -> list[Path]:
    paths, before = [], 0
    for file in pack.files:

        def report(event: ProgressEvent, base: int = before) -> None:
            on_progress(replace(event, done=base + event.done, total=pack.size_bytes))

        paths.append(
            download_file(file, folder, on_progress=report, cancel=cancel, options=options)
        )
        before += file.size_bytes
    return paths


def _unpack_all(
    pack: Pack,
    archives: list[Path],
    staging: Path,
    on_progress: ProgressCallback,
    cancel: threading.Event | None,
    limits: Limits,
) -> list[Written]:
    written: list[Written] = []
    last = [0.0]

    def on_read(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:
            last[0] = now
            on_progress(ProgressEvent("unpack", done, total, pack.id))

    for file, path in zip(pack.files, archives, strict=True):
        try:
            written += unpack(
                path, file.archive, staging, limits=limits, on_read=on_read, cancel=cancel
            )
        except OSError as exc:
            raise PackError(f"{file.name}: cannot be unpacked ({exc})") from None
    audio_dir = staging / pack.audio_dir
    if not _content(pack, written) or not audio_dir.is_dir():
        what = "piper voice (NAME.onnx with NAME.onnx.json)" if pack.role == VOICES else "audio"
        raise PackError(
            f"{pack.id}: no {what} files under {pack.audio_dir or 'the top folder'} of its "
            "files; the catalog does not match what was downloaded"
        )
    return written


def _content(pack: Pack, written: list[Written]) -> list[Written]:
    """What the pack is for: its audio files, or (a voice pack) its piper models."""
    prefix = pack.audio_dir.rstrip("/") + "/" if pack.audio_dir else ""
    inside = [w for w in written if w.relpath.startswith(prefix)]
    if pack.role == VOICES:
        names = {w.relpath for w in written}
        return [w for w in inside if w.relpath.endswith(".onnx") and f"{w.relpath}.json" in names]
    return [w for w in inside if Path(w.relpath).suffix.lower() in AUDIO_SUFFIXES]


def _write_record(pack: Pack, staging: Path, written: list[Written]) -> None:
    audio = _content(pack, written)  # for a voice pack: its models
    record = {
        "format": RECORD_FORMAT,
        "id": pack.id,
        "title": pack.title,
        "role": pack.role,
        "licence": pack.licence,
        "licence_url": pack.licence_url,
        "attribution": pack.attribution,
        "source_url": pack.source_url,
        "audio_dir": pack.audio_dir,
        "installed_at": time.time(),
        "download_bytes": pack.size_bytes,
        "audio_files": len(audio),
        "audio_bytes": sum(w.size_bytes for w in audio),
        "hours": pack.hours,
        "files": [f.to_dict() for f in pack.files],
    }
    contents = [[w.relpath, w.size_bytes, w.sha256] for w in written]
    atomic_write_text(staging / CONTENTS_NAME, json.dumps(contents) + "\n")
    atomic_write_text(staging / RECORD_NAME, json.dumps(record, indent=1) + "\n")
