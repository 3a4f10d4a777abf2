"""Changing files in a user's ESPHome folder so that a failure leaves nothing half-done.

- every write goes to a temporary file beside the target and is renamed over it, keeping
  the target's permission bits;
- a device YAML is backed up (byte-for-byte) before it changes, with a record of what we
  wrote, into `.mww-backups/` (a dot folder: ESPHome's dashboard lists no dot files);
- a model folder is replaced as a whole and can be put back;
- one lock file serialises every deploy/undo into the same ESPHome folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from mww_trainer.esphome.errors import DeployError
from mww_trainer.fileio import atomic_write_bytes

BACKUP_DIR = ".mww-backups"
LOCK_FILE = ".lock"
LOCK_TIMEOUT_S = 600.0  # a deploy validates with ESPHome: seconds, not minutes
_STAMP = "%Y%m%d-%H%M%S-%f"
_STAMP_RE = r"\d{8}-\d{6}-\d{6}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_all(handle: BinaryIO, data: bytes, tmp_path: Path) -> None:
    """The one place bytes hit the disk (tests make it fail with ENOSPC)."""
    handle.write(data)


def write_bytes_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Temp file in the same folder, fsync, rename over `path`; the temp file never stays.
    Keeps `path`'s permission bits unless `mode` is given (0o644 for a new file)."""
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    atomic_write_bytes(path, data, mode=mode, write=_write_all)


def describe_os_error(err: OSError, where: Path) -> str:
    """What a failed write means for the user, and what to do."""
    if err.errno == errno.ENOSPC:
        return f"the disk holding {where} is full; free some space and try again"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{where} is not writable ({err.strerror}); check the folder's permissions"
    return f"cannot write {where} ({err.strerror or err})"


@dataclass(frozen=True)
class Backup:
    """A device YAML as it was before one deploy, and what that deploy wrote."""

    path: Path  # the saved bytes
    record: dict[str, Any]  # device_file, package_key, include, written_sha256, created

    @property
    def record_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")


def backup_dir(esphome_dir: Path) -> Path:
    return Path(esphome_dir) / BACKUP_DIR


def save_backup(esphome_dir: Path, yaml_path: Path, data: bytes, record: dict) -> Backup:
    """Write the backup's bytes and its record; nothing stays behind if either fails."""
    folder = backup_dir(esphome_dir)
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime(_STAMP)
    path = folder / f"{yaml_path.stem}.{stamp}{yaml_path.suffix}"
    backup = Backup(path, {**record, "device_file": yaml_path.name, "created": stamp})
    try:
        write_bytes_atomic(path, data, mode=0o600)
        text = json.dumps(backup.record, indent=2) + "\n"
        write_bytes_atomic(backup.record_path, text.encode(), mode=0o600)
    except BaseException:
        discard_backup(backup)
        raise
    return backup


def retire_backup(backup: Backup) -> Path:
    """Rename a used backup out of undo's way (`….undone.yaml`); returns its new path."""
    retired = backup.path.with_name(f"{backup.path.stem}.undone{backup.path.suffix}")
    os.replace(backup.path, retired)
    with contextlib.suppress(FileNotFoundError):
        os.replace(backup.record_path, retired.with_name(retired.name + ".json"))
    return retired


def discard_backup(backup: Backup) -> None:
    for path in (backup.path, backup.record_path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def latest_backup(esphome_dir: Path, yaml_path: Path) -> Backup | None:
    """The newest backup of `yaml_path` that deploy made (and undo has not used)."""
    pattern = re.compile(
        rf"^{re.escape(yaml_path.stem)}\.({_STAMP_RE}){re.escape(yaml_path.suffix)}$"
    )
    folder = backup_dir(esphome_dir)
    found = sorted(p for p in folder.glob(f"{yaml_path.stem}.*") if pattern.match(p.name))
    if not found:
        return None
    path = found[-1]
    record_path = path.with_name(path.name + ".json")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}  # the bytes alone still allow a byte-for-byte restore
    return Backup(path, record)


@contextlib.contextmanager
def folder_lock(esphome_dir: Path, *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[Path]:
    """Holds an exclusive flock on `.mww-backups/.lock` in the ESPHome folder."""
    folder = backup_dir(esphome_dir)
    try:
        folder.mkdir(exist_ok=True)
        handle = open(folder / LOCK_FILE, "a+b")  # noqa: SIM115 - held for the with-block
    except OSError as err:
        where = Path(err.filename).parent if err.filename else Path(esphome_dir)
        raise DeployError(f"{describe_os_error(err, where)}; nothing was changed") from err
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DeployError(
                        f"another deploy into {esphome_dir} has held the lock for"
                        f" {timeout_s:.0f} s; try again when it has finished"
                    ) from None
                time.sleep(0.05)
        yield folder / LOCK_FILE
    finally:
        handle.close()  # closing releases the flock


class FolderSwap:
    """Replace a folder's whole content with `files`, keeping the old one until commit()."""

    def __init__(self, target: Path, files: dict[str, bytes]):
        self.target = target
        self.files = files
        self._old: Path | None = None
        self._applied = False
        self._made_parent = False

    @property
    def changed(self) -> bool:
        if not self.target.is_dir():
            return True
        present = {p.name for p in self.target.iterdir()}
        if present != set(self.files):
            return True
        return any((self.target / n).read_bytes() != d for n, d in self.files.items())

    def apply(self) -> None:
        parent = self.target.parent
        if not parent.is_dir():
            parent.mkdir(parents=True)
            self._made_parent = True
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=parent))
        try:
            for name, data in self.files.items():
                write_bytes_atomic(tmp / name, data, mode=0o644)
            tmp.chmod(0o755)
            if self.target.exists():
                self._old = parent / f".{self.target.name}.old-{os.getpid()}-{time.time_ns()}"
                os.replace(self.target, self._old)
            os.replace(tmp, self.target)
            self._applied = True
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            self.rollback()
            raise

    def commit(self) -> None:
        if self._old is not None:
            shutil.rmtree(self._old, ignore_errors=True)
            self._old = None

    def rollback(self) -> None:
        if self._applied:
            shutil.rmtree(self.target, ignore_errors=True)
            self._applied = False
        self._put_back_old()

    def _put_back_old(self) -> None:
        if self._old is not None and not self.target.exists():
            os.replace(self._old, self.target)
        self._old = None
        if self._made_parent:
            with contextlib.suppress(OSError):
                self.target.parent.rmdir()  # only if still empty
            self._made_parent = False
