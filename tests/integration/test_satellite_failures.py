"""Failures a real Home Assistant 2025.4 with an emulated Wyoming satellite cannot produce, against
the websocket fake (tests/fakes/fake_ha_websocket.py):

- overflow: Home Assistant's capture queue holds `timeout x 16000` chunks and is drained as they
  arrive, so a real capture does not overflow on a test machine;
- a satellite going offline: Wyoming satellites stay `idle` in 2025.4 when they disconnect (the
  real-HA test in test_ha_session_controls.py shows what the user sees then); ESPHome satellites
  become `unavailable`, which the fake does.
"""

from __future__ import annotations

import pytest

from mww_trainer.satellite.errors import Overflow, SatelliteOffline
from tests.fakes.fake_ha_websocket import FakeHomeAssistant, record
from tests.fakes.wyoming_satellite import utterance

pytestmark = pytest.mark.asyncio
OVERFLOW = "Living room voice: part of the take was lost (Home Assistant's capture queue overflowed"
OFFLINE = (
    "Living room voice is offline (Home Assistant shows assist_satellite.living_room_voice as "
    "unavailable); the takes so far are kept: check its power and network, then start the "
    "session again"
)


def fake(**failures) -> FakeHomeAssistant:
    return FakeHomeAssistant(version="2025.4.4", audio=utterance().tobytes(), **failures)


async def test_an_overflowed_take_is_not_kept_says_why_and_is_taken_again(aiohttp_server):
    recorded = await record(aiohttp_server, fake(overflow_prompts=(1,)), count=1)
    assert recorded.error is None
    (failed,) = recorded.of("take_failed")
    assert (failed["kind"], failed["n"]) == ("overflow", 1)
    assert failed["message"].startswith(OVERFLOW) and failed["message"].endswith("re-take")
    assert len(recorded.stored) == 1 and recorded.stored[0].check.problems == ()
    assert [e["n"] for e in recorded.of("take_started")] == [1, 1]


async def test_three_overflows_in_a_row_end_the_session_with_the_message(aiohttp_server):
    recorded = await record(aiohttp_server, fake(overflow_prompts=(1, 2, 3)), count=2)
    assert isinstance(recorded.error, Overflow)
    assert str(recorded.error).startswith(OVERFLOW)
    assert str(recorded.error).endswith("(3 takes in a row failed)")
    assert recorded.stored == []


async def test_a_satellite_offline_between_takes_ends_the_session_keeping_the_takes(
    aiohttp_server,
):
    home = fake()

    def unplug(stored: int) -> None:
        if stored == 1:
            home.state = "unavailable"

    recorded = await record(aiohttp_server, home, count=3, after_store=unplug)
    assert isinstance(recorded.error, SatelliteOffline)
    assert str(recorded.error) == OFFLINE
    assert len(recorded.stored) == 1  # take 1 is kept; take 2 never started
    assert [e["n"] for e in recorded.of("take_started")] == [1]


async def test_a_take_cut_short_by_the_satellite_going_offline_is_not_kept(aiohttp_server):
    recorded = await record(aiohttp_server, fake(drop_at=2), count=3)
    assert isinstance(recorded.error, SatelliteOffline)
    assert str(recorded.error) == OFFLINE
    assert [t.index for t in recorded.stored] == [0]  # the half take 2 was dropped
    assert [e["n"] for e in recorded.of("take_started")] == [1, 2]
