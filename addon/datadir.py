"""One server per data folder: an exclusive lock taken before anything in it is touched.

Start-up clears the folder's tmp/ and recovers jobs left running (it stops their workers); a
second server on the same folder would do that to the first one's uploads and jobs. The lock
is an flock on `<data>/lock`: the kernel drops it when the holder dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

LOCK_NAME = "lock"


class DataDirInUse(RuntimeError):
    """Another server holds the data folder; the message names it and what to do."""


def lock_data_dir(data_dir: Path) -> int:
    """The descriptor holding the folder's exclusive lock (close it to let go)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DataDirInUse(
            f"{data_dir} is in use by another mww-trainer (pid {holder}); stop that one first, "
            "or give this one another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def data_dir_lock(data_dir: Path) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that holds the lock for the application's lifetime."""

    async def hold(app: web.Application) -> AsyncIterator[None]:
        fd = lock_data_dir(data_dir)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    return hold
