"""Re-take means the take before, even across satellites: on the first take of the kitchen, it
is the living room's last one, and the session goes back there before going on."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from mww_trainer.satellite.session import Runner, SessionSpec, Take, Target

LIVING = Target("assist_satellite.living", "dev-living", "Living room")
KITCHEN = Target("assist_satellite.kitchen", "dev-kitchen", "Kitchen")


class ScriptedRunner(Runner):
    """The session's order and controls, with each take's recording replaced by a script:
    None records a good take, "retake"/"skip" is what the user pressed during it."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script, self.recorded = list(script), []

    async def _record(self, target, index):
        self.recorded.append((target.name, index))
        action = self.script.pop(0)
        if action is not None:
            await self._apply(action, target, index)
            return None
        return Take(target, index, "hey computer", SimpleNamespace(problems=(), summary="ok"))


def _run(script, count=1):
    stored, discarded, events = [], [], []

    async def store(take):
        stored.append((take.target.name, take.index))
        return {"id": len(stored)}

    async def discard(target, index):
        discarded.append((target.name, index))

    spec = SessionSpec(
        targets=(LIVING, KITCHEN),
        label="positive",
        phrases=("hey computer",),
        count=count,
        pause_s=0,
    )
    runner = ScriptedRunner(
        script, client=None, spec=spec, store=store, discard=discard, emit=events.append
    )
    asyncio.run(runner.run())
    return runner, stored, discarded, events


def test_a_retake_on_the_next_satellites_first_take_redoes_the_one_before():
    runner, stored, discarded, events = _run([None, "retake", None, None])
    assert runner.recorded == [
        ("Living room", 0),
        ("Kitchen", 0),
        ("Living room", 0),
        ("Kitchen", 0),
    ]
    assert discarded == [("Living room", 0)]
    assert stored == [("Living room", 0), ("Living room", 0), ("Kitchen", 0)]
    (gone,) = [e for e in events if e["type"] == "take_discarded"]
    assert (gone["entity_id"], gone["n"]) == (LIVING.entity_id, 1)


def test_a_retake_within_one_satellite_and_a_skip():
    runner, stored, discarded, _ = _run([None, "retake", None, None, "skip", None], count=2)
    assert discarded == [("Living room", 0)]
    assert stored == [("Living room", 0), ("Living room", 0), ("Living room", 1), ("Kitchen", 1)]
    assert runner.done == {LIVING.entity_id: 2, KITCHEN.entity_id: 2}  # the skip counts


def test_a_retake_on_the_very_first_take_records_it_again():
    _, stored, discarded, _ = _run(["retake", None, None])
    assert discarded == [] and stored == [("Living room", 0), ("Kitchen", 0)]
