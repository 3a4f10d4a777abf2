"""A job's progress as the panel shows it: tailing progress.jsonl, the summary, and fan-out.

`ProgressTail` reads only complete lines past a byte offset (the offset is stored with the
events, so a restart neither loses nor repeats one). `Progress` folds events into what the
panel needs: stage, step, ETA, loss, the latest validation metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mww_trainer.progress import TRAINING_STAGES, ProgressEvent, Stage

_LOGGER = logging.getLogger(__name__)
MAX_READ_BYTES = 4 << 20  # per poll; the rest is read at the next one


class ProgressTail:
    def __init__(self, path: Path, offset: int = 0):
        self.path, self.offset = Path(path), offset

    def read_new(self) -> tuple[list[dict[str, Any]], int]:
        """Events in the complete lines written since the last call, and the new offset."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(MAX_READ_BYTES)
        except FileNotFoundError:
            return [], self.offset
        end = chunk.rfind(b"\n")
        if end < 0:
            return [], self.offset
        events = []
        for line in chunk[: end + 1].splitlines():
            try:  # the typed boundary: what the worker wrote, checked as a ProgressEvent
                events.append(ProgressEvent.from_dict(json.loads(line)).to_dict())
            except (
                json.JSONDecodeError,
                UnicodeDecodeError,
                AttributeError,
                TypeError,
                ValueError,
            ):
                _LOGGER.warning("%s: skipping a line that is not a progress event", self.path)
        self.offset += end + 1
        return events, self.offset


@dataclass
class Progress:
    """The running summary of one job's events."""

    stage: str = ""
    message: str = ""
    done: int = 0
    total: int = 0
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    accuracy: float | None = None
    validation: dict[str, float] = field(default_factory=dict)
    eta_s: float | None = None
    _run_start: tuple[float, int] | None = None  # (time, step) of the current run's first step

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> Progress:
        progress = cls()
        for event in events:
            progress.add(event)
        return progress

    def add(self, data: dict[str, Any]) -> None:
        event = ProgressEvent.from_dict(data)
        stage = event.stage
        self.stage, self.message = str(stage), event.message
        self.done, self.total = event.done, event.total
        metrics = event.metrics
        if stage in (Stage.START, Stage.RESTART):
            self._run_start, self.eta_s = None, None
        if stage not in TRAINING_STAGES:
            return
        self.step, self.total_steps = self.done, self.total
        if stage == Stage.TRAIN:
            self.loss = metrics.get("loss", self.loss)
            self.accuracy = metrics.get("accuracy", self.accuracy)
        elif stage == Stage.VALIDATE:
            self.validation = dict(metrics)
        now = event.time_s
        if self._run_start is None:
            self._run_start = (now, self.step)
            return
        started_s, first_step = self._run_start
        if self.step > first_step and now > started_s:
            rate = (self.step - first_step) / (now - started_s)
            self.eta_s = round(max(self.total_steps - self.step, 0) / rate, 1)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "message": self.message,
            "done": self.done,
            "total": self.total,
            "fraction": round(self.fraction, 4),
            "step": self.step,
            "total_steps": self.total_steps,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "validation": self.validation,
            "eta_s": self.eta_s,
        }


class Broadcaster:
    """Fan-out of JSON messages to websocket subscribers; a slow one misses messages, not RAM."""

    def __init__(self, queue_size: int = 256):
        self._queues: set[asyncio.Queue] = set()
        self._queue_size = queue_size

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._queues.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        for queue in self._queues:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                _LOGGER.debug("a subscriber is behind; it misses a message")

    @property
    def subscribers(self) -> int:
        return len(self._queues)
