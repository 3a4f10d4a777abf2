"""Keeping the data folder sound: a full disk named as such, half-written files swept away."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# What a log or an error says when the disk filled up (OSError, SQLite).
DISK_FULL_SIGNS = ("No space left on device", "[Errno 28]", "database or disk is full")
LOW_DISK_BYTES = 64 * 2**20  # below this much free space a failed job is put down to a full disk
# Half-written files that atomic writers leave behind when their process dies mid-write.
PARTIAL_SUFFIXES = (".tmp", ".partial", ".resize")


def disk_full_reason(log_path: Path) -> str | None:
    """'disk full: ...' when a worker's log says so or its disk is nearly full, else None."""
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 16384))
            tail = log.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    try:
        free = shutil.disk_usage(log_path.parent).free
    except OSError:
        free = None
    if not any(sign in tail for sign in DISK_FULL_SIGNS) and (
        free is None or free >= LOW_DISK_BYTES
    ):
        return None
    shown = "" if free is None else f" ({free / 2**20:.0f} MiB free now)"
    return (
        f"disk full: the data folder's disk ran out of space during this job{shown}; "
        "free some space, then start it again"
    )


def sweep_partial_files(folders: list[Path]) -> int:
    """Removes hidden half-written files (.name.*.tmp / .partial / .resize); returns how many."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*"):
            if path.name.endswith(PARTIAL_SUFFIXES) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
