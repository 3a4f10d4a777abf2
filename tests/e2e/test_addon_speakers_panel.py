"""Group by speaker and Improve this model in headless Chromium.

Group: two voices' takes uploaded without a speaker are grouped by a real worker; the panel shows
each group with clips that play, applies the groups with a name typed for one, and undoes it.
Improve: a result that is not Ready offers "Improve this model" with the targets prefilled and
its data notes (speaker leakage first); starting it opens the tune job's page.
"""

from __future__ import annotations

import shutil

import pytest
from aiohttp import web

pytest.importorskip("torch", reason="Group by speaker needs the cluster extra")

from addon.app import create_app
from addon.jobspec import TUNE_DEFAULTS
from addon.keys import STORE
from addon.settings import Settings
from tests.e2e.test_addon_panel import PREFIX, serve
from tests.fakes.esphome_install import fake_trained_job
from tests.integration.test_addon_speakers import TAKES, VOICES, takes_zip, upload, wav

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]
LEAK = "speaker leakage: 'bob' (val) sounds like 'alice' (train), similarity 0.97"


async def test_group_preview_apply_and_undo(aiohttp_server, aiohttp_client, browser, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    settings = Settings(data_dir=tmp_path / "data")
    server = await serve(aiohttp_server, settings)
    api = _Api(await aiohttp_client(server))
    assert (await api.post("api/projects", json={"phrase": "hey computer"})).status == 201
    data, _ = takes_zip()
    await upload(api, data, "takes.zip", source="upload")
    await upload(api, wav("bea", 7), "mine.wav", source="browser", speaker="Alice")

    page = browser
    await page.open(str(server.make_url(PREFIX)) + "#/p/hey_computer/samples")
    await page.wait("document.querySelector('#connection').textContent === 'live'")
    await page.wait("!document.querySelector('#speakers').hidden")
    assert f"{len(VOICES) * TAKES} takes" in await page.text("#speakers-unlabelled")
    await page.click("#group-start")  # no count: the suggested one
    await page.wait("document.querySelectorAll('#speaker-groups .group').length === 2", 120)
    assert "the suggested count, 2" in await page.text("#speakers-summary")
    clips = await page.evaluate(
        "[...document.querySelectorAll('#speaker-groups audio')].map((a) => a.src)"
    )
    assert 2 <= len(clips) <= 8
    statuses = await page.evaluate(
        "Promise.all([...document.querySelectorAll('#speaker-groups audio')].map("
        "(a) => fetch(a.src).then((r) => r.status + ' ' + r.headers.get('Content-Type'))))"
    )
    assert set(statuses) == {"200 audio/wav"}

    await page.type(".group-name[data-group='0']", "Anna")
    await page.click("#group-apply")
    await page.wait("document.querySelector('#speakers-undo')")
    status = await (await api.get("api/projects/hey_computer/speakers")).json()
    assert status["unlabelled"] == 0 and status["undo"]["moved"] == len(VOICES) * TAKES
    speakers = {s["speaker"] for s in await _samples(api)}
    assert speakers == {"Anna", "voice 1", "Alice"}

    await page.click("#speakers-undo")
    await page.wait("document.querySelectorAll('#speaker-groups .group').length === 2")
    assert {s["speaker"] for s in await _samples(api)} == {"upload", "Alice"}
    assert not await page.evaluate("document.querySelector('#speakers-undo') !== null")
    assert not [line for line in page.console if line.startswith("exception")]


async def test_improve_this_model_from_a_result_page(aiohttp_server, browser, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    root = web.Application()
    root.add_subapp(PREFIX, app)
    server = await aiohttp_server(root)
    job = await fake_trained_job(app)
    store = app[STORE]
    await store.update_job(job.id, result={**job.result, "dataset_notes": ["a split note", LEAK]})
    assert job.result["verdict"]["level"] != "ready"

    page = browser
    await page.open(str(server.make_url(PREFIX)) + f"#/job/{job.id}")
    await page.wait("document.querySelector('#improve')")
    # The targets arrive with api/info, after the section is drawn (CI once read them first).
    await page.wait("document.querySelector('#tune-recall').value !== ''")
    assert await page.evaluate("document.querySelector('#tune-fah').value") == str(
        TUNE_DEFAULTS["target_fah"]
    )
    recall = await page.evaluate("document.querySelector('#tune-recall').value")
    assert recall == str(round(100 * TUNE_DEFAULTS["target_recall"]))
    assert await page.evaluate("document.querySelector('#dataset-notes').open") is True
    assert "sounds like" in await page.text("#dataset-notes li.leak")

    await page.evaluate("document.querySelector('#tune-fah').value = '0.2'")
    await page.click("#improve")
    await page.wait(f"location.hash !== '#/job/{job.id}'")
    tune_id = int((await page.evaluate("location.hash")).rsplit("/", 1)[1])
    tune = await store.get_job(tune_id)
    assert tune.kind == "tune" and tune.spec["from_job"] == job.id
    assert tune.spec["target_fah"] == 0.2
    assert tune.spec["target_recall"] == TUNE_DEFAULTS["target_recall"]
    await page.wait("document.querySelector('h1').textContent.startsWith('Improving')")
    # The fake job has no checkpoint: the tune job fails at once and says why.
    await page.wait("!document.querySelector('#job-error').hidden", 30)
    assert "checkpoint is no longer on disk" in await page.text("#job-error")


class _Api:
    """The test client with the ingress prefix in front of every path."""

    def __init__(self, client):
        self.client = client

    def get(self, path: str, **kwargs):
        return self.client.get(PREFIX + path.lstrip("/"), **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(PREFIX + path.lstrip("/"), **kwargs)


async def _samples(api: _Api) -> list[dict]:
    return (await (await api.get("api/projects/hey_computer/samples")).json())["samples"]
