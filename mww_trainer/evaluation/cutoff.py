"""The cutoff a model ships with, and where it came from: one rule for training, export and
evaluation.

A cutoff is pinned by the user (``export.probability_cutoff``), measured on validation (the
sweep's recommendation at the FA/h target), or a fallback when nothing could be measured. The
fallback is a guess, so it is never silent: `Cutoff.warning` says so, and the training result,
mww-export and the panel repeat it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mww_trainer.evaluation.sweep import Sweep, recommend
from mww_trainer.fileio import atomic_write_text

# Used when no ambient audio was there to measure a cutoff on.
FALLBACK_CUTOFF = 0.97
# Written beside the chosen checkpoint: what export needs to know about it.
OPERATING_POINT_NAME = "operating_point.json"


class CutoffSource(StrEnum):
    CONFIGURED = "configured"
    MEASURED = "measured"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class Cutoff:
    value: float
    source: CutoffSource

    @property
    def warning(self) -> str | None:
        if self.source is not CutoffSource.FALLBACK:
            return None
        return (
            f"no cutoff could be measured (validation had no other speech): the model uses the "
            f"fallback cutoff {self.value}, which may wake too often or too rarely; add other "
            "speech and train again, or set export.probability_cutoff"
        )


def _rule(
    configured: float | None,
    measured: float | None,
    source: CutoffSource = CutoffSource.MEASURED,
) -> Cutoff:
    """The one rule: pinned, else measured, else the fallback."""
    if configured is not None:
        return Cutoff(configured, CutoffSource.CONFIGURED)
    if measured is None:
        return Cutoff(FALLBACK_CUTOFF, CutoffSource.FALLBACK)
    return Cutoff(float(measured), source)


def choose(
    configured: float | None,
    result: Sweep | None,
    target_fa_per_hour: float,
    max_hard_negative_rate: float = 1.0,
) -> Cutoff:
    """The pinned cutoff, else the one meeting the FA/h target (and the sound-alikes' guard)
    on the sweep, else the fallback."""
    measured = (
        None
        if result is None
        else recommend(result, target_fa_per_hour, max_hard_negative_rate).cutoff
    )
    return _rule(configured, measured)


def from_metrics(configured: float | None, metrics: dict[str, float]) -> Cutoff:
    """The cutoff validation chose for a checkpoint (``metrics["cutoff"]``), if it chose one."""
    return _rule(configured, metrics.get("cutoff"))


def write_operating_point(
    best_path: Path, cutoff: Cutoff, window: int, step: int, metrics: dict[str, float]
) -> Path:
    record = {
        "checkpoint": best_path.name,
        "step": step,
        "cutoff": cutoff.value,
        "cutoff_source": str(cutoff.source),
        "sliding_window_size": window,
        "metrics": metrics,
    }
    return atomic_write_text(
        best_path.parent / OPERATING_POINT_NAME, json.dumps(record, indent=1, default=float) + "\n"
    )


def read_operating_point(checkpoint: Path) -> dict[str, Any]:
    """What training measured for this checkpoint, or {} when it wrote nothing for it."""
    path = Path(checkpoint).parent / OPERATING_POINT_NAME
    if not path.is_file():
        return {}
    point = json.loads(path.read_text())
    return point if point.get("checkpoint") == Path(checkpoint).name else {}


def for_checkpoint(configured: float | None, checkpoint: Path) -> Cutoff:
    """The pinned cutoff, else the one training measured for this checkpoint, else the fallback."""
    point = {} if configured is not None else read_operating_point(checkpoint)
    source = CutoffSource(point.get("cutoff_source", CutoffSource.MEASURED))
    return _rule(configured, point.get("cutoff"), source)
