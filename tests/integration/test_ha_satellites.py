"""Recording through a satellite, against a real Home Assistant Core 2025.4.4.

The satellite and the speech-to-text service are Wyoming emulators (tests/fakes/
wyoming_satellite.py) that Home Assistant's own Wyoming integration drives; captures, the
listing and the failure cases go through Home Assistant's websocket API as the add-on's do.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from mww_trainer.satellite.capture import CaptureRequest, open_capture
from mww_trainer.satellite.client import HomeAssistant, connect
from mww_trainer.satellite.errors import DeviceBusy, NoAudio, TokenRefused, Unreachable
from mww_trainer.satellite.listing import list_satellites
from mww_trainer.satellite.session import Runner, SessionSpec, Target
from tests.fakes.home_assistant import HomeAssistantCore, add_satellite, free_port
from tests.fakes.wyoming_satellite import utterance

pytestmark = [pytest.mark.home_assistant, pytest.mark.asyncio]


def ha_of(home) -> HomeAssistant:
    return HomeAssistant(home.core.url, home.core.token)


async def test_the_emulated_satellite_is_listed_with_why_it_cannot_be_prompted(satellite_home):
    async with connect(ha_of(satellite_home)) as client:
        assert client.version == "2025.4.4"
        (satellite,) = [
            s for s in await list_satellites(client) if s.entity_id == satellite_home.entity_id
        ]
    assert satellite.device_id == satellite_home.device_id
    assert satellite.integration == "wyoming"
    assert satellite.supported_features == 1  # ANNOUNCE only
    assert satellite.prompt == "manual" and not satellite.can_prompt
    assert satellite.why_not.startswith("Wyoming satellites can only announce")
    assert satellite.available


async def test_the_capture_receives_exactly_what_the_satellite_streamed(satellite_home):
    audio = utterance()
    async with connect(ha_of(satellite_home)) as client:
        request = CaptureRequest(satellite_home.device_id, "Kitchen satellite", 10)
        capture = await open_capture(client, request)
        sending = satellite_home.satellite.stream_in_background(audio)
        got = await capture.collect()
        sending.result(10)
    assert got.audio == audio.tobytes()  # every sample, in order, nothing added
    assert not got.overflow


async def test_a_capture_with_no_pipeline_run_ends_with_no_audio(satellite_home):
    async with connect(ha_of(satellite_home)) as client:
        capture = await open_capture(client, CaptureRequest(satellite_home.device_id, "Kitchen", 1))
        started = time.monotonic()
        with pytest.raises(NoAudio, match="no audio within 1 s: the satellite did not listen"):
            await capture.collect()
    assert time.monotonic() - started < 5


async def test_a_second_capture_of_the_device_makes_the_first_say_busy(satellite_home):
    ha, request = ha_of(satellite_home), CaptureRequest(satellite_home.device_id, "Kitchen", 10)
    async with connect(ha) as first, connect(ha) as second:
        ours = await open_capture(first, request)
        theirs = await open_capture(second, request)
        with pytest.raises(DeviceBusy, match="another capture of this satellite started"):
            await asyncio.wait_for(ours.collect(), 5)
        sending = satellite_home.satellite.stream_in_background(utterance(1))
        assert (await theirs.collect()).audio == utterance(1).tobytes()
        sending.result(10)


async def test_a_refused_token_says_so(satellite_home):
    with pytest.raises(TokenRefused, match="refused the access token"):
        async with connect(HomeAssistant(satellite_home.core.url, "not-a-token")):
            pass


async def test_an_unreachable_home_assistant_says_so():
    with pytest.raises(Unreachable, match=r"cannot reach Home Assistant at http://127\.0\.0\.1"):
        async with connect(HomeAssistant(f"http://127.0.0.1:{free_port()}", "x")):
            pass


async def test_a_session_stores_takes_from_the_satellite(satellite_home):
    spec = SessionSpec(
        targets=(Target(satellite_home.entity_id, satellite_home.device_id, "Kitchen"),),
        label="positive",
        phrases=("hey computer",),
        count=2,
        timeout_s=10,
        pause_s=0,
    )
    stored, events = [], []

    async def store(take):
        stored.append(take)
        return {"id": len(stored)}

    async def feed():  # the user wakes the satellite and speaks, take after take
        for n in range(2):
            while sum(e["type"] == "take_started" for e in events) <= n:
                await asyncio.sleep(0.05)
            await asyncio.wrap_future(satellite_home.satellite.stream_in_background(utterance(n)))

    async with connect(ha_of(satellite_home)) as client:
        runner = Runner(client, spec, store, discard=None, emit=events.append)
        await asyncio.gather(runner.run(), feed())
    assert [t.index for t in stored] == [0, 1]
    for take in stored:
        assert take.check.problems == ()
        assert 1.2 < take.check.duration_s < 1.5  # trimmed to the burst and 0.3 s before it
        assert take.check.captured_s == pytest.approx(2.0, abs=0.01)
    assert [e["n"] for e in events if e["type"] == "take_stored"] == [1, 2]
    assert any(e["type"] == "level" and e["dbfs"] > -30 for e in events)


@pytest.fixture
def own_home_assistant(tmp_path, wyoming_thread):
    """A second Home Assistant of this test's own, to stop in the middle of a session."""
    core = HomeAssistantCore(tmp_path / "ha", free_port())
    core.start()
    core.onboard()
    yield add_satellite(core, wyoming_thread, "Hall satellite")
    core.stop()


async def test_home_assistant_stopped_mid_session_keeps_the_takes_and_says_so(own_home_assistant):
    home = own_home_assistant
    spec = SessionSpec(
        targets=(Target(home.entity_id, home.device_id, "Hall"),),
        label="positive",
        phrases=("hey computer",),
        count=3,
        timeout_s=10,
        pause_s=0,
    )
    stored, events = [], []

    async def store(take):
        stored.append(take)
        if len(stored) == 1:  # Home Assistant goes away after the first take
            await asyncio.to_thread(home.core.stop)
        return {"id": len(stored)}

    async def feed():
        while not any(e["type"] == "take_started" for e in events):
            await asyncio.sleep(0.05)
        await asyncio.wrap_future(home.satellite.stream_in_background(utterance()))

    async with connect(ha_of(home)) as client:
        runner = Runner(client, spec, store, discard=None, emit=events.append)
        with pytest.raises(Unreachable, match=r"closed the connection .* takes stored so far are"):
            await asyncio.gather(runner.run(), feed())
    assert len(stored) == 1
