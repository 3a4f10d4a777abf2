"""How long each preset will train on this machine, from the speed of its earlier jobs.

Speed is measured in clips per second (steps x batch size / training seconds) so that a
fast_test job (batch 32) can predict a standard one (batch 128); the rest of a job (reading
clips, features, export, evaluation) is its measured overhead. Without a finished job the
figures are a rough default for a small CPU, and say so.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from addon.store import Job
from mww_trainer.config import PRESET_NAMES, deep_merge, load_preset_dict

DEFAULT_CLIPS_PER_S = 400.0  # a two-core CPU, roughly
DEFAULT_OVERHEAD_S = 180.0  # reading clips, features, export, held-out evaluation
MEASURED_JOBS = 5  # the most recent finished training jobs that count


@dataclass(frozen=True)
class Speed:
    clips_per_s: float
    overhead_s: float
    jobs: int  # how many finished jobs it was measured on; 0: the rough default

    @classmethod
    def from_jobs(cls, jobs: Iterable[Job]) -> Speed:
        """The median speed of the latest finished training jobs (newest first)."""
        rates, overheads = [], []
        for job in jobs:
            measured = _job_speed(job)
            if measured is not None:
                rates.append(measured[0])
                overheads.append(measured[1])
            if len(rates) == MEASURED_JOBS:
                break
        if not rates:
            return cls(DEFAULT_CLIPS_PER_S, DEFAULT_OVERHEAD_S, 0)
        return cls(statistics.median(rates), statistics.median(overheads), len(rates))


def _job_speed(job: Job) -> tuple[float, float] | None:
    """(clips per second, seconds outside training) of a succeeded training job, if known."""
    result = job.result or {}
    if job.kind != "train" or job.state != "succeeded":
        return None
    steps = result.get("steps", 0) - result.get("resumed_from", 0)
    train_s, total_s = result.get("train_seconds"), result.get("seconds")
    if not (isinstance(steps, int) and steps > 0 and isinstance(train_s, int | float)):
        return None
    if train_s <= 0:
        return None
    try:
        _, batch = preset_shape(job.spec.get("preset", ""), job.spec.get("overrides") or {})
    except (KeyError, TypeError, ValueError):
        return None
    overhead = max(0.0, total_s - train_s) if isinstance(total_s, int | float) else 0.0
    return steps * batch / train_s, overhead


def preset_shape(preset: str, overrides: dict[str, Any] | None = None) -> tuple[int, int]:
    """(total training steps, batch size) of a preset with the job's overrides."""
    if preset not in PRESET_NAMES:
        raise ValueError(f"unknown preset {preset!r}")
    training = deep_merge(load_preset_dict(preset), overrides or {})["training"]
    return int(sum(training["training_steps"])), int(training["batch_size"])


def estimate(preset: str, speed: Speed) -> dict[str, Any]:
    steps, batch = preset_shape(preset)
    seconds = steps * batch / speed.clips_per_s + speed.overhead_s
    if speed.jobs:
        basis = f"from {speed.jobs} earlier training job{'s' if speed.jobs > 1 else ''} here"
    else:
        basis = "a rough guess: no training job has finished on this machine yet"
    return {
        "preset": preset,
        "seconds": round(seconds),
        "text": f"about {duration_text(seconds)}",
        "measured": bool(speed.jobs),
        "basis": basis,
    }


def estimates(jobs: Iterable[Job]) -> dict[str, Any]:
    """Every preset's estimate, as `GET /api/train/estimates` serves it."""
    speed = Speed.from_jobs(jobs)
    return {
        "estimates": {p: estimate(p, speed) for p in PRESET_NAMES},
        "clips_per_s": round(speed.clips_per_s, 1),
        "measured_jobs": speed.jobs,
    }


def duration_text(seconds: float) -> str:
    """'4 min', '1 h 40 min', '12 h'."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 10:
        return f"{round(minutes / 60)} h"
    rest = 10 * round(rest / 10)
    if rest == 60:
        hours, rest = hours + 1, 0
    return f"{hours} h {rest} min" if rest else f"{hours} h"
