"""An aiohttp fake of Home Assistant's websocket API, for what a real 2025.4 cannot show.

Wyoming satellites (the only ones a test can emulate) support neither `start_conversation`
nor `ask_question`, and `ask_question` arrives in 2025.7: the prompt step is tested here. The
fake speaks the documented messages (auth, get_states, the registries, subscribe_events,
assist_pipeline/device/capture, call_service with return_response); a prompt makes the
"satellite" stream `audio` into the open capture, as a real pipeline run would.

Failures a real 2025.4 with an emulated Wyoming satellite cannot show are switched on here:
`overflow_prompts` (Home Assistant's capture queue overflowed: `end` says `overflow: true`), and
an ESPHome-like satellite that goes offline (its entity becomes `unavailable`, as ESPHome
entities do; a Wyoming satellite stays `idle`): set `state` between takes, or `drop_at` for the
middle of that prompt (half the audio, then the run ends).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEVICE_ID = "dev-voice-pe"
ENTITY_ID = "assist_satellite.living_room_voice"


@dataclass
class FakeHomeAssistant:
    version: str = "2025.7.1"
    features: int = 3  # ANNOUNCE | START_CONVERSATION
    token: str = "fake-token"
    admin: bool = True
    audio: bytes = b""  # what the satellite "hears" after a prompt
    prompt_error: str | None = None  # a call_service error message
    overflow_prompts: tuple[int, ...] = ()  # 1-based prompts whose capture overflows
    drop_at: int | None = None  # the satellite drops off halfway through this prompt
    state: str = "idle"
    prompts: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    _captures: dict[int, web.WebSocketResponse] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/websocket", self._websocket)
        return app

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "auth_required", "ha_version": self.version})
        auth = await ws.receive_json()
        if auth.get("access_token") != self.token:
            await ws.send_json({"type": "auth_invalid", "message": "Invalid access token"})
            await ws.close()
            return ws
        await ws.send_json({"type": "auth_ok", "ha_version": self.version})
        async for message in ws:
            data = json.loads(message.data)
            self.received.append(data)
            await self._answer(ws, data)
        return ws

    async def _answer(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        kind, message_id = data["type"], data["id"]
        results = {
            "get_states": [self._state()],
            "config/entity_registry/list": [
                {
                    "entity_id": ENTITY_ID,
                    "device_id": DEVICE_ID,
                    "platform": "esphome",
                    "area_id": None,
                }
            ],
            "config/device_registry/list": [
                {"id": DEVICE_ID, "name": "Voice PE", "name_by_user": None, "area_id": "living"}
            ],
            "config/area_registry/list": [{"area_id": "living", "name": "Living room"}],
            "subscribe_events": None,
            "unsubscribe_events": None,
        }
        if kind in results:
            await _result(ws, message_id, results[kind])
        elif kind == "assist_pipeline/device/capture":
            if not self.admin:
                await ws.send_json(
                    {
                        "id": message_id,
                        "type": "result",
                        "success": False,
                        "error": {"code": "unauthorized", "message": "Unauthorized"},
                    }
                )
                return
            self._captures[message_id] = ws
            await _result(ws, message_id, None)
        elif kind == "call_service":
            await self._prompt(ws, data)
        else:
            await ws.send_json(
                {
                    "id": message_id,
                    "type": "result",
                    "success": False,
                    "error": {"code": "unknown_command", "message": kind},
                }
            )

    async def _prompt(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if self.prompt_error:
            await ws.send_json(
                {
                    "id": data["id"],
                    "type": "result",
                    "success": False,
                    "error": {"code": "home_assistant_error", "message": self.prompt_error},
                }
            )
            return
        await asyncio.sleep(0.05)  # the question is spoken, then the run listens
        self.prompts += 1
        audio = self.audio
        if self.prompts == self.drop_at:
            audio, self.state = audio[: len(audio) // 2], "unavailable"
        overflow = self.prompts in self.overflow_prompts
        for capture_id, capture_ws in list(self._captures.items()):
            for offset in range(0, len(audio), 320):
                chunk = base64.b64encode(audio[offset : offset + 320]).decode()
                await capture_ws.send_json(
                    {
                        "id": capture_id,
                        "type": "event",
                        "event": {
                            "type": "audio",
                            "rate": 16000,
                            "width": 2,
                            "channels": 1,
                            "audio": chunk,
                        },
                    }
                )
            end = {"type": "end", "overflow": overflow}
            await capture_ws.send_json({"id": capture_id, "type": "event", "event": end})
            del self._captures[capture_id]
        response = None
        if data.get("return_response"):
            response = {
                "response": {ENTITY_ID: {"id": "take", "sentence": "hey computer", "slots": {}}}
            }
        await _result(ws, data["id"], response)

    def _state(self) -> dict[str, Any]:
        return {
            "entity_id": ENTITY_ID,
            "state": self.state,
            "attributes": {
                "friendly_name": "Living room voice",
                "supported_features": self.features,
            },
        }

    def calls(self, service: str) -> list[dict[str, Any]]:
        return [
            m for m in self.received if m["type"] == "call_service" and m.get("service") == service
        ]


async def _result(ws: web.WebSocketResponse, message_id: int, result: Any) -> None:
    await ws.send_json({"id": message_id, "type": "result", "success": True, "result": result})


@dataclass
class Recorded:
    """What a session against the fake left: the listed satellite, takes, events, the error."""

    satellite: Any = None
    stored: list[Any] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


async def record(
    aiohttp_server, fake: FakeHomeAssistant, count: int = 1, after_store=None
) -> Recorded:
    """A session of `count` takes of the fake's satellite, as the add-on runs one;
    `after_store(n)` runs after the n-th take is stored."""
    from mww_trainer.satellite.client import HomeAssistant, connect
    from mww_trainer.satellite.errors import SatelliteError
    from mww_trainer.satellite.listing import list_satellites
    from mww_trainer.satellite.session import Runner, SessionSpec, Target

    server = await aiohttp_server(fake.app())
    ha = HomeAssistant(str(server.make_url("")).rstrip("/"), fake.token)
    recorded = Recorded()

    async def store(take):
        recorded.stored.append(take)
        if after_store is not None:
            after_store(len(recorded.stored))
        return {"id": len(recorded.stored)}

    try:
        async with connect(ha) as client:
            (satellite,) = await list_satellites(client)
            recorded.satellite = satellite
            target = Target(ENTITY_ID, DEVICE_ID, satellite.name, satellite.area, satellite.prompt)
            spec = SessionSpec(
                targets=(target,),
                label="positive",
                phrases=("hey computer",),
                count=count,
                timeout_s=5,
                pause_s=0,
            )
            runner = Runner(client, spec, store, discard=None, emit=recorded.events.append)
            await asyncio.wait_for(runner.run(), 20)
    except SatelliteError as err:
        recorded.error = err
    return recorded
