"""Samples deleted in bulk wait, with their rows, in the project's `deleted/` folder for one undo.

Only the latest delete of a project can be undone: the next one empties the folder first. The
folder is outside `dataset/`, so training never sees what waits there. Everything here blocks
(file moves): callers run it in a thread.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from addon.store import Sample

FOLDER = "deleted"
ROWS_FILE = "samples.json"
TOKEN_PATTERN = re.compile(r"[0-9a-f]{16}")


def set_aside(root: Path, token: str, samples: list[Sample]) -> None:
    """Keeps the rows for an undo (dropping the previous delete's); call before deleting them."""
    shutil.rmtree(root / FOLDER, ignore_errors=True)
    batch = root / FOLDER / token
    batch.mkdir(parents=True)
    rows = [s.to_dict() for s in samples]
    (batch / ROWS_FILE).write_text(json.dumps(rows), encoding="utf-8")


def move_files(root: Path, token: str, samples: list[Sample]) -> None:
    """Moves the deleted samples' audio out of the dataset into the undo folder."""
    batch = root / FOLDER / token
    for sample in samples:
        _move(root / sample.path, batch / sample.path)


def take_back(root: Path, token: str) -> list[Sample] | None:
    """Moves the audio of an undone delete back; its rows (those whose audio is back), or None
    when `token` is not the latest delete."""
    batch = root / FOLDER / token
    try:
        rows = json.loads((batch / ROWS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    back = []
    for row in rows:
        sample = Sample(**{**row, "flags": tuple(row["flags"])})
        if (batch / sample.path).is_file():
            _move(batch / sample.path, root / sample.path)
            back.append(sample)
    shutil.rmtree(batch, ignore_errors=True)
    return back


def _move(source: Path, target: Path) -> None:
    if not source.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    folder = source.parent  # drop the speaker folder once it is empty
    if not any(folder.iterdir()):
        folder.rmdir()
