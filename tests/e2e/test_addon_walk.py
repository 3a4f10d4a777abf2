"""The whole journey in headless Chromium, as a new user takes it on a phone: create a wake word,
generate samples, find and delete some in the sample list (and undo it), train (fast_test, tiny
counts), read the verdict, try the model live, install it into an ESPHome folder, undo that.

Every control is tapped where a finger would tap it at 390 px (scrolled into view, inside the
screen, not covered), and every screen is also laid out at 1280 px: at both widths no element
may reach past the right edge, and a screenshot of each is kept in the test's folder.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from aiohttp import web

from addon.app import LIBRARY, STORE, create_app
from addon.settings import Settings
from addon.store import NewSample
from mww_trainer.demo import QUICK_CLASS_WEIGHTS, TINY_MODEL
from tests.fakes.esphome_install import esphome_folder

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
PREFIX = "/api/hassio_ingress/e2e_walk/"
TINY = {
    "training": {"training_steps": [60, 20], "eval_step_interval": 20, **QUICK_CLASS_WEIGHTS},
    "model": TINY_MODEL,
}
WIDTHS = {
    1280: {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    390: {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
}
# Elements whose right edge is past the viewport's (the toast is fixed and centred).
TOO_WIDE = """[...document.querySelectorAll('body *')].filter((e) => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.right > innerWidth + 0.5 && getComputedStyle(e).position !== 'fixed';
}).map((e) => `${e.tagName}#${e.id}.${e.className} ${e.getBoundingClientRect().right}`)"""
STUB_CONFIRM = "window.asked = []; window.confirm = (q) => { window.asked.push(q); return true; };"
PAGE_INFO = "document.querySelector('#page-info').textContent"


class Walk:
    """The page at phone width, with a tap that a finger could make and a look at both widths."""

    def __init__(self, page, shots: Path):
        self.page, self.shots, self.seen = page, shots, 0

    async def tap(self, selector: str) -> None:
        found = f"document.querySelector({json.dumps(selector)})"
        await self.page.wait(f"{found} && !{found}.disabled && !{found}.closest('[hidden]')")
        spot = await self.page.evaluate(
            f"(() => {{ const e = {found}; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); const x = r.left + r.width / 2,"
            " y = r.top + r.height / 2; const top = document.elementFromPoint(x, y);"
            " return {x, y, left: r.left, right: r.right, width: r.width,"
            " reached: !!top && (e === top || e.contains(top) || top.contains(e))}; })()"
        )
        assert spot["width"] > 0 and spot["left"] >= 0, (selector, spot)
        assert spot["right"] <= await self.page.evaluate("innerWidth") + 0.5, (selector, spot)
        assert spot["reached"], f"{selector} is covered by another element: {spot}"
        for kind in ("mousePressed", "mouseReleased"):
            await self.page.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": spot["x"], "y": spot["y"], "button": "left", "clickCount": 1},
            )

    async def look(self, name: str) -> None:
        """At 1280 px, then back at 390 px: nothing wider than the screen; a screenshot of each."""
        self.seen += 1
        for width in (1280, 390):
            await self.page.send("Emulation.setDeviceMetricsOverride", WIDTHS[width])
            await self.page.evaluate("new Promise((r) => requestAnimationFrame(() => r(true)))")
            assert await self.page.evaluate(TOO_WIDE) == [], f"{name} at {width} px"
            await self.page.screenshot(self.shots / f"{self.seen:02d}_{name}_{width}.png")


@pytest.fixture
def tools() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: the fake microphone and synthesis need it")
    pytest.importorskip("esphome")
    pytest.importorskip("pymicro_wakeword")  # the ESPHome folder's okay_nabu model


async def test_create_generate_train_try_install_undo_at_1280_and_390_px(
    aiohttp_server, browser, tmp_path, tools
):
    folder = esphome_folder(tmp_path / "esphome")
    original = (folder / "kitchen.yaml").read_bytes()
    settings = Settings(data_dir=tmp_path / "data", default_preset="fast_test", esphome_dir=folder)
    root = web.Application()
    root.add_subapp(PREFIX, create_app(settings))
    url = str((await aiohttp_server(root)).make_url(PREFIX))
    shots = tmp_path / "walk"
    shots.mkdir()
    page = browser
    walk = Walk(page, shots)
    await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": STUB_CONFIRM})
    await page.send("Emulation.setDeviceMetricsOverride", WIDTHS[390])
    await page.open(url)
    try:
        await page.wait("document.querySelector('#connection').textContent === 'live'")
        await walk.look("home")
        await page.type("#phrase", "hey computer")
        await walk.tap("#create")
        await page.wait("location.hash === '#/p/hey_computer/record'")
        await walk.look("record")
        await walk.tap("#mode-room")
        await walk.look("record_the_room")

        await walk.tap("#tab-generate")
        await page.wait("document.querySelector('#syn-positives')")
        await walk.look("generate")
        for selector, value in (
            ("#syn-positives", "40"),
            ("#syn-hard", "20"),
            ("#syn-words", "5"),
            ("#syn-ambient", "1"),
            ("#syn-recorded", "0.5"),
            ("#syn-background", "2"),
            ("#syn-rirs", "2"),
        ):
            await page.type(selector, value)
        await walk.tap("#generate")
        await page.wait("location.hash.startsWith('#/job/')")
        await page.wait("document.querySelector('#job-state').textContent === 'succeeded'", 120)
        await walk.look("generated")

        await sample_list(page, walk, url)

        await page.open(url + "#/p/hey_computer/train")
        await page.wait("document.querySelector('#overrides')")
        await walk.look("train")
        await page.type("#overrides", json.dumps(TINY, indent=1))
        await walk.tap("#train")  # below every minimum: it says so and asks again
        await walk.tap("#train-anyway")
        await page.wait("location.hash.startsWith('#/job/')")
        await page.wait("document.querySelector('#job-facts').textContent.includes('Step')", 120)
        await walk.look("training")
        await page.wait("document.querySelector('#job-state').textContent === 'succeeded'", 240)
        await page.wait("document.querySelector('#verdict-headline')")
        assert (await page.text("#verdict-headline")).startswith("Not ready — ")
        assert "held-out wake words" in await page.text("#metrics")
        await walk.look("verdict")

        # Try it: the fake microphone says "hey computer"; the trace is drawn as it listens.
        await walk.tap("#try-start")
        await page.wait("Number(document.querySelector('#try-trace').dataset.heardS) > 4", 60)
        await walk.look("try_it")
        await walk.tap("#try-stop")
        assert (await page.text("#try-status")).startswith("Stopped.")

        # Install into the ESPHome folder, then undo it.
        await page.wait("document.querySelector('#install-device')")
        await walk.tap("#install-preview")
        await page.wait("document.querySelector('#install-plan .diff .add')")
        added = await page.text("#install-plan .diff")
        assert "mww_hey_computer: !include wake_words/hey_computer/" in added
        assert 'name: "Wake word sensitivity (hey computer)"' in added
        await walk.look("install_preview")
        await walk.tap("#install-apply")
        await page.wait("document.querySelector('#install-result')", timeout=90)
        assert "valid" in await page.text("#install-result")
        assert b"mww_hey_computer" in (folder / "kitchen.yaml").read_bytes()
        await walk.look("installed")
        await walk.tap("#install-undo")
        await page.wait("document.querySelector('#install-undone')")
        assert (folder / "kitchen.yaml").read_bytes() == original
        assert not (folder / "wake_words" / "hey_computer").exists()
        await walk.look("undone")

        for tab in ("satellites", "upload", "jobs", "manage"):
            await page.open(f"{url}#/p/hey_computer/{tab}")
            await page.wait("document.querySelector('#tab .card, #tab table, #tab p')")
            await walk.look(tab)
    except BaseException:
        await page.screenshot(shots / "failure.png")
        print("screenshots in", shots, "\nbrowser console:", *page.console[-20:], sep="\n  ")
        raise


async def sample_list(page, walk: Walk, url: str) -> None:
    """Pages, search, ticked rows and "all that match" deleted with one confirmation, undone."""
    await page.open(url + "#/p/hey_computer/samples")
    count = (
        "fetch('api/projects/hey_computer/samples?limit=1{}').then((r) => r.json())"
        ".then((p) => p.total)"
    )
    total = await page.evaluate(count.format(""))
    sound_alikes = await page.evaluate(count.format("&label=hard_negative"))
    assert total > 50 and sound_alikes == 20, (total, sound_alikes)
    await page.wait(f"{PAGE_INFO} === '1–50 of {total} samples'")
    assert await page.evaluate("document.querySelectorAll('#samples tr.sample').length") == 50
    await walk.tap("#page-next")
    await page.wait(f"{PAGE_INFO} === '51–{total} of {total} samples'")

    # Search by the kind's name: a new search starts at the first page.
    await page.type("#sample-search", "sound-alikes")
    await page.wait(f"{PAGE_INFO} === '1–20 of 20 samples'")
    for row in (1, 2, 3):
        await walk.tap(f"#samples tr.sample:nth-of-type({row + 1}) .pick-row")
    await page.wait("document.querySelector('#picked').textContent === '3 samples selected'")
    await walk.look("samples_ticked")
    await walk.tap("#delete-picked")
    await page.wait("document.querySelector('#undo-text').textContent === 'Deleted 3 samples.'")
    assert (await page.evaluate("window.asked.at(-1)")).startswith("Delete 3 samples?")
    await page.wait(f"{PAGE_INFO} === '1–17 of 17 samples'")
    await walk.tap("#undo-delete")
    await page.wait("document.querySelector('#undo-text').textContent === '3 samples put back.'")
    await page.wait(f"{PAGE_INFO} === '1–20 of 20 samples'")

    # Everything that matches, more than a page: one confirmation names the count; undo.
    await page.type("#sample-search", "")
    await page.wait(f"{PAGE_INFO} === '1–50 of {total} samples'")
    await walk.tap("#pick-page")
    await walk.tap("#pick-all")
    await page.wait(f"document.querySelector('#picked').textContent === '{total} samples selected'")
    await walk.look("samples_all_selected")
    await walk.tap("#delete-picked")
    await page.wait(f"{PAGE_INFO} === '0 samples'")
    assert (await page.evaluate("window.asked.at(-1)")).startswith(f"Delete {total} samples?")
    await walk.tap("#undo-delete")
    await page.wait(f"{PAGE_INFO} === '1–50 of {total} samples'")
    await walk.look("samples")


def voice(i: int) -> str:
    return f"synth voice{i % 900}"


def many_rows(count: int) -> list[NewSample]:
    """Rows as a Generate job files them (no audio: a list never reads it); 1 in 1000 clipped."""
    return [
        NewSample(
            label=("positive", "hard_negative", "negative")[i % 3],
            speaker=voice(i),
            source="synthetic",
            duration_s=1.5,
            flags=("clipped",) if i % 1000 == 0 else (),
            path=f"dataset/positive/{voice(i).replace(' ', '_')}/synthetic_{i:012x}.wav",
            sha256=f"{i:064x}",
        )
        for i in range(count)
    ]


async def test_a_list_of_20000_samples_pages_and_searches_quickly_at_390_px(
    aiohttp_server, browser, tmp_path
):
    """The list asks the service for one page at a time: 20,000 rows cost no more than 50."""
    panel = create_app(Settings(data_dir=tmp_path / "data"))
    root = web.Application()
    root.add_subapp(PREFIX, panel)
    url = str((await aiohttp_server(root)).make_url(PREFIX))
    fields = {"slug": "hey_computer", "phrase": "hey computer", "language": "en", "author": "t"}
    project = await panel[LIBRARY].create_project({**fields, "website": None})
    await panel[STORE].add_samples(project.id, many_rows(20000))
    searched = [i for i in range(20000) if "voice7" in voice(i)]
    clipped = [i for i in searched if i % 1000 == 0]
    page = browser
    await page.send("Emulation.setDeviceMetricsOverride", WIDTHS[390])
    number = "(n) => n.toLocaleString()"
    started = time.monotonic()
    await page.open(f"{url}#/p/hey_computer/samples")
    await page.wait(f"{PAGE_INFO} === `1–50 of ${{({number})(20000)}} samples`")
    shown_s = time.monotonic() - started
    assert shown_s < 5, f"the first page of 20,000 took {shown_s:.1f} s"
    await page.click("#page-next")
    await page.wait(f"{PAGE_INFO}.startsWith('51–100 of')")
    await page.type("#sample-search", "voice7")
    await page.wait(f"{PAGE_INFO} === `1–50 of ${{({number})({len(searched)})}} samples`")
    await page.type("#flag-filter", "clipped")
    await page.wait(f"{PAGE_INFO} === '1–{len(clipped)} of {len(clipped)} samples'")
    await page.click("#pick-page")
    assert await page.text("#picked") == f"{len(clipped)} samples selected"
    assert await page.evaluate(TOO_WIDE) == []
    await page.screenshot(tmp_path / "many_samples_390.png")
