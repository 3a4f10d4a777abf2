"""The Satellites tab in headless Chromium, against a real Home Assistant Core 2025.4.4.

The panel lists the emulated Wyoming satellite (with why it cannot be prompted), records a
session of two takes through it (the emulator speaks when the panel says "wake it"), and the
takes land in the library as satellite samples that play in the page.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from addon.app import create_app
from addon.settings import Settings
from tests.fakes.wyoming_satellite import utterance

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.home_assistant]
PREFIX = "/api/hassio_ingress/e2e_token/"
STATE = "document.querySelector('#sat-state').textContent"


async def test_a_session_records_takes_from_the_satellite_into_the_library(
    aiohttp_server, browser, satellite_home, tmp_path
):
    core = satellite_home.core
    settings = Settings(
        data_dir=tmp_path / "data", homeassistant_url=core.url, homeassistant_token=core.token
    )
    root = web.Application()
    root.add_subapp(PREFIX, create_app(settings))
    server = await aiohttp_server(root)
    client_url = server.make_url(PREFIX)
    page = browser
    await page.open(str(client_url))
    await page.type("#phrase", "hey computer")
    await page.click("#create")
    await page.wait("location.hash === '#/p/hey_computer/record'")
    await page.evaluate("location.hash = '#/p/hey_computer/satellites'")
    await page.wait("document.querySelector('#sat-table')")
    table = await page.text("#sat-table")
    assert "Kitchen satellite" in table and "wyoming" in table
    assert "Wyoming satellites can only announce" in table
    assert await page.evaluate("document.querySelector('.sat-pick').checked")

    await page.type("#sat-count", "2")
    await page.click("#sat-start")
    for n in (1, 2):
        await page.wait(
            "document.querySelector('#sat-prompt').textContent.startsWith('Take') || "
            "!document.querySelector('#sat-error').hidden"
        )
        assert await page.evaluate("document.querySelector('#sat-error').hidden"), await page.text(
            "#sat-error"
        )
        await page.wait(
            f"document.querySelector('#sat-prompt').textContent.startsWith('Take {n} of 2')"
        )
        assert "wake Kitchen satellite, then Say 'hey computer'." in await page.text("#sat-prompt")
        await asyncio.wrap_future(satellite_home.satellite.stream_in_background(utterance(n)))
    await page.wait(f"{STATE}.startsWith('2 of 2 takes stored · finished')", 30)
    await page.screenshot(tmp_path / "satellites.png")

    # The takes play in the page, trimmed to the burst and the 0.3 s of quiet before it.
    duration_s = await page.evaluate(
        "(async () => { const a = document.querySelector('#sat-takes audio'); a.preload = 'auto';"
        " a.load(); await new Promise((ok, fail) => { a.oncanplaythrough = ok; a.onerror = fail;"
        " }); return a.duration; })()"
    )
    assert 1.2 < duration_s < 1.5
    assert len(await page.evaluate("[...document.querySelectorAll('#sat-takes li')]")) == 2

    url = f"{client_url}api/projects/hey_computer/samples"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        samples = (await response.json())["samples"]
    assert [(s["label"], s["source"], s["speaker"]) for s in samples] == [
        ("positive", "satellite", "Kitchen satellite")
    ] * 2
    state = json.loads((settings.data_dir / "satellites" / "session.json").read_text())
    assert {t["device_id"] for t in state["takes"]} == {satellite_home.device_id}
    assert sorted(t["sample_id"] for t in state["takes"]) == sorted(s["id"] for s in samples)
    assert core.token not in (settings.data_dir / "satellites" / "session.json").read_text()
