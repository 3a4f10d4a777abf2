"""The panel in headless Chromium, served under an ingress-like path prefix.

Record through the (fake) microphone, see the take listed, generate samples, train a tiny model,
watch progress reach the results and download the model zip.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time
import zipfile
from pathlib import Path

import pytest
from aiohttp import web

from addon.app import create_app
from addon.settings import Settings
from mww_trainer.demo import QUICK_CLASS_WEIGHTS, TINY_MODEL
from tests.fakes.esphome_install import esphome_folder, fake_trained_job, no_internet

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
PREFIX = "/api/hassio_ingress/e2e_token/"
TINY = {
    "training": {"training_steps": [60, 20], "eval_step_interval": 20, **QUICK_CLASS_WEIGHTS},
    "model": TINY_MODEL,
}


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
DESKTOP = {"width": 1200, "height": 1500, "deviceScaleFactor": 1, "mobile": False}


# The widest the level meter's bar gets within 2 s (percent): the fake microphone loops speech.
LOUDEST_METER_WIDTH = """new Promise((resolve) => {
  let widest = 0;
  const timer = setInterval(() => {
    widest = Math.max(widest, parseFloat(document.querySelector('#meter .bar').style.width) || 0);
  }, 20);
  setTimeout(() => { clearInterval(timer); resolve(widest); }, 2000);
})"""


@pytest.fixture
def espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: the fake microphone and synthesis need it")


async def serve(aiohttp_server, settings: Settings):
    """The add-on mounted under a prefix: every URL the page uses must be relative to work."""
    root = web.Application()
    root.add_subapp(PREFIX, create_app(settings))
    return await aiohttp_server(root)


async def test_record_train_and_download_in_the_browser(aiohttp_server, browser, tmp_path, espeak):
    settings = Settings(data_dir=tmp_path / "data", default_preset="fast_test")
    server = await serve(aiohttp_server, settings)
    page = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    await page.open(str(server.make_url(PREFIX)))
    try:
        await page.wait("document.querySelector('#connection').textContent === 'live'")

        # A new wake word; the form leads to the recording tab.
        await page.type("#phrase", "hey computer")
        await page.click("#create")
        await page.wait("location.hash === '#/p/hey_computer/record'")

        # One take through the fake microphone: level meter, prompt, trimmed upload.
        await page.type("#speaker", "E2E Tester")
        await page.type("#rec-seconds", "2.5")
        await page.click("#mic-start")
        await page.wait("!document.querySelector('#record').disabled")
        loudest = await page.evaluate(LOUDEST_METER_WIDTH)
        await page.click("#record")
        await page.wait("document.querySelectorAll('#takes li').length === 1", timeout=20)
        take = await page.text("#takes li")
        assert take.startswith("#1 ·") and "silent" not in take, take
        assert "converted" not in take  # the browser's 48 kHz is converted as a matter of course
        assert "Record 2/30" in await page.text("#record")  # 30 takes a person: the target
        assert "60 recommended" in await page.text("#rec-target")
        first = await page.evaluate("document.querySelector('#takes li').dataset.id")
        played = await page.evaluate(
            f"fetch('api/projects/hey_computer/samples/{first}/audio').then(r => r.status)"
        )
        assert played == 200
        await page.click("#takes li .retake")  # deletes the take and records it again
        await page.wait(f"document.querySelector('#takes li').dataset.id !== '{first}'", 20)
        assert await page.evaluate("document.querySelectorAll('#takes li').length") == 1
        await page.screenshot(shots / "1_record.png")

        await page.open(str(server.make_url(PREFIX)) + "#/p/hey_computer/samples")
        await page.wait("document.querySelectorAll('#samples tr.sample').length === 1")
        row = await page.text("#samples tr.sample")
        assert "E2E Tester" in row and "browser" in row
        assert loudest > 20, "the level meter should move with the fake microphone's speech"

        # Synthetic samples through a synth job.
        await page.click("#tab-generate")
        for selector, value in (
            ("#syn-positives", "30"),
            ("#syn-hard", "20"),
            ("#syn-words", "5"),
            ("#syn-ambient", "2"),
            ("#syn-recorded", "0.5"),
            ("#syn-background", "3"),
            ("#syn-rirs", "2"),
        ):
            await page.type(selector, value)
        await page.click("#generate")
        await page.wait("location.hash.startsWith('#/job/')")
        await page.wait("document.querySelector('#job-state').textContent === 'succeeded'", 90)
        generated = "document.querySelector('#stages [data-stage=synth] progress').value"
        await page.wait(f"{generated} === 1")  # the synthesis bar, full once it succeeded

        # A tiny training run; progress arrives over the websocket.
        await page.open(str(server.make_url(PREFIX)) + "#/p/hey_computer/train")
        await page.wait(
            "document.querySelector('#counts tr[data-label=positive] .count').textContent === '31'"
        )
        await page.type("#overrides", json.dumps(TINY, indent=1))
        await page.wait("document.querySelector('#preset-estimate').textContent.includes('about')")
        assert "on this machine" in await page.text("#preset-estimate")
        await page.click("#train")  # below the minimums: says what is missing, asks again
        await page.wait("!document.querySelector('#train-anyway').hidden")
        warning = await page.text("#train-warning")
        assert "Wake-word clips: 31 clips of the minimum 100 clips (69 clips more)" in warning
        assert "Other speech: " in warning
        await page.click("#train-anyway")
        await page.wait("location.hash.startsWith('#/job/')")
        await page.wait("document.querySelector('#job-facts').textContent.includes('Step')", 120)
        await page.screenshot(shots / "2_progress.png")
        await page.wait("document.querySelector('#job-state').textContent === 'succeeded'", 180)
        await page.wait("!document.querySelector('#results').hidden")
        checks = await page.evaluate("document.querySelectorAll('#verify li.ok').length")
        failed = await page.evaluate("document.querySelectorAll('#verify li.fail').length")
        assert checks >= 10 and failed == 0
        # Minutes of generated speech: the false-wake figure rests on far less than an hour.
        assert (await page.text("#verdict-headline")).startswith("Not ready — ")
        assert "false wakes were measured on only" in await page.text("#verdict")
        assert "held-out wake words" in await page.text("#metrics")
        assert (
            await page.evaluate("document.querySelectorAll('#sensitivity tr[data-level]').length")
            == 3
        )
        bars = await page.evaluate(
            "[...document.querySelectorAll('#stages progress')].map(b => b.value)"
        )
        assert bars == [1, 1, 1, 1], bars
        await page.screenshot(shots / "3_results.png")

        # The download button hands over the model zip.
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        await page.allow_downloads(downloads)
        await page.click("#download")
        zips = await _wait_for_file(downloads, "*.zip")
        with zipfile.ZipFile(zips) as archive:
            names = set(archive.namelist())
        assert {"hey_computer.tflite", "hey_computer.json", "esphome.yaml"} <= names
    except BaseException:
        await page.screenshot(shots / "failure.png")
        print("browser console:", *page.console[-20:], sep="\n  ")
        raise


async def test_install_on_device_then_undo_then_flash(
    aiohttp_server, browser, tmp_path, monkeypatch
):
    pytest.importorskip("esphome")
    pytest.importorskip("pymicro_wakeword")
    no_internet(monkeypatch, tmp_path / "site", fast=True)  # the flash job's compile fails fast
    folder = esphome_folder(tmp_path / "esphome")
    original = (folder / "kitchen.yaml").read_bytes()
    app = create_app(Settings(data_dir=tmp_path / "data", esphome_dir=folder))
    root = web.Application()
    root.add_subapp(PREFIX, app)
    server = await aiohttp_server(root)
    job = await fake_trained_job(app)
    page = browser
    await page.open(f"{server.make_url(PREFIX)}#/job/{job.id}")
    try:
        # The verdict, its figures with what they were measured on, and the three levels.
        await page.wait("document.querySelector('#verdict')")
        headline = await page.text("#verdict-headline")
        assert headline == "Usable — trained on synthetic wake words only", headline
        figures = await page.text("#metrics")
        assert "woke on 188 of 200 held-out wake words (94 %)" in figures
        assert "festival, a speech engine it never heard" in figures
        levels = await page.evaluate(
            "[...document.querySelectorAll('#sensitivity tr[data-level]')].map(r => r.innerText)"
        )
        assert [row.split("\t")[0].strip() for row in levels] == [
            "Slightly sensitive\ncutoff 0.986",
            "Moderately sensitive (default)\ncutoff 0.971",
            "Very sensitive\ncutoff 0.904",
        ]
        # At phone width the verdict, its table, the levels and the install form fit.
        await page.wait("document.querySelector('#install-device')")
        await page.send("Emulation.setDeviceMetricsOverride", PHONE)
        offenders = await page.evaluate(
            "[...document.querySelectorAll("
            "'#verdict *, #metrics *, #sensitivity *, #stages *, #install *')]"
            ".filter(e => e.getBoundingClientRect().right > 390)"
            ".map(e => `${e.tagName} ${e.id} ${e.getBoundingClientRect().right}`)"
        )
        assert not offenders, offenders
        bars = "[...document.querySelectorAll('#stages progress')]"
        assert await page.evaluate(f"{bars}.every(b => b.getBoundingClientRect().width > 200)")
        await page.screenshot(tmp_path / "result_phone.png")
        await page.send("Emulation.setDeviceMetricsOverride", DESKTOP)
        await page.wait("document.querySelector('#install-device')")
        chosen = await page.evaluate(
            "document.querySelector('#install-device').selectedOptions[0].text"
        )
        assert chosen == "Kitchen Satellite (kitchen.yaml) — micro_wake_word: okay_nabu"
        await preview_and_install(page)
        await page.screenshot(tmp_path / "install_done.png")
        assert b"mww_hey_jarvis" in (folder / "kitchen.yaml").read_bytes()
        await page.click("#install-undo")
        await page.wait("document.querySelector('#install-undone')")
        assert (folder / "kitchen.yaml").read_bytes() == original
        assert not (folder / "wake_words" / "hey_jarvis").exists()
        assert "wake_words/hey_jarvis/ was removed" in await page.text("#install-undone")
        # A failing preview: its error alone, not beside the stale "Undone" result.
        (folder / "kitchen.yaml").write_bytes(original + b"\xff")
        await page.click("#install-preview")
        await page.wait("!document.querySelector('#install-error').hidden")
        assert "not UTF-8" in await page.text("#install-error")
        assert await page.evaluate("document.querySelector('#install-done').hidden")
        (folder / "kitchen.yaml").write_bytes(original)

        await preview_and_install(page)
        await page.click("#install-flash")  # a flash job: its page shows ESPHome's log live
        await page.wait("document.querySelector('#job-state').textContent === 'failed'", 60)
        assert "Generating C++ source" in await page.text("#events")
        assert "needs internet access" in await page.text("#job-error")
        assert "Not flashed" in await page.text("#results")  # with a way back to the model
        assert (await page.text("h1")).startswith("Compile & flash #2")
        failed = "document.querySelector('#stages .stage-row.failed')"
        assert await page.evaluate(f"{failed}.dataset.stage") == "compile"
        assert await page.evaluate(f"{failed}.querySelector('progress').value") < 1
        await page.open(f"{server.make_url(PREFIX)}#/p/hey_jarvis/jobs")
        await page.wait("document.querySelector('#jobs .verdict-badge')")
        assert await page.text("#jobs tr[data-id='1'] .verdict-badge") == "Usable"
        await page.screenshot(tmp_path / "flash_job.png")
    except BaseException:
        await page.screenshot(tmp_path / "install_failure.png")
        print("browser console:", *page.console[-20:], sep="\n  ")
        raise


async def preview_and_install(page) -> None:
    await page.click("#install-preview")
    await page.wait("document.querySelector('#install-plan .diff .add')")
    added = await page.evaluate(
        "[...document.querySelectorAll('#install-plan .diff .add')].map(e => e.textContent)"
    )
    assert "+  mww_hey_jarvis: !include wake_words/hey_jarvis/hey_jarvis.package.yaml\n" in added
    assert '+    name: "Wake word sensitivity (Hey Jarvis)"\n' in added
    assert "first of 2 models" in await page.text("#install-plan .warnings")
    await page.click("#install-apply")
    await page.wait("document.querySelector('#install-result')", timeout=60)
    assert "valid" in await page.text("#install-result")
    await page.wait("!document.querySelector('#install-undo').hidden")


async def test_an_insecure_page_explains_how_to_record(aiohttp_server, browser, tmp_path):
    address = _lan_address()
    if address is None:
        pytest.skip("no non-loopback address to open the panel from as an insecure origin")
    settings = Settings(data_dir=tmp_path / "data")
    root = web.Application()
    root.add_subapp(PREFIX, create_app(settings))
    server = await aiohttp_server(root, host=address)
    await browser.open(f"http://{address}:{server.port}{PREFIX}")
    await browser.type("#phrase", "hey computer")
    await browser.click("#create")
    notice = await browser.wait(
        "document.querySelector('#insecure') && document.querySelector('#insecure').textContent"
    )
    assert "HTTPS" in notice and "companion app" in notice and "Upload" in notice
    await browser.screenshot(tmp_path / "insecure.png")
    assert await browser.evaluate("document.querySelector('#mic-start') === null")


def _lan_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


async def _wait_for_file(folder: Path, pattern: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in folder.glob(pattern) if p.stat().st_size > 0]
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {pattern} downloaded into {folder}")
