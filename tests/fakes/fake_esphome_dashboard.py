"""A small ESPHome dashboard stand-in speaking its command websocket protocol.

As esphome/dashboard/web_server.py does: `/compile`, `/upload`, … accept one
`{"type": "spawn", "configuration": …}` message, stream `{"event": "line", "data": …}`
and finish with `{"event": "exit", "code": N}`, then close. A client closing the socket
early stops the command (`closed_early` records it). Runs on its own thread and loop.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web


@dataclass
class Script:
    lines: list[str]
    code: int = 0
    endless: bool = False  # keep sending lines until the client goes away


@dataclass
class Seen:
    spawns: list[tuple[str, dict]] = field(default_factory=list)  # (command, message)
    closed_early: list[str] = field(default_factory=list)
    unauthorised: int = 0


class FakeDashboard:
    def __init__(self, scripts: dict[str, Script], *, credentials: tuple[str, str] | None = None):
        self.scripts = scripts
        self.credentials = credentials
        self.seen = Seen()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> FakeDashboard:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()
        for command in ("compile", "upload", "validate"):
            app.router.add_get(f"/{command}", self._handler(command))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def _handler(self, command: str):
        async def handle(request: web.Request) -> web.StreamResponse:
            if not self._authorised(request):
                self.seen.unauthorised += 1
                return web.Response(status=401)
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            msg = await ws.receive()
            if msg.type is not WSMsgType.TEXT or msg.json().get("type") != "spawn":
                await ws.close()
                return ws
            self.seen.spawns.append((command, msg.json()))
            await self._play(command, ws)
            return ws

        return handle

    async def _play(self, command: str, ws: web.WebSocketResponse) -> None:
        script = self.scripts[command]
        index = 0
        while index < len(script.lines) or script.endless:
            line = script.lines[index % len(script.lines)]
            index += 1
            try:
                await ws.send_json({"event": "line", "data": line + "\n"})
                msg = await ws.receive(timeout=0.01)
            except TimeoutError:
                continue
            except ConnectionError:
                msg = None
            if msg is None or msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                self.seen.closed_early.append(command)  # the dashboard would kill the command
                return
        await ws.send_json({"event": "exit", "code": script.code})
        await ws.close()

    def _authorised(self, request: web.Request) -> bool:
        if self.credentials is None:
            return True
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return request.headers.get("Authorization") == f"Basic {token}"
