"""'Try it' in headless Chromium: the fake microphone says the model's wake word, the page
shows "Heard it!"; a recording of other speech, tried as a file, is not heard.

The trained job holds the official hey_jarvis model, as the install tests' job does; the
microphone plays piper saying "hey jarvis" in a loop. The panel is served under an ingress-like
prefix, so the websocket and the upload go through relative URLs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from addon.app import create_app
from addon.settings import Settings
from tests.fakes.esphome_install import fake_trained_job
from tests.fakes.try_audio import say_hey_jarvis

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
PREFIX = "/api/hassio_ingress/e2e_try/"
REFUSE_MICROPHONE = """navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"""


@pytest.fixture(scope="module")
def hey_jarvis_wav(tmp_path_factory) -> Path:
    return say_hey_jarvis(tmp_path_factory.mktemp("try_mic") / "hey_jarvis.wav", tail_s=2.0)


@pytest.fixture
def fake_microphone_wav(request, hey_jarvis_wav: Path, speech_wav: Path) -> Path:
    """What the browser fixture's microphone plays, on a loop: "hey jarvis", the wake word;
    with the parameter "other speech", espeak-ng saying "hey computer"."""
    return speech_wav if getattr(request, "param", None) == "other speech" else hey_jarvis_wav


async def choose_file(page, selector: str, path: Path) -> None:
    document = await page.send("DOM.getDocument")
    node = await page.send(
        "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": selector}
    )
    await page.send("DOM.setFileInputFiles", {"files": [str(path)], "nodeId": node["nodeId"]})


async def open_trained_job(aiohttp_server, page, data_dir: Path) -> None:
    """The panel under the ingress-like prefix, showing a trained job's result page."""
    panel = create_app(Settings(data_dir=data_dir))
    root = web.Application()
    root.add_subapp(PREFIX, panel)
    url = (await aiohttp_server(root)).make_url(PREFIX)
    await page.open(f"{url}#/job/{(await fake_trained_job(panel)).id}")


async def test_the_model_is_heard_live_and_other_speech_is_not(
    aiohttp_server, browser, tmp_path, speech_wav, fake_microphone_wav
):
    pytest.importorskip("pymicro_wakeword")
    page = browser
    await open_trained_job(aiohttp_server, page, tmp_path / "data")
    try:
        await page.click("#try-start")
        await page.wait("document.querySelector('#try-status').textContent.includes('cutoff 0.97')")
        heard = "document.querySelector('#try-wakes li')"
        text = await page.wait(f"{heard} && {heard}.textContent", timeout=40)
        assert text.startswith("Heard it! at ")
        drawn = await page.evaluate(
            "(() => { const c = document.querySelector('#try-trace');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()"
        )
        assert drawn > 500, "the probability trace should be drawn"
        await page.screenshot(tmp_path / "try_live.png")
        await page.click("#try-stop")
        assert (await page.text("#try-status")).startswith("Stopped. Heard")

        # Other speech ("hey computer" by espeak-ng), tried as a file: not heard.
        await choose_file(page, "#try-file", speech_wav)
        await page.click("#try-file-go")
        verdict = "document.querySelector('#try-file-verdict')"
        other = await page.wait(f"{verdict} && {verdict}.textContent")
        assert other.startswith(f"Not heard in {speech_wav.name}")
        await choose_file(page, "#try-file", fake_microphone_wav)
        await page.click("#try-file-go")
        words = await page.wait(
            f"{verdict} && {verdict}.textContent.startsWith('Heard') && {verdict}.textContent"
        )
        assert words.startswith("Heard it in hey_jarvis.wav: ")
        await page.screenshot(tmp_path / "try_file.png")
    except BaseException:
        await page.screenshot(tmp_path / "try_failure.png")
        print("browser console:", *page.console[-20:], sep="\n  ")
        raise


@pytest.mark.parametrize("fake_microphone_wav", ["other speech"], indirect=True)
async def test_other_speech_is_not_heard_live(aiohttp_server, browser, tmp_path):
    pytest.importorskip("pymicro_wakeword")
    page = browser
    await open_trained_job(aiohttp_server, page, tmp_path / "data")
    await page.click("#try-start")
    await page.wait("Number(document.querySelector('#try-trace').dataset.heardS) > 10", 40)
    assert await page.evaluate("document.querySelectorAll('#try-wakes li').length") == 0
    await page.click("#try-stop")
    assert await page.text("#try-status") == "Stopped. Not heard."


async def test_a_blocked_microphone_is_explained(aiohttp_server, browser, tmp_path):
    pytest.importorskip("pymicro_wakeword")
    page = browser
    # What a page sees when the user (or a site setting) refuses the microphone. Chromium's
    # fake-UI flag grants every request, so the refusal is played by the page's API itself.
    await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": REFUSE_MICROPHONE})
    await open_trained_job(aiohttp_server, page, tmp_path / "data")
    await page.click("#try-start")
    status = "document.querySelector('#try-status')"
    message = await page.wait(f"{status}.className === 'error' && {status}.textContent")
    assert message.startswith("The browser blocked the microphone for this page. Allow it")
    assert await page.evaluate("!document.querySelector('#try-start').hidden")
    assert await page.evaluate("document.querySelector('#try-mic-problem') === null")


async def test_an_insecure_page_says_why_and_offers_a_recording(aiohttp_server, browser, tmp_path):
    # As over plain HTTP from another machine (recordingProblem() reads isSecureContext; the
    # record tab's test opens a real LAN address).
    pytest.importorskip("pymicro_wakeword")
    page = browser
    insecure = "Object.defineProperty(window, 'isSecureContext', {value: false});"
    await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": insecure})
    await open_trained_job(aiohttp_server, page, tmp_path / "data")
    notice = await page.wait(
        "document.querySelector('#try-mic-problem') &&"
        " document.querySelector('#try-mic-problem').textContent"
    )
    assert "only to HTTPS pages" in notice and "try a recording below" in notice
    assert await page.evaluate("document.querySelector('#try-start').disabled")
    assert await page.evaluate("!!document.querySelector('#try-file-go')")
    # At phone width every part of the card stays on screen.
    await page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    wider = await page.evaluate(
        "[...document.querySelectorAll('#try, #try *')]"
        ".filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5).map((e) => e.id"
        " || e.tagName)"
    )
    assert wider == []
    await page.screenshot(tmp_path / "try_390.png")
