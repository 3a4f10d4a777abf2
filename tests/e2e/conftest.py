"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket client, nothing else).

`browser` starts Debian's /usr/bin/chromium with a fake microphone that plays a WAV file, and
hands out a `Page` with the few commands the panel tests need: open, evaluate, wait, click,
type, screenshot, and allow downloads into a folder.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

CHROMIUM = Path("/usr/bin/chromium")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the panel in headless Chromium")


class CdpError(RuntimeError):
    pass


class Page:
    """One browser tab, attached with a flat session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = asyncio.create_task(self._read())
        self.session: str | None = None
        self.console: list[str] = []

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                args = data["params"]["args"]
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.console.append(f"exception: {details.get('exception', {}).get('description')}")

    async def send(self, method: str, params: dict | None = None, *, browser: bool = False) -> Any:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if not browser and self.session:
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def attach(self) -> None:
        target = await self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        self.session = attached["sessionId"]
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 1500, "deviceScaleFactor": 1, "mobile": False},
        )

    async def open(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait(self, condition: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(
                f"(() => {{ try {{ const v = ({condition}); return v instanceof Node || v; }}"
                " catch (e) { return null; } })()"
            )
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {condition}; console: {self.console[-10:]}"
                )
            await asyncio.sleep(0.2)

    async def click(self, selector: str) -> None:
        found = f"document.querySelector({json.dumps(selector)})"
        await self.wait(f"{found} && !{found}.disabled")
        await self.evaluate(f"{found}.click()")

    async def type(self, selector: str, text: str) -> None:
        await self.wait(f"document.querySelector({json.dumps(selector)})")
        await self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            f" el.value = {json.dumps(text)}; el.dispatchEvent(new Event('input')); "
            f" el.dispatchEvent(new Event('change')); }})()"
        )

    async def text(self, selector: str) -> str:
        return await self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"
        )

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def allow_downloads(self, folder: Path) -> None:
        await self.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(folder), "eventsEnabled": True},
            browser=True,
        )

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium): the panel tests need it")
    return CHROMIUM


@pytest_asyncio.fixture
async def browser(chromium: Path, tmp_path: Path, fake_microphone_wav: Path):
    """A fresh headless Chromium whose microphone plays fake_microphone_wav."""
    profile = tmp_path / "chromium-profile"
    log_path = tmp_path / "chromium.log"
    log = log_path.open("w")  # a file, not a pipe: Chromium must never block on its stderr
    process = subprocess.Popen(
        [
            str(chromium),
            "--headless=new",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_microphone_wav}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        url = await asyncio.to_thread(_devtools_url, process, log_path)
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(url, max_msg_size=64 * 2**20)
        page = Page(ws)
        await page.attach()
        yield page
        await page.close()
        await session.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_url(process: subprocess.Popen, log_path: Path) -> str:
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline and process.poll() is None:
        text = log_path.read_text(errors="replace")
        found = re.search(r"DevTools listening on (ws://\S+)", text)
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise RuntimeError("chromium did not start:\n" + text[-3000:])


@pytest.fixture(scope="session")
def fake_microphone_wav(tmp_path_factory: pytest.TempPathFactory, speech_wav: Path) -> Path:
    """espeak-ng saying the phrase with silence around it, as 16 kHz mono (Chromium loops it)."""
    import numpy as np
    import soundfile

    speech, rate = soundfile.read(speech_wav, dtype="int16")
    silence = np.zeros(int(0.6 * rate), np.int16)
    audio = np.concatenate([silence, speech, silence, silence])
    path = tmp_path_factory.mktemp("fake_mic") / "say_hey_computer.wav"
    soundfile.write(path, audio, rate, subtype="PCM_16")
    return path
