"""Progress events: the contract between the library's long stages and whoever shows them.

Stages report through a plain callback so the CLI can print a line and the add-on
can append JSON lines to a job's progress.jsonl; neither side imports the other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # e.g. "features", "train", "export", "verify"
    done: int = 0
    total: int = 0
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    time_s: float = field(default_factory=time.time)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


ProgressCallback = Callable[[ProgressEvent], None]


def ignore_progress(_event: ProgressEvent) -> None:
    """The default callback: nobody is watching."""


class JsonlProgressWriter:
    """Appends each event as one JSON line; the file is the job's progress record."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __call__(self, event: ProgressEvent) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(event.to_json() + "\n")
            handle.flush()
