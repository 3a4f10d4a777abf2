"""A fake Home Assistant Supervisor: an aiohttp app on 127.0.0.1 that speaks the endpoints the
add-on uses, in the Supervisor's own envelope ({"result": "ok"|"error", ...}), and records every
request so tests can check what was sent (token included)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class FakeSupervisor:
    token: str = "test-supervisor-token"
    # "ok": a broker is offered; "not_enabled": no broker add-on (400); "forbidden": the add-on
    # did not ask for the service in config.yaml (403).
    mqtt_mode: str = "ok"
    mqtt: dict[str, Any] = field(
        default_factory=lambda: {
            "host": "core-mosquitto",
            "port": 1883,
            "ssl": False,
            "protocol": "3.1.1",
            "username": "addons",
            "password": "generated-secret",
            "addon": "core_mosquitto",
        }
    )
    ingress_panel: bool = False  # "Show in sidebar", off after an install
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeSupervisor:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/info", self._info)
        app.router.add_get("/services/mqtt", self._mqtt)
        app.router.add_get("/addons/self/info", self._self_info)
        app.router.add_post("/addons/self/options", self._self_options)
        app.router.add_post("/discovery", self._discovery)
        app.router.add_post("/core/api/services/persistent_notification/create", self._notification)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        body = await request.json() if request.can_read_body else None
        authorization = request.headers.get("Authorization")
        self.requests.append(Recorded(request.method, request.path, authorization, body))
        if authorization != f"Bearer {self.token}":
            return web.json_response({"result": "error", "message": "Unauthorized"}, status=401)
        return await handler(request)

    async def _info(self, _request: web.Request) -> web.Response:
        data = {"supervisor": "2026.08.2", "arch": "amd64", "channel": "stable"}
        return web.json_response({"result": "ok", "data": data})

    async def _self_info(self, _request: web.Request) -> web.Response:
        data = {"slug": "local_mww_trainer", "ingress": True, "ingress_panel": self.ingress_panel}
        return web.json_response({"result": "ok", "data": data})

    async def _self_options(self, request: web.Request) -> web.Response:
        body = await request.json()
        allowed = {"boot", "network", "auto_update", "audio_output", "audio_input", "ingress_panel",
                   "watchdog", "options"}  # fmt: skip
        if not isinstance(body, dict) or set(body) - allowed:
            return _error(f"extra keys not allowed: {sorted(set(body) - allowed)}", 400)
        if "ingress_panel" in body:
            if not isinstance(body["ingress_panel"], bool):
                return _error("expected boolean for dictionary value @ data['ingress_panel']", 400)
            self.ingress_panel = body["ingress_panel"]
        return web.json_response({"result": "ok", "data": {}})

    async def _mqtt(self, _request: web.Request) -> web.Response:
        if self.mqtt_mode == "not_enabled":
            return _error("Service not enabled", 400)
        if self.mqtt_mode == "forbidden":
            return _error("No access to mqtt service!", 403)
        return web.json_response({"result": "ok", "data": self.mqtt})

    async def _discovery(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body.get("service"), str) or not isinstance(body.get("config"), dict):
            return _error("expected service and config", 400)
        return web.json_response({"result": "ok", "data": {"uuid": uuid.uuid4().hex}})

    async def _notification(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "message" not in body:
            return web.json_response({"message": "required key not provided"}, status=400)
        return web.json_response([])  # Core answers a service call with the changed states


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"result": "error", "message": message}, status=status)
