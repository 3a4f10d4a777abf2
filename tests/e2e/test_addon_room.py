"""Record the room in headless Chromium: a fake microphone plays talk, the page uploads parts.

Start, let two parts (2 s each, through ?room_chunk_s=2) reach the service, stop; the parts
are "Other speech" samples of speaker and source "room", they add up to the time recorded,
the page shows the minutes, and the trainer will count the files as people talking.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from aiohttp import web

from addon.app import create_app
from addon.settings import Settings
from addon.store import ProjectLayout
from mww_trainer.data.ingest.origin import origin_of

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
PREFIX = "/api/hassio_ingress/e2e_token/"
PART_S = 2
RATE = 16000
STATUS = "document.querySelector('#room-status').textContent"


@pytest.fixture
def fake_microphone_wav(tmp_path: Path) -> Path:
    """3.7 s of talk-like noise (bursts and pauses), looped by Chromium: no two parts alike."""
    rng = np.random.default_rng(3)
    n = round(3.7 * RATE)
    bursts = 0.05 + 0.4 * (np.sin(np.arange(n) * 2 * np.pi * 2.3 / RATE) > 0)
    path = tmp_path / "room_talk.wav"
    sf.write(path, rng.uniform(-1, 1, n) * bursts, RATE, subtype="PCM_16")
    return path


async def test_record_the_room_in_parts(aiohttp_server, browser, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    root = web.Application()
    root.add_subapp(PREFIX, create_app(settings))
    server = await aiohttp_server(root)
    page = browser
    await page.open(f"{server.make_url(PREFIX)}?room_chunk_s={PART_S}")
    try:
        await page.type("#phrase", "hey computer")
        await page.click("#create")
        await page.wait("location.hash === '#/p/hey_computer/record'")
        await page.click("#mode-room")
        assert await page.evaluate("document.querySelector('#prompted').hidden")
        await page.wait("document.querySelector('#room-total').textContent.includes('0.0 min')")
        assert "don’t say the wake word" in (await page.text("#room")).lower()

        await page.type("#room-name", "piper-den")  # the trainer would take it for synthesis
        await page.click("#room-start")
        await page.wait("document.querySelector('#toast').textContent.includes('speech engine')")
        assert not await page.evaluate("document.querySelector('#room-start').disabled")
        await page.type("#room-name", "room")
        await page.click("#room-start")
        started = time.monotonic()
        await page.wait("document.querySelector('#room-elapsed').textContent.includes('/ 10:00')")
        assert await _widest(page, "#room-meter .bar") > 20
        assert await page.evaluate("document.querySelector('#mode-prompted').disabled")
        await page.wait(f"{STATUS}.startsWith('2 parts saved')", 20)
        await page.screenshot(tmp_path / "room_recording.png")
        # Stopped about 6 s in: whole parts, and the tail when it is long enough to keep.
        await page.wait("document.querySelector('#room-elapsed').textContent.startsWith('0:06')")
        await page.click("#room-stop")
        wall_s = time.monotonic() - started
        shown_s = _clock_s(await page.text("#room-elapsed"))  # whole seconds heard
        await page.wait(f"/^\\d+ parts saved\\. Stopped\\.$/.test({STATUS})", 20)

        samples = (
            await page.evaluate("fetch('api/projects/hey_computer/samples').then((r) => r.json())")
        )["samples"]
        assert 3 <= len(samples) <= 4
        assert {(s["label"], s["speaker"], s["source"]) for s in samples} == {
            ("negative", "room", "room")
        }
        assert all("silent" not in s["flags"] for s in samples), samples
        durations = [s["duration_s"] for s in sorted(samples, key=lambda s: s["id"])]
        assert durations[:3] == pytest.approx([PART_S] * 3, abs=0.01)
        # What was heard (shown_s to shown_s + 1) less a tail too short to keep (under 1.6 s).
        assert shown_s - 1.6 < sum(durations) < shown_s + 1 and sum(durations) < wall_s, (
            durations,
            shown_s,
            wall_s,
        )
        assert f"{len(samples)} parts saved" in await page.text("#room-status")
        shown = f"{sum(durations) / 60:.1f} min"
        assert shown in await page.text("#room-total")

        # The files: 16 kHz mono under negative/room, counted by the trainer as people talking.
        folder = ProjectLayout(settings.projects_dir / "hey_computer").label_dir("negative")
        files = sorted((folder / "room").glob("room_*.wav"))
        assert len(files) == len(samples)
        assert {(sf.info(f).samplerate, sf.info(f).channels) for f in files} == {(RATE, 1)}
        assert all(origin_of(f"negative/room/{f.name}").human for f in files)

        # Opened again, the page reads the minutes from the service; takes still work.
        await page.open(f"{server.make_url(PREFIX)}#/p/hey_computer/record")
        await page.click("#mode-room")
        await page.wait(f"document.querySelector('#room-total').textContent.includes('{shown}')")
        await page.click("#mode-prompted")
        await page.type("#speaker", "E2E Tester")
        await page.type("#rec-seconds", "1")
        await page.click("#mic-start")
        await page.click("#record")
        await page.wait("document.querySelectorAll('#takes li').length === 1", timeout=20)
        await page.screenshot(tmp_path / "room.png")
    except BaseException:
        await page.screenshot(tmp_path / "room_failure.png")
        print("browser console:", *page.console[-20:], sep="\n  ")
        raise


async def _widest(page, selector: str, seconds: float = 1.0) -> float:
    """The widest a bar gets (percent of its track) over `seconds`."""
    widest, deadline = 0.0, time.monotonic() + seconds
    width = f"parseFloat(document.querySelector({selector!r}).style.width) || 0"
    while time.monotonic() < deadline:
        widest = max(widest, await page.evaluate(width))
        await asyncio.sleep(0.05)
    return widest


def _clock_s(text: str) -> int:
    """Whole seconds of a "m:ss / m:ss" elapsed display's first half."""
    minutes, seconds = text.split("/")[0].strip().split(":")
    return int(minutes) * 60 + int(seconds)
