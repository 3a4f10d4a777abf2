"""A real Home Assistant Core (2025.4.4 in .venv-ha, Python 3.13), headless and offline.

`scripts/install_home_assistant.sh` installs it (the README's test set-up runs it). The
session fixture `home_assistant` starts `hass` once on a free port with a minimal
configuration, onboards an owner without a browser and makes a long-lived access token; tests
add Wyoming and MQTT entries through the config-flow REST API. Tests that need it are marked
`home_assistant` and skipped only when .venv-ha could not be installed (no Python 3.13).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[2]
HASS = REPO / ".venv-ha" / "bin" / "hass"
INSTALLER = REPO / "scripts" / "install_home_assistant.sh"
START_TIMEOUT_S = 180.0
CONFIGURATION = """\
homeassistant:
  name: Test home
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  language: en
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
frontend:
api:
assist_pipeline:
logger:
  default: warning
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_installed() -> str | None:
    """None when hass is ready to run, else why not (the tests skip with it)."""
    if not HASS.exists():
        result = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True)
        if result.returncode != 0 or not HASS.exists():
            return "Home Assistant Core is not installed: " + (result.stderr.strip()[-300:])
    return None


@dataclass
class HomeAssistantCore:
    config_dir: Path
    port: int
    process: subprocess.Popen | None = None
    token: str = field(default="", repr=False)  # the owner's long-lived access token

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))
        log = (self.config_dir / "hass.out").open("ab")
        self.process = subprocess.Popen(
            [str(HASS), "-c", str(self.config_dir), "--skip-pip"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hass exited ({self.process.returncode}): {self.log_tail()}")
            try:
                self.request("GET", "/api/onboarding", auth=False)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"hass did not answer in {START_TIMEOUT_S:g} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        text = ""
        for name in ("home-assistant.log", "hass.out"):
            path = self.config_dir / name
            if path.exists():
                text += path.read_text(errors="replace")[-chars:]
        return text

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        token: str | None = None,
        form: dict | None = None,
    ) -> Any:
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def onboard(self) -> None:
        """The owner without a browser, then a long-lived token made over the websocket."""
        client_id = self.url + "/"
        created = self.request(
            "POST",
            "/api/onboarding/users",
            auth=False,
            body={
                "client_id": client_id,
                "name": "Owner",
                "username": "owner",
                "password": "owner-password-1",
                "language": "en",
            },
        )
        tokens = self.request(
            "POST",
            "/auth/token",
            auth=False,
            form={
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": client_id,
            },
        )
        access = tokens["access_token"]
        self.token = asyncio.run(
            self.ws_command(
                access, "auth/long_lived_access_token", client_name="mww-trainer tests", lifespan=30
            )
        )

    async def ws_command(self, token: str, message_type: str, **payload: Any) -> Any:
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{self.port}/api/websocket") as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": message_type, **payload})
            reply = await ws.receive_json()
            assert reply["success"], reply
            return reply["result"]

    async def ws(self, message_type: str, **payload: Any) -> Any:
        return await self.ws_command(self.token, message_type, **payload)

    def add_entry(self, handler: str, *steps: dict[str, Any]) -> dict[str, Any]:
        """A config entry through the config-flow REST API; returns the last step's answer."""
        flow = self.request("POST", "/api/config/config_entries/flow", {"handler": handler})
        for step in steps:
            flow = self.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", step)
        if flow.get("type") != "create_entry":
            raise AssertionError(f"{handler}: the config flow did not create an entry: {flow}")
        return flow

    def states(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/states")

    def state(self, entity_id: str) -> dict[str, Any] | None:
        return next((s for s in self.states() if s["entity_id"] == entity_id), None)

    def wait_for(self, check, what: str, timeout_s: float = 30.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; log: {self.log_tail(1500)}")


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory) -> HomeAssistantCore:
    why = ensure_installed()
    if why:
        pytest.skip(why)
    core = HomeAssistantCore(tmp_path_factory.mktemp("home_assistant"), free_port())
    started = time.monotonic()
    core.start()
    core.onboard()
    core.started_s = round(time.monotonic() - started, 1)
    yield core
    core.stop()


@dataclass
class SatelliteHome:
    """Home Assistant with an emulated Wyoming satellite and speech-to-text, and a pipeline."""

    core: HomeAssistantCore
    satellite: Any  # tests.fakes.wyoming_satellite.SatelliteEmulator
    stt: Any
    entity_id: str
    device_id: str
    entry_id: str  # the satellite's config entry


def add_satellite(core: HomeAssistantCore, thread, name: str = "Kitchen satellite"):
    """Wyoming speech-to-text + satellite entries and a preferred pipeline that uses them."""
    from tests.fakes.wyoming_satellite import SatelliteEmulator, SttEmulator

    stt = SttEmulator(thread, free_port()).start()
    satellite = SatelliteEmulator(thread, free_port(), name).start()
    core.add_entry("wyoming", {"host": "127.0.0.1", "port": stt.port})
    entry = core.add_entry("wyoming", {"host": "127.0.0.1", "port": satellite.port})
    if not satellite.running.wait(30):
        raise AssertionError(f"Home Assistant never ran the satellite: {core.log_tail(1500)}")
    stt_entity = core.wait_for(
        lambda: next(
            (s["entity_id"] for s in core.states() if s["entity_id"].startswith("stt.")), None
        ),
        "the speech-to-text entity",
    )
    pipeline = asyncio.run(
        core.ws(
            "assist_pipeline/pipeline/create",
            conversation_engine="conversation.home_assistant",
            conversation_language="en",
            language="en",
            name="Satellite takes",
            stt_engine=stt_entity,
            stt_language="en",
            tts_engine=None,
            tts_language=None,
            tts_voice=None,
            wake_word_entity=None,
            wake_word_id=None,
        )
    )
    asyncio.run(core.ws("assist_pipeline/pipeline/set_preferred", pipeline_id=pipeline["id"]))
    entities = asyncio.run(core.ws("config/entity_registry/list"))
    mine = next(
        e
        for e in entities
        if e["entity_id"].startswith("assist_satellite.")
        and e["config_entry_id"] == entry["result"]["entry_id"]
    )
    return SatelliteHome(
        core, satellite, stt, mine["entity_id"], mine["device_id"], entry["result"]["entry_id"]
    )


@pytest.fixture(scope="session")
def wyoming_thread():
    from tests.fakes.wyoming_satellite import EventLoopThread

    thread = EventLoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def satellite_home(home_assistant, wyoming_thread) -> SatelliteHome:
    return add_satellite(home_assistant, wyoming_thread)
