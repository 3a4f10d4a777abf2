"""Progress events: the contract between the library's long stages and whoever shows them.

Stages report through a plain callback so the CLI can print a line and the add-on
can append JSON lines to a job's progress.jsonl; neither side imports the other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Stage(StrEnum):
    """The stages a reader acts on: the add-on's progress and time left, the panel's bars.
    Data preparation also reports under descriptive names ("positive clips", "val ambient")."""

    START = "start"
    RESTART = "restart"
    END = "end"
    SYNTH = "synth"
    INGEST = "ingest"
    FEATURES = "features"
    DATASET = "dataset"
    COMPUTE = "compute"
    TRAIN = "train"
    STOPPED = "stopped"  # training ended early (training.early_stop_steps): done = total
    VALIDATE = "validate"
    MINING = "mining"
    EXPORT = "export"
    EVALUATE = "evaluate"


# The stages that count training steps (done/total are steps).
TRAINING_STAGES = (Stage.TRAIN, Stage.VALIDATE, Stage.MINING, Stage.STOPPED)


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # a Stage, or a descriptive name for data preparation
    done: int = 0
    total: int = 0
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    time_s: float = field(default_factory=time.time)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stage": str(self.stage)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgressEvent:
        """An event read back from progress.jsonl: keys it does not know are left out (a newer
        worker may add some), missing ones are empty; a stage of Stage's comes back as one."""
        stage = str(data.get("stage") or "")
        return cls(
            Stage(stage) if stage in Stage._value2member_map_ else stage,
            int(data.get("done") or 0),
            int(data.get("total") or 0),
            str(data.get("message") or ""),
            dict(data.get("metrics") or {}),
            float(data.get("time_s") or 0.0),
        )


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
