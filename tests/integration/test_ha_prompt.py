"""Prompted takes (ask_question, start_conversation) against a fake of Home Assistant's
websocket API: a real 2025.4 with Wyoming satellites has neither (see fake_ha_websocket.py)."""

from __future__ import annotations

import re

import pytest

from mww_trainer.satellite.errors import NotAdmin, PromptFailed
from tests.fakes.fake_ha_websocket import ENTITY_ID, FakeHomeAssistant, record
from tests.fakes.wyoming_satellite import utterance

pytestmark = pytest.mark.asyncio


async def test_from_2025_7_a_take_is_asked_with_ask_question(aiohttp_server):
    fake = FakeHomeAssistant(version="2025.7.1", audio=utterance().tobytes())
    recorded = await record(aiohttp_server, fake)
    satellite, stored = recorded.satellite, recorded.stored
    assert (satellite.prompt, satellite.area, satellite.can_prompt) == (
        "ask_question",
        "Living room",
        True,
    )
    (call,) = fake.calls("ask_question")
    assert call["return_response"] is True
    assert call["service_data"] == {
        "entity_id": ENTITY_ID,
        "question": "Say 'hey computer'.",
        "preannounce": True,
        "answers": [{"id": "take", "sentences": ["hey computer"]}],
    }
    (take,) = stored
    assert take.check.problems == () and 1.2 < take.check.duration_s < 1.5


async def test_before_2025_7_a_take_is_asked_with_start_conversation(aiohttp_server):
    fake = FakeHomeAssistant(version="2025.4.4", audio=utterance().tobytes())
    recorded = await record(aiohttp_server, fake)
    assert recorded.satellite.prompt == "start_conversation"
    (call,) = fake.calls("start_conversation")
    assert call["service_data"] == {"start_message": "Say 'hey computer'.", "preannounce": True}
    assert call["target"] == {"entity_id": ENTITY_ID}
    assert len(recorded.stored) == 1


async def test_the_built_in_agent_refusing_start_conversation_says_what_to_do(aiohttp_server):
    fake = FakeHomeAssistant(
        version="2025.4.4",
        prompt_error="Built-in conversation agent does not support starting conversations",
    )
    error = (await record(aiohttp_server, fake)).error
    assert isinstance(error, PromptFailed)
    assert re.search(r"built-in conversation agent.*ask_question", str(error))
    assert "3 takes in a row failed" in str(error)
    assert len(fake.calls("start_conversation")) == 3


async def test_a_token_of_a_user_who_is_not_an_admin_says_so(aiohttp_server):
    fake = FakeHomeAssistant(admin=False, audio=utterance().tobytes())
    error = (await record(aiohttp_server, fake)).error
    assert isinstance(error, NotAdmin) and "not an administrator" in str(error)
