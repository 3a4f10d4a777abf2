"""A small client for the Home Assistant Supervisor API and, through it, the Core API.

Inside the add-on the Supervisor is at http://supervisor and every request carries
``Authorization: Bearer $SUPERVISOR_TOKEN``. Supervisor answers look like
``{"result": "ok", "data": {...}}`` or ``{"result": "error", "message": "..."}``; Core API answers
(``/core/api/...``) are Home Assistant's own JSON.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from addon.mqtt import MqttSettings

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL = "http://supervisor"
TOKEN_ENV = "SUPERVISOR_TOKEN"


class SupervisorError(Exception):
    """The Supervisor could not be reached or refused a request; the message says how to fix it."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class SupervisorClient:
    """Async client; create it inside the event loop, close it (or use ``async with``)."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str = DEFAULT_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ):
        if not token:
            raise SupervisorError(f"no Supervisor token: {TOKEN_ENV} is empty")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SupervisorClient | None:
        """The client the add-on should use, or None when not running under a Supervisor."""
        token = environ.get(TOKEN_ENV, "")
        return cls(token=token) if token else None

    async def __aenter__(self) -> SupervisorClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    # ----------------------------------------------------------------- API

    async def info(self) -> dict[str, Any]:
        """GET /info: the Supervisor's own facts (version, arch, channel, ...)."""
        return await self._supervisor("GET", "/info")

    async def self_info(self) -> dict[str, Any]:
        """GET /addons/self/info: this add-on as the Supervisor sees it (slug, ingress_panel...)."""
        return await self._supervisor("GET", "/addons/self/info")

    async def show_panel_once(self, marker: Path) -> bool:
        """Put the panel in Home Assistant's sidebar on the first start, with no set-up.

        The Supervisor installs ingress add-ons with the sidebar entry off; this turns it on
        once and leaves ``marker`` behind, so a user who later hides the panel keeps it hidden.
        Returns whether it changed the setting.
        """
        if marker.exists():
            return False
        changed = False
        if not (await self.self_info()).get("ingress_panel"):
            await self._supervisor("POST", "/addons/self/options", json={"ingress_panel": True})
            changed = True
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("the panel was put in the sidebar once; the user decides from now on\n")
        return changed

    async def mqtt_service(self) -> MqttSettings | None:
        """The broker the Supervisor offers (e.g. the Mosquitto add-on), or None if there is none.

        "Service not enabled" (400) and an unknown service (404) mean no broker is installed:
        None, with the reason logged. 401/403 mean the add-on may not ask: SupervisorError.
        """
        try:
            data = await self._supervisor("GET", "/services/mqtt")
        except SupervisorError as err:
            if err.status in (400, 404):
                _LOGGER.info(
                    "The Supervisor offers no MQTT broker (%s): install the Mosquitto broker "
                    "add-on, or set mqtt_host in the add-on's options",
                    err,
                )
                return None
            if err.status in (401, 403):
                raise SupervisorError(
                    f"the Supervisor refused access to the MQTT service ({err}); "
                    "config.yaml must list 'services: [mqtt:want]'",
                    status=err.status,
                ) from err
            raise
        try:
            return MqttSettings(
                host=str(data["host"]),
                port=int(data["port"]),
                username=data.get("username") or None,
                password=data.get("password") or None,
                ssl=bool(data.get("ssl", False)),
                protocol=str(data.get("protocol", "3.1.1")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SupervisorError(
                f"the Supervisor's MQTT service data is incomplete: {err!r}"
            ) from err

    async def notify(self, title: str, message: str, notification_id: str | None = None) -> None:
        """Create (or replace, same notification_id) a persistent notification in Home Assistant.

        Needs ``homeassistant_api: true`` in config.yaml.
        """
        body: dict[str, str] = {"title": title, "message": message}
        if notification_id:
            body["notification_id"] = notification_id
        await self._request("POST", "/core/api/services/persistent_notification/create", json=body)

    async def discovery(self, service: str, config: Mapping[str, Any]) -> str | None:
        """POST /discovery: offer Home Assistant an integration; returns the entry's uuid.

        The service must be listed under ``discovery:`` in config.yaml.
        """
        data = await self._supervisor(
            "POST", "/discovery", json={"service": service, "config": dict(config)}
        )
        return data.get("uuid") if isinstance(data, dict) else None

    # ----------------------------------------------------------------- plumbing

    async def _supervisor(self, method: str, path: str, json: Any = None) -> Any:
        """A Supervisor API call: unwraps ``data`` or raises with the Supervisor's message."""
        body = await self._request(method, path, json=json)
        if isinstance(body, dict) and body.get("result") == "ok":
            return body.get("data", {})
        message = body.get("message") if isinstance(body, dict) else None
        raise SupervisorError(f"{method} {path}: {message or body!r}")

    async def _request(self, method: str, path: str, json: Any = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._session.request(method, url, json=json, headers=headers) as resp:
                body = await _read_body(resp)
                if resp.status >= 400:
                    raise SupervisorError(
                        _describe(method, path, resp.status, body), status=resp.status
                    )
                return body
        except aiohttp.ClientError as err:
            raise SupervisorError(f"cannot reach the Supervisor at {self.base_url}: {err}") from err
        except TimeoutError as err:
            raise SupervisorError(
                f"the Supervisor at {self.base_url} did not answer in time"
            ) from err


async def _read_body(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    if not text:
        return {}
    try:
        return await resp.json(content_type=None)
    except ValueError:
        return text


def _describe(method: str, path: str, status: int, body: Any) -> str:
    message = body.get("message") if isinstance(body, dict) else (body or "")
    if status == 401:
        hint = f"the token was not accepted (is {TOKEN_ENV} set by the Supervisor?)"
    elif status == 403:
        hint = "the add-on lacks the permission for this call"
    else:
        hint = ""
    parts = [f"{method} {path} -> {status}", str(message) if message else "", hint]
    return ": ".join(p for p in parts if p)
