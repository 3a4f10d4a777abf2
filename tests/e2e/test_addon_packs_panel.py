"""In headless Chromium: the start page's Speech packs card says what a model lacks, fetches a
pack from a server on 127.0.0.1 after one confirmation, and shows it installed."""

from __future__ import annotations

import pytest
from aiohttp import web

from addon.app import create_app
from addon.packs import PACK_CATALOG
from addon.settings import Settings
from mww_trainer.packs import WITHOUT_REAL_SPEECH
from tests.fakes.pack_server import catalog_entry, serve, speech_members, tar_gz, write_catalog

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
PREFIX = "/api/hassio_ingress/e2e_token/"
NOTICE = "document.querySelector('#packs-notice')"


async def test_fetch_a_speech_pack_from_the_panel(aiohttp_server, browser, tmp_path):
    archive = tar_gz(speech_members())
    with serve() as packs:
        entry = catalog_entry("test-speech", packs.add("/corpus.tar.gz", archive), archive)
        catalog = write_catalog(tmp_path / "catalog.json", entry)

        def use_catalog(app: web.Application) -> None:
            app[PACK_CATALOG] = str(catalog)

        root = web.Application()
        root.add_subapp(
            PREFIX, create_app(Settings(data_dir=tmp_path / "data"), plugins=[use_catalog])
        )
        server = await aiohttp_server(root)
        await browser.open(str(server.make_url(PREFIX)))

        notice = await browser.wait(f"{NOTICE} && !{NOTICE}.hidden && {NOTICE}.textContent")
        assert WITHOUT_REAL_SPEECH in notice
        row = await browser.text("#packs tr[data-pack='test-speech']")
        assert "CC0 1.0" in row and "kB" in row
        await browser.evaluate(
            "window.asked = []; window.confirm = (q) => { asked.push(q); return true; }; true"
        )
        await browser.click("[data-fetch='test-speech']")
        await browser.wait("document.querySelector('#packs td.installed')", timeout=30)
        (question,) = await browser.evaluate("window.asked")
        assert "Test pack test-speech" in question and "CC0 1.0" in question
        assert "made by the mww-trainer tests" in question  # the attribution
        assert await browser.evaluate(f"{NOTICE}.hidden")
        assert "Installed: 4 files" in await browser.text("#packs td.installed")
        await browser.screenshot(tmp_path / "packs.png")
