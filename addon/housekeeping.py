"""Keeping the data folder sound: a full disk named as such, half-written files swept away."""

from __future__ import annotations

import os
import shutil
import time
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


def set_aside_orphans(projects_dir: Path, known: set[str], orphan_dir: Path) -> list[str]:
    """Moves project folders the database does not know into orphan_dir; lines saying where.

    A database that was replaced, emptied or restored from an older backup leaves folders
    behind; a new project of the same name must start empty, not train on their clips.
    """
    moved: list[str] = []
    if not projects_dir.is_dir():
        return moved
    for folder in sorted(projects_dir.iterdir()):
        if folder.name in known or not folder.is_dir():
            continue
        orphan_dir.mkdir(parents=True, exist_ok=True)
        target = orphan_dir / f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(folder, target)
        moved.append(
            f"{folder.relative_to(projects_dir.parent)} -> {target.relative_to(orphan_dir.parent)}"
        )
    return moved
