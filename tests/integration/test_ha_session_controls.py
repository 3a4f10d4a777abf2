"""Re-take, skip and cancel, and a satellite that disconnects, against a real Home Assistant
Core 2025.4.4 with the emulated Wyoming satellite (tests/fakes/wyoming_satellite.py).

The controls go through the panel's HTTP API and the add-on's session (takes filed in the real
sample library, a re-taken one deleted from it). Overflow, and a satellite that Home Assistant
shows as unavailable, cannot happen here: see test_satellite_failures.py (websocket fake).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import pytest

from addon.app import create_app
from addon.settings import Settings
from mww_trainer.satellite.client import HomeAssistant, connect
from mww_trainer.satellite.errors import NoAudio
from mww_trainer.satellite.session import Runner, SessionSpec, Target
from tests.fakes.home_assistant import free_port
from tests.fakes.wyoming_satellite import SatelliteEmulator, utterance

pytestmark = [pytest.mark.home_assistant, pytest.mark.asyncio]


async def until(client, check, what: str, timeout_s: float = 30.0) -> dict:
    """The session's status once check(status) holds."""
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    while time.monotonic() < deadline:
        status = await (await client.get("/api/satellites/session")).json()
        if check(status):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {status}")


def at_take(n: int, stored: int):
    def check(status):
        session = status["session"] or {}
        current = session.get("current") or {}
        return current.get("n") == n and len(session.get("takes", [])) == stored

    return check


async def test_retake_skip_and_cancel_from_the_panel(aiohttp_client, satellite_home, tmp_path):
    core = satellite_home.core
    settings = Settings(
        data_dir=tmp_path / "data", homeassistant_url=core.url, homeassistant_token=core.token
    )
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/projects", json={"phrase": "hey computer"})).status == 201
    body = {"satellites": [satellite_home.entity_id], "count": 3, "timeout_s": 10}
    started = await client.post("/api/projects/hey_computer/satellite-session", json=body)
    assert started.status == 202, await started.text()
    speak = satellite_home.satellite.stream_in_background

    async def samples() -> list[dict]:
        answer = await client.get("/api/projects/hey_computer/samples")
        return (await answer.json())["samples"]

    await until(client, at_take(1, 0), "take 1")
    await asyncio.wrap_future(speak(utterance(0)))
    first = (await until(client, at_take(2, 1), "take 2"))["session"]["takes"][0]
    assert [s["id"] for s in await samples()] == [first["sample_id"]]

    # Re-take the last: take 1 leaves the library and is recorded again.
    await client.post("/api/satellites/session/retake")
    await until(client, at_take(1, 0), "take 1 again")
    assert await samples() == []
    await asyncio.wrap_future(speak(utterance(1)))
    again = (await until(client, at_take(2, 1), "take 2 again"))["session"]["takes"][0]
    assert again["n"] == 1 and again["sample_id"] != first["sample_id"]

    # Skip take 2: take 3 starts, and the skip is kept in the session's state.
    await client.post("/api/satellites/session/skip")
    status = await until(client, at_take(3, 1), "take 3")
    assert status["session"]["skipped"] == [{"entity_id": satellite_home.entity_id, "n": 2}]

    # Cancel while take 3 listens: the session ends at once and keeps what it stored.
    cancelled_at = time.monotonic()
    await client.post("/api/satellites/session/cancel")
    status = await until(client, lambda s: not s["running"], "the session to end", 10)
    assert time.monotonic() - cancelled_at < 3
    session = status["session"]
    assert (session["state"], session["error"], session["current"]) == ("cancelled", None, None)
    assert [t["n"] for t in session["takes"]] == [1]
    (sample,) = await samples()
    assert (sample["id"], sample["source"], sample["label"]) == (
        again["sample_id"],
        "satellite",
        "positive",
    )
    refused = await client.post("/api/satellites/session/skip")
    assert refused.status == 409
    assert (await refused.json())["error"] == "no satellite session is recording"


@pytest.fixture
def porch(satellite_home, wyoming_thread):
    """A second emulated satellite on the session's Home Assistant, to unplug; removed after."""
    core = satellite_home.core
    satellite = SatelliteEmulator(wyoming_thread, free_port(), "Porch satellite").start()
    entry = core.add_entry("wyoming", {"host": "127.0.0.1", "port": satellite.port})
    entry_id = entry["result"]["entry_id"]
    if not satellite.running.wait(30):
        raise AssertionError(f"Home Assistant never ran the satellite: {core.log_tail(1500)}")
    entities = asyncio.run(core.ws("config/entity_registry/list"))
    (entity,) = [
        e
        for e in entities
        if e["entity_id"].startswith("assist_satellite.") and e["config_entry_id"] == entry_id
    ]
    yield satellite, Target(entity["entity_id"], entity["device_id"], "Porch satellite")
    satellite.stop()
    core.request("DELETE", f"/api/config/config_entries/entry/{entry_id}")


async def test_a_wyoming_satellite_that_disconnects_mid_session(satellite_home, porch):
    """2025.4 keeps a disconnected Wyoming satellite `idle`: the take it was saying ends early
    and is flagged cut off, then no audio comes, and the session ends saying what to check."""
    satellite, target = porch
    core = satellite_home.core
    spec = SessionSpec(
        targets=(target,),
        label="positive",
        phrases=("hey computer",),
        count=4,
        timeout_s=3,
        pause_s=0,
    )
    stored, events = [], []

    async def store(take):
        stored.append(take)
        return {"id": len(stored)}

    async def user():
        async def started(n: int) -> None:
            while sum(e["type"] == "take_started" for e in events) < n:
                await asyncio.sleep(0.05)

        await started(1)
        await asyncio.wrap_future(satellite.stream_in_background(utterance(2)))
        await started(2)
        speaking = satellite.stream_in_background(np.concatenate([utterance(3), utterance(3)]))
        await asyncio.sleep(1.0)  # mid-phrase: the run starts (0.3 s), 0.3 s of quiet, the burst
        await asyncio.to_thread(satellite.stop)
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(speaking)

    async with connect(HomeAssistant(core.url, core.token)) as client:
        runner = Runner(client, spec, store, discard=None, emit=events.append)
        with pytest.raises(NoAudio) as ended:
            await asyncio.gather(runner.run(), user())
    message = str(ended.value)
    assert message.startswith("Porch satellite: no audio within 3 s: the satellite did not listen")
    assert "check that it is on and connected (Home Assistant still shows a Wyoming" in message
    assert message.endswith("(3 takes in a row failed)")
    assert stored[0].check.problems == ()
    assert "cut_off" in stored[1].check.problems  # (and too short, as a rule)
    assert stored[1].check.captured_s < 1.2
    assert [e["kind"] for e in events if e["type"] == "take_failed"] == ["no_audio"] * 3
    assert core.state(target.entity_id)["state"] == "idle"  # never unavailable on 2025.4
