"""Home Assistant's websocket API: authenticate, send commands, follow subscriptions.

One connection carries many message ids at once (a capture and a prompt run in parallel), so a
reader task hands each message to whoever waits for its id. When the connection drops, every
waiter gets `Unreachable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from mww_trainer.satellite.errors import CommandFailed, NotAdmin, TokenRefused, Unreachable

_LOGGER = logging.getLogger(__name__)
SUPERVISOR_CORE_URL = "http://supervisor/core"
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 30.0
_CLOSED = object()  # put into subscription queues when the connection ends


@dataclass(frozen=True)
class HomeAssistant:
    """Where Home Assistant is and how to log in; the token never shows in repr or logs."""

    url: str  # http(s)://host:port, or the Supervisor's proxy http://supervisor/core
    token: str = field(repr=False)

    @classmethod
    def through_supervisor(cls, supervisor_token: str) -> HomeAssistant:
        return cls(SUPERVISOR_CORE_URL, supervisor_token)

    @property
    def websocket_url(self) -> str:
        parts = urlsplit(self.url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        # Core serves /api/websocket; the Supervisor proxies it as /core/websocket.
        path = parts.path + ("/websocket" if parts.path.endswith("/core") else "/api/websocket")
        return urlunsplit((scheme, parts.netloc, path, "", ""))


def check_url(url: str) -> str:
    """A Home Assistant URL as the options take it: http(s)://host[:port], no query."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(
            f"{url!r} is not a Home Assistant URL; give it as http://HOST:8123 (or https://...)"
        )
    return url.strip().rstrip("/")


class Subscription:
    """Events of one subscribed message id, in order, until the connection or the server ends it.

    Every event (and `place`, the subscription's result) carries `_place`, its position among
    all messages of the connection: events of two subscriptions can be put in order.
    """

    def __init__(self, client: Client, message_id: int):
        self.client, self.id = client, message_id
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.place = 0

    async def next(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next event; Unreachable if the connection ended, TimeoutError after timeout_s."""
        item = await asyncio.wait_for(self.queue.get(), timeout_s)
        if item is _CLOSED:
            self.queue.put_nowait(_CLOSED)  # every later call says the same
            raise self.client.closed_error()
        return item

    async def close(self) -> None:
        self.client.forget(self.id)
        if not self.client.closed:
            # Already ended on the server's side, or the connection is gone: nothing to undo.
            with contextlib.suppress(CommandFailed, Unreachable):
                await self.client.command("unsubscribe_events", subscription=self.id)


class Client:
    """A logged-in websocket connection; use `connect()`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, ha: HomeAssistant, version: str):
        self._ws, self.ha, self.version = ws, ha, version
        self._ids = itertools.count(1)
        self._received = itertools.count(1)  # every message gets its place in arrival order
        self._results: dict[int, asyncio.Future] = {}
        self._subscriptions: dict[int, Subscription] = {}
        self.closed = False
        self._reader = asyncio.create_task(self._read())

    def closed_error(self) -> Unreachable:
        return Unreachable(
            f"Home Assistant at {self.ha.url} closed the connection (stopped or restarting?); "
            "the takes stored so far are kept: start the session again once it is back"
        )

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                for item in data if isinstance(data, list) else [data]:
                    self._dispatch(item)
        except (aiohttp.ClientError, OSError, ValueError) as err:
            _LOGGER.warning("Home Assistant's websocket failed: %s", err)
        finally:
            self.closed = True
            for future in self._results.values():
                if not future.done():
                    future.set_exception(self.closed_error())
            for subscription in self._subscriptions.values():
                subscription.queue.put_nowait(_CLOSED)

    def _dispatch(self, item: dict[str, Any]) -> None:
        message_id, place = item.get("id"), next(self._received)
        if item.get("type") == "result":
            future = self._results.pop(message_id, None)
            if future is not None and not future.done():
                future.set_result({**item, "_place": place})
        elif item.get("type") == "event" and message_id in self._subscriptions:
            event = item.get("event")
            if isinstance(event, dict):
                event = {**event, "_place": place}
            self._subscriptions[message_id].queue.put_nowait(event)

    async def _send(self, message_type: str, payload: dict[str, Any]) -> tuple[int, asyncio.Future]:
        if self.closed:
            raise self.closed_error()
        message_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._results[message_id] = future
        try:
            await self._ws.send_str(json.dumps({"id": message_id, "type": message_type, **payload}))
        except (aiohttp.ClientError, ConnectionError) as err:
            self._results.pop(message_id, None)
            raise self.closed_error() from err
        return message_id, future

    async def command(self, message_type: str, **payload: Any) -> Any:
        """Send one command and return its result; CommandFailed/NotAdmin with HA's message."""
        _, future = await self._send(message_type, payload)
        return _result(message_type, await asyncio.wait_for(future, COMMAND_TIMEOUT_S))

    async def subscribe(self, message_type: str, **payload: Any) -> Subscription:
        """Send a command whose events follow its result; the Subscription yields them."""
        message_id, future = await self._send(message_type, payload)
        subscription = Subscription(self, message_id)
        self._subscriptions[message_id] = subscription
        try:
            reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
            _result(message_type, reply)
        except BaseException:
            self.forget(message_id)
            raise
        subscription.place = reply["_place"]
        return subscription

    def forget(self, message_id: int) -> None:
        self._subscriptions.pop(message_id, None)

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()


def _result(message_type: str, reply: dict[str, Any]) -> Any:
    if reply.get("success"):
        return reply.get("result")
    error = reply.get("error") or {}
    code, message = str(error.get("code", "")), str(error.get("message", "no message"))
    if code == "unauthorized":
        raise NotAdmin(
            f"Home Assistant refused {message_type}: the token's user is not an administrator "
            "(capturing a satellite's audio needs an admin; make the long-lived token as one)"
        )
    raise CommandFailed(f"Home Assistant refused {message_type}: {message} ({code})", code=code)


@asynccontextmanager
async def connect(ha: HomeAssistant) -> AsyncIterator[Client]:
    """A logged-in connection, closed on leaving; Unreachable / TokenRefused say why not."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            ws = await session.ws_connect(ha.websocket_url, heartbeat=30, max_msg_size=0)
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise Unreachable(
                f"cannot reach Home Assistant at {ha.url} ({err or type(err).__name__}); check "
                "that it is running and the URL is right"
            ) from None
        try:
            version = await _authenticate(ws, ha)
            client = Client(ws, ha, version)
            try:
                yield client
            finally:
                await client.close()
        finally:
            await ws.close()


async def _authenticate(ws: aiohttp.ClientWebSocketResponse, ha: HomeAssistant) -> str:
    try:
        hello = await ws.receive_json(timeout=CONNECT_TIMEOUT_S)
        await ws.send_json({"type": "auth", "access_token": ha.token})
        reply = await ws.receive_json(timeout=CONNECT_TIMEOUT_S)
    except (TypeError, ValueError, TimeoutError, aiohttp.ClientError) as err:
        raise Unreachable(
            f"{ha.websocket_url} did not answer as Home Assistant's websocket API does ({err!r})"
        ) from None
    if reply.get("type") == "auth_invalid":
        raise TokenRefused(
            f"Home Assistant at {ha.url} refused the access token ({reply.get('message')}); "
            "make a new long-lived access token (your profile, Security) and give it again"
        )
    if reply.get("type") != "auth_ok":
        raise Unreachable(f"unexpected answer to logging in: {reply.get('type')!r}")
    return str(reply.get("ha_version") or hello.get("ha_version") or "")


def version_at_least(version: str, year: int, month: int) -> bool:
    """Whether a version such as '2025.4.4' or '2025.7.0b1' is year.month or newer."""
    try:
        got_year, got_month = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (got_year, got_month) >= (year, month)
