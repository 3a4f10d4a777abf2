"""Compile and upload through an ESPHome Device Builder (dashboard) instead of a local CLI.

The dashboard runs the same `esphome compile|upload` commands behind websockets
(esphome/dashboard/web_server.py): connect to `<url>/compile` or `<url>/upload`, send
`{"type": "spawn", "configuration": "<file>.yaml"[, "port": "OTA"|address]}`, then read
`{"event": "line", "data": …}` messages until `{"event": "exit", "code": N}`. Closing the
socket makes the dashboard terminate the command: that is how a job is cancelled.

aiohttp is imported here only, when a dashboard URL is configured.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from mww_trainer.esphome.errors import EsphomeBridgeError
from mww_trainer.esphome.runner import (
    MAX_KEPT_LINES,
    CommandResult,
    LineCallback,
    Redact,
    clean_line,
)

POLL_S = 0.2
COMMANDS = ("compile", "upload", "validate")


@dataclass(frozen=True)
class _Run:
    command: str
    configuration: str
    port: str | None
    on_line: LineCallback | None
    cancel_event: threading.Event | None
    timeout_s: float | None
    redact: Redact | None


class DashboardClient:
    """One ESPHome dashboard; `url` may carry user:password for its basic auth."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EsphomeBridgeError(
                f"dashboard URL '{url}' must look like http://host:6052/ (ESPHome Device Builder)"
            )
        self._headers = {}
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self.base_url = urlunsplit((parts.scheme, netloc, path, "", ""))

    def run(
        self,
        command: str,
        configuration: str,
        *,
        port: str | None = None,
        on_line: LineCallback | None = None,
        cancel_event: threading.Event | None = None,
        timeout_s: float | None = None,
        redact: Redact | None = None,
    ) -> CommandResult:
        """Run one dashboard command to its end (blocking; call it off any event loop)."""
        if command not in COMMANDS:
            raise ValueError(f"unknown dashboard command {command!r}")
        job = _Run(command, configuration, port, on_line, cancel_event, timeout_s, redact)
        return asyncio.run(self._run(job))

    async def _run(self, job: _Run) -> CommandResult:
        import aiohttp

        started = time.monotonic()
        url = self.base_url + job.command
        lines: list[str] = []
        try:
            async with (
                aiohttp.ClientSession(headers=self._headers) as session,
                session.ws_connect(url, heartbeat=30) as ws,
            ):
                await ws.send_json(_spawn_message(job))
                code, stopped = await _receive(ws, job, lines, started)
        except (aiohttp.ClientError, OSError) as err:
            raise EsphomeBridgeError(
                f"cannot use the ESPHome dashboard at {self.base_url} ({err}); check the URL"
                " and that the dashboard is running"
            ) from err
        return CommandResult(
            args=("dashboard", url, job.configuration),
            returncode=code,
            lines=tuple(lines[-MAX_KEPT_LINES:]),
            cancelled=stopped == "cancelled",
            timed_out=stopped == "timeout",
            seconds=time.monotonic() - started,
        )


def _spawn_message(job: _Run) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "spawn", "configuration": job.configuration}
    if job.port is not None:
        message["port"] = job.port
    return message


async def _receive(ws, job: _Run, lines: list[str], started: float):
    """Lines until the exit event; (exit code or None, why we stopped or None)."""
    import aiohttp

    while True:
        if job.cancel_event is not None and job.cancel_event.is_set():
            await ws.close()
            return None, "cancelled"
        if job.timeout_s is not None and time.monotonic() - started > job.timeout_s:
            await ws.close()
            return None, "timeout"
        try:
            msg = await ws.receive(timeout=POLL_S)
        except TimeoutError:
            continue
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return None, None  # closed without an exit event: the command's fate is unknown
        event = json.loads(msg.data)
        if event.get("event") == "exit":
            return int(event.get("code", 1)), None
        if event.get("event") == "line":
            for raw in str(event.get("data", "")).replace("\r", "\n").split("\n"):
                line = clean_line(raw, job.redact)
                if line:
                    lines.append(line)
                    if job.on_line is not None:
                        job.on_line(line)
