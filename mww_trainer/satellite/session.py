"""A guided recording session: for each satellite, N takes of one kind, prompted or not.

Each take opens a capture of the satellite, prompts it beside the capture (or waits for the user
to wake a satellite that cannot be prompted), collects audio until Home Assistant ends the
capture, judges the take and hands it to `store`. Progress goes to `on_event` as small dicts;
`Controls` lets the caller re-take, skip or cancel. Errors that end the session (Home Assistant
gone, token refused, not an admin) propagate; errors of one take are reported and the take is
tried again, up to MAX_FAILURES in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mww_trainer.satellite.capture import CaptureRequest, open_capture
from mww_trainer.satellite.client import Client
from mww_trainer.satellite.errors import (
    DeviceBusy,
    NoAudio,
    Overflow,
    PromptFailed,
    SatelliteError,
    SatelliteOffline,
    TakeRejected,
)
from mww_trainer.satellite.prompt import Prompt, ask, prompt_text
from mww_trainer.satellite.takes import TakeCheck, check_take

SESSION_LABELS = ("positive", "negative", "hard_negative")
MAX_FAILURES = 3  # failed takes in a row on one satellite before the session gives up
LEVEL_EVERY_S = 0.1
TAKE_ERRORS = (NoAudio, Overflow, DeviceBusy, PromptFailed, TakeRejected)


@dataclass(frozen=True)
class Target:
    """One satellite of a session, as the listing described it."""

    entity_id: str
    device_id: str
    name: str
    area: str | None = None
    prompt: str = "manual"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(
            **{k: data.get(k) for k in ("entity_id", "device_id", "name", "area")},
            prompt=data.get("prompt") or "manual",
        )


@dataclass(frozen=True, kw_only=True)
class SessionSpec:
    targets: tuple[Target, ...]
    label: str  # positive (the wake word), negative (other speech), hard_negative (sound-alikes)
    phrases: tuple[str, ...]  # the wake word, or the sound-alikes taken in turn
    count: int  # takes per satellite
    speaker: str | None = None
    timeout_s: float = 15.0  # one capture
    pause_s: float = 1.0  # between takes

    def __post_init__(self) -> None:
        problems = []
        if self.label not in SESSION_LABELS:
            problems.append(f"kind: {self.label!r} is not one of {', '.join(SESSION_LABELS)}")
        if not self.targets:
            problems.append("satellites: pick at least one")
        if not (isinstance(self.count, int) and 1 <= self.count <= 500):
            problems.append(f"count: {self.count!r} is not allowed (1-500 takes per satellite)")
        if self.label != "negative" and not any(p.strip() for p in self.phrases):
            problems.append("phrases: give at least one phrase to say")
        if not 1 <= self.timeout_s <= 60:
            problems.append(f"timeout_s: {self.timeout_s!r} is not allowed (1-60 s)")
        if problems:
            raise ValueError("; ".join(problems))

    def phrase(self, index: int) -> str:
        phrases = [p for p in self.phrases if p.strip()] or [""]
        return phrases[index % len(phrases)]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": [asdict(t) for t in self.targets]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSpec:
        fields = {
            k: data[k] for k in ("label", "count", "speaker", "timeout_s", "pause_s") if k in data
        }
        return cls(
            targets=tuple(Target.from_dict(t) for t in data.get("targets", [])),
            phrases=tuple(data.get("phrases", ())),
            **fields,
        )


@dataclass
class Controls:
    """What the user asks for while a take records; the session reads and clears it."""

    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)  # skip or re-take now
    action: str | None = None  # "skip" or "retake"

    def request(self, action: str) -> None:
        if action == "cancel":
            self.cancelled.set()
            self.interrupt.set()
        else:
            self.action = action
            self.interrupt.set()


@dataclass(frozen=True)
class Take:
    target: Target
    index: int  # 0-based per satellite
    phrase: str
    check: TakeCheck


Store = Callable[[Take], Awaitable[dict[str, Any]]]
Discard = Callable[[Target, int], Awaitable[None]]
Emit = Callable[[dict[str, Any]], None]


@dataclass
class Runner:
    client: Client
    spec: SessionSpec
    store: Store
    discard: Discard
    emit: Emit
    controls: Controls = field(default_factory=Controls)
    done: dict[str, int] = field(default_factory=dict)  # takes stored per entity (resuming)

    async def run(self) -> None:
        # The first satellite with takes to go, each time: a re-take can send the session
        # back to the satellite before.
        while (target := self._next_target()) is not None:
            if self.controls.cancelled.is_set():
                return
            await self._one(target)
            if self.spec.pause_s:
                await _sleep_unless(self.controls.cancelled, self.spec.pause_s)

    def _next_target(self) -> Target | None:
        waiting = (t for t in self.spec.targets if self.done.get(t.entity_id, 0) < self.spec.count)
        return next(waiting, None)

    def _last_take(self, target: Target, index: int) -> tuple[Target, int] | None:
        """The take before take ``index`` of ``target``: its own, or the last of the
        satellite before it in the session."""
        if index > 0:
            return target, index - 1
        order = [t.entity_id for t in self.spec.targets]
        for before in reversed(self.spec.targets[: order.index(target.entity_id)]):
            if self.done.get(before.entity_id, 0) > 0:
                return before, self.done[before.entity_id] - 1
        return None

    async def _one(self, target: Target) -> None:
        failures = 0
        while True:
            index = self.done.get(target.entity_id, 0)
            try:
                take = await self._record(target, index)
                sample = await self.store(take) if take is not None else None
            except TAKE_ERRORS as err:
                failures += 1
                self.emit(
                    {
                        "type": "take_failed",
                        "entity_id": target.entity_id,
                        "n": index + 1,
                        "kind": err.kind,
                        "message": str(err),
                    }
                )
                if self.controls.cancelled.is_set():
                    return
                if failures >= MAX_FAILURES:
                    raise type(err)(f"{err} ({failures} takes in a row failed)") from None
                continue
            if take is None:  # skipped, re-taken or cancelled while recording
                return
            self.done[target.entity_id] = index + 1
            self.emit(
                {
                    "type": "take_stored",
                    "entity_id": target.entity_id,
                    "n": index + 1,
                    "of": self.spec.count,
                    "problems": list(take.check.problems),
                    "summary": take.check.summary,
                    "sample": sample,
                }
            )
            return

    async def _record(self, target: Target, index: int) -> Take | None:
        await self._check_online(target)
        phrase = self.spec.phrase(index)
        message = prompt_text(self.spec.label, phrase)
        request = CaptureRequest(target.device_id, target.name, self.spec.timeout_s)
        capture = await open_capture(self.client, request)
        prompt = Prompt(target.entity_id, target.prompt, message, phrase or None)
        self.emit(
            {
                "type": "take_started",
                "entity_id": target.entity_id,
                "name": target.name,
                "n": index + 1,
                "of": self.spec.count,
                "prompt": message,
                "mode": target.prompt,
            }
        )
        level = _LevelMeter(lambda db: self.emit({"type": "level", "dbfs": db}))
        collecting = asyncio.create_task(capture.collect(level.feed))
        asking = asyncio.create_task(ask(self.client, prompt))
        interrupted = asyncio.create_task(self.controls.interrupt.wait())
        try:
            waiting = {collecting, interrupted, asking}
            while not collecting.done():
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if interrupted.done():
                    return await self._interrupted(target, index, capture, collecting)
                if asking in done and asking.exception() is not None:
                    raise asking.exception()  # refused before the satellite listened
            # A satellite that dropped off ends the capture early (or leaves it empty): the
            # take is not kept, and the session stops with why.
            await self._check_online(target)
            captured = collecting.result()
        finally:
            for task in (collecting, asking, interrupted):
                task.cancel()
            await asyncio.gather(collecting, asking, interrupted, return_exceptions=True)
        check = await asyncio.to_thread(check_take, captured.audio, self.spec.label)
        return Take(target, index, phrase, check)

    async def _interrupted(self, target, index, capture, collecting) -> None:
        action, self.controls.action = self.controls.action, None
        self.controls.interrupt.clear()
        collecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, SatelliteError):
            await collecting
        await capture.close()
        await self._apply(action, target, index)

    async def _apply(self, action: str | None, target: Target, index: int) -> None:
        """What the user asked for while take ``index`` of ``target`` was recording."""
        if action == "skip":
            self.done[target.entity_id] = index + 1
            self.emit({"type": "take_skipped", "entity_id": target.entity_id, "n": index + 1})
        elif action == "retake" and (last := self._last_take(target, index)) is not None:
            owner, taken = last
            await self.discard(owner, taken)
            self.done[owner.entity_id] = taken
            self.emit({"type": "take_discarded", "entity_id": owner.entity_id, "n": taken + 1})
        return None

    async def _check_online(self, target: Target) -> None:
        states = await self.client.command("get_states")
        state = next((s for s in states if s.get("entity_id") == target.entity_id), None)
        if state is None or state.get("state") in ("unavailable", "unknown"):
            raise SatelliteOffline(
                f"{target.name} is offline (Home Assistant shows {target.entity_id} as "
                f"{state.get('state') if state else 'missing'}); the takes so far are kept: "
                "check its power and network, then start the session again"
            )


class _LevelMeter:
    """RMS level of the audio as it arrives, reported at most every LEVEL_EVERY_S."""

    def __init__(self, report: Callable[[float], None]):
        self._report, self._pending, self._samples = report, [], 0

    def feed(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._samples += len(chunk) // 2
        if self._samples >= 16000 * LEVEL_EVERY_S:
            audio = np.frombuffer(b"".join(self._pending), dtype="<i2").astype(np.float64)
            rms = math.sqrt(float(np.mean(audio**2))) if len(audio) else 0.0
            self._report(round(20 * math.log10(max(rms, 1.0) / 32768), 1))
            self._pending, self._samples = [], 0


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
