"""Unpack a downloaded pack file into a folder, refusing anything that could escape it.

Members are written one by one by this module (never tarfile's or zipfile's extract):
absolute names, `..`, links, devices and members past the size limits stop the install with
UnsafeArchive. Every written file's size and sha256 are returned for the pack's record.
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mww_trainer.packs.errors import PackCancelled, PackError, UnsafeArchive

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class Limits:
    member_bytes: int = 4 << 30  # no single recording comes near 4 GiB
    total_bytes: int = 200 << 30  # all members of one file together
    members: int = 1_000_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Written:
    relpath: str
    size_bytes: int
    sha256: str


# Called with (compressed bytes read, file size) as unpacking goes.
OnRead = Callable[[int, int], None]


def unpack(
    path: Path,
    kind: str,
    dest: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    on_read: OnRead | None = None,
    cancel: threading.Event | None = None,
) -> list[Written]:
    """Writes the content of `path` (tar.gz, tar, zip, or one audio or other file) under `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    if kind in ("audio", "file"):
        return [_write(dest, path.name, path.open("rb"), path.stat().st_size, limits)]
    counter = _Counter(path, on_read, cancel)
    try:
        if kind in ("tar.gz", "tar"):
            return _untar(counter, kind, dest, limits)
        if kind == "zip":
            return _unzip(counter, dest, limits)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise PackError(f"{path.name}: not a readable {kind} archive ({exc})") from None
    finally:
        counter.close()
    raise PackError(f"{path.name}: unknown archive kind {kind!r}")


class _Counter:
    """The archive file, read through a counter that reports progress and sees cancels."""

    def __init__(self, path: Path, on_read: OnRead | None, cancel: threading.Event | None):
        self.handle, self.size = path.open("rb"), path.stat().st_size
        self.on_read, self.cancel, self.done, self.name = on_read, cancel, 0, path.name

    def read(self, size: int = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise PackCancelled(f"{self.name}: unpacking was cancelled; nothing was installed")
        data = self.handle.read(size)
        self.done += len(data)
        if self.on_read is not None:
            self.on_read(self.done, self.size)
        return data

    def __getattr__(self, name: str):  # seek, tell, ... for zipfile
        return getattr(self.handle, name)

    def close(self) -> None:
        self.handle.close()


def _untar(counter: _Counter, kind: str, dest: Path, limits: Limits) -> list[Written]:
    mode = "r|gz" if kind == "tar.gz" else "r|"
    written: dict[str, Written] = {}
    total = 0
    with tarfile.open(fileobj=counter, mode=mode) as tar:  # type: ignore[call-overload]
        for count, member in enumerate(tar, start=1):
            relpath = safe_relpath(member.name, counter.name)
            if member.isdir():
                (dest / relpath).mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                kind_name = "a link" if member.issym() or member.islnk() else "not a plain file"
                raise UnsafeArchive(f"{counter.name}: {member.name} is {kind_name}; refused")
            total += member.size
            _check_sizes(counter.name, member.name, member.size, total, count, limits)
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has content
            written[relpath] = _write(dest, relpath, source, member.size, limits)
    return list(written.values())


def _unzip(counter: _Counter, dest: Path, limits: Limits) -> list[Written]:
    written: dict[str, Written] = {}
    total = 0
    with zipfile.ZipFile(counter) as archive:  # type: ignore[arg-type]
        for count, info in enumerate(archive.infolist(), start=1):
            relpath = safe_relpath(info.filename, counter.name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"{counter.name}: {info.filename} is a link; refused")
            if info.is_dir():
                (dest / relpath).mkdir(parents=True, exist_ok=True)
                continue
            total += info.file_size
            _check_sizes(counter.name, info.filename, info.file_size, total, count, limits)
            written[relpath] = _write(dest, relpath, archive.open(info), info.file_size, limits)
    return list(written.values())


def safe_relpath(name: str, archive: str) -> str:
    """The member's path inside the pack folder, or UnsafeArchive if it would leave it."""
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\0" in name
        or path.is_absolute()
        or ".." in path.parts
        or (path.parts and path.parts[0].endswith(":"))
    ):
        raise UnsafeArchive(f"{archive}: member {name!r} would land outside the pack; refused")
    relpath = "/".join(part for part in path.parts if part != ".")
    if not relpath:
        raise UnsafeArchive(f"{archive}: member {name!r} has no usable name; refused")
    return relpath


def _check_sizes(archive: str, name: str, size: int, total: int, count: int, limits: Limits):
    if size > limits.member_bytes:
        raise UnsafeArchive(
            f"{archive}: {name} claims {size} bytes, over the {limits.member_bytes}-byte limit"
        )
    if total > limits.total_bytes or count > limits.members:
        raise UnsafeArchive(
            f"{archive}: unpacks to more than {limits.total_bytes} bytes or {limits.members} "
            "files; refused"
        )


def _write(dest: Path, relpath: str, source: BinaryIO, size: int, limits: Limits) -> Written:
    target = dest / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    with source, target.open("wb") as out:
        while block := source.read(min(CHUNK_BYTES, size - done + 1)):
            done += len(block)
            if done > size or done > limits.member_bytes:
                raise UnsafeArchive(f"{relpath}: holds more than the {size} bytes it declares")
            digest.update(block)
            out.write(block)
    if done != size:
        raise PackError(f"{relpath}: {done} bytes where {size} were declared (a broken archive)")
    return Written(relpath, size, digest.hexdigest())
