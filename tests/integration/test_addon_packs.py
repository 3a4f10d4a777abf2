"""Speech packs through the add-on's API: the listing, one confirmed fetch from a server on
127.0.0.1 with live progress, the offline notice, and the hook into a training job's config.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from addon import jobspec
from addon.app import create_app
from addon.keys import BROADCASTER
from addon.packs import NO_PACK_NOTICE, NO_VOICE_PACK_NOTICE, PACK_CATALOG
from addon.settings import Settings
from addon.store import Project, ProjectLayout
from mww_trainer.config.schema import allowed_keys
from mww_trainer.job_specs import spec_from_dict
from mww_trainer.packs import WITHOUT_REAL_SPEECH
from tests.fakes.pack_server import (
    catalog_entry,
    closed_port_url,
    serve,
    speech_members,
    tar_gz,
    voice_pack_entry,
    write_catalog,
)


@pytest.fixture
def served(tmp_path: Path):
    archive = tar_gz(speech_members())
    with serve() as server:
        url = server.add("/corpus.tar.gz", archive)
        catalog = write_catalog(
            tmp_path / "catalog.json", catalog_entry("test-speech", url, archive)
        )
        yield server, catalog


async def _client(aiohttp_client, tmp_path: Path, catalog: Path | str):
    def use_catalog(app):
        app[PACK_CATALOG] = str(catalog)

    settings = Settings(data_dir=tmp_path / "data")
    return await aiohttp_client(create_app(settings, plugins=[use_catalog]))


async def _wait_fetch(client, pack_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fetch = await (await client.get(f"/api/packs/{pack_id}/fetch")).json()
        if fetch["state"] != "running":
            return fetch
        await asyncio.sleep(0.1)
    raise AssertionError(f"the fetch of {pack_id} is still running: {fetch}")


@pytest.mark.asyncio
async def test_listing_then_one_confirmed_fetch_installs_the_pack(aiohttp_client, tmp_path, served):
    server, catalog = served
    client = await _client(aiohttp_client, tmp_path, catalog)

    listing = await (await client.get("/api/packs")).json()
    assert listing["notice"] == NO_PACK_NOTICE and WITHOUT_REAL_SPEECH in listing["notice"]
    (pack,) = listing["packs"]
    assert pack["id"] == "test-speech" and pack["licence"] == "CC0 1.0"
    assert pack["size_bytes"] == len(server.files["/corpus.tar.gz"])
    assert pack["installed"] is None and pack["attribution"]

    unconfirmed = await client.post("/api/packs/test-speech/fetch", json={})
    assert unconfirmed.status == 400
    assert "CC0 1.0" in (await unconfirmed.json())["error"] and not server.requests

    messages = client.app[BROADCASTER].subscribe()
    started = await client.post("/api/packs/test-speech/fetch", json={"confirm": True})
    assert started.status == 202, await started.text()
    fetch = await _wait_fetch(client, "test-speech")
    assert fetch["state"] == "succeeded", fetch

    seen = []
    while not messages.empty():
        seen.append(messages.get_nowait())
    stages = {m["fetch"]["stage"] for m in seen if m["type"] == "pack"}
    assert {"download", "installed"} <= stages

    listing = await (await client.get("/api/packs")).json()
    assert listing["notice"] is None
    installed = listing["packs"][0]["installed"]
    expected = tmp_path / "data/packs/test-speech/Corpus/speech"
    assert installed["audio_dir"] == str(expected) and installed["audio_files"] == 4
    assert jobspec.installed_pack_dirs(tmp_path / "data") == [str(expected)]

    refused = await client.delete("/api/packs/test-speech")
    assert refused.status == 400
    removed = await client.delete("/api/packs/test-speech?confirm=test-speech")
    assert removed.status == 200 and not expected.exists()


@pytest.mark.asyncio
async def test_an_unknown_pack_is_404_and_an_offline_catalog_is_a_notice(aiohttp_client, tmp_path):
    client = await _client(aiohttp_client, tmp_path, f"{closed_port_url()}/catalog.json")
    listing = await (await client.get("/api/packs")).json()
    assert listing["packs"] == [] and WITHOUT_REAL_SPEECH in listing["catalog_error"]
    assert listing["notice"] == NO_PACK_NOTICE
    response = await client.post("/api/packs/anything/fetch", json={"confirm": True})
    assert response.status == 503 and WITHOUT_REAL_SPEECH in (await response.json())["error"]


@pytest.mark.asyncio
async def test_the_built_in_catalog_is_listed_without_a_network(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data")))
    listing = await (await client.get("/api/packs")).json()
    assert listing["catalog_error"] is None
    packs = {p["id"]: p for p in listing["packs"]}
    dev_clean = packs["librispeech-dev-clean"]
    assert dev_clean["size_bytes"] == 337926286 and dev_clean["licence"] == "CC BY 4.0"
    assert "Panayotov" in dev_clean["attribution"]


def _project() -> Project:
    return Project(
        id=1,
        slug="hey_computer",
        phrase="hey computer",
        language="en",
        author="a",
        website=None,
        created_by=None,
        created_at=0.0,
    )


def test_a_training_job_lists_the_installed_packs_as_negatives(tmp_path):
    project = _project()
    layout = ProjectLayout(tmp_path / "projects/hey_computer")
    request = {"preset": "fast_test", "overrides": {}, "seed": 0}
    spec = jobspec.train_job(
        request, project, layout, tmp_path / "job", negative_pack_dirs=["/data/packs/x/audio"]
    )
    if "negative_pack_dirs" in (allowed_keys(("paths",)) or ()):
        assert spec["config"]["paths"]["negative_pack_dirs"] == ["/data/packs/x/audio"]
    else:  # the config does not know the key yet: the job still builds
        assert "negative_pack_dirs" not in spec["config"]["paths"]


@pytest.mark.asyncio
async def test_a_voice_pack_speaks_in_synth_jobs_and_never_trains_as_negatives(
    aiohttp_client, tmp_path, monkeypatch
):
    pytest.importorskip("piper")
    pytest.importorskip("onnx")
    from mww_trainer import worker
    from mww_trainer.synth import piper_voices
    from tests.unit.test_synth_piper import write_tiny_voice

    monkeypatch.setattr(piper_voices, "VOICE_PACKAGES", ())  # count the pack's speakers only
    model = write_tiny_voice(tmp_path / "made" / "en_US-crowd-medium.onnx", speakers=3)
    files = {p.name: p.read_bytes() for p in (model, model.with_name(model.name + ".json"))}
    archive = tar_gz(speech_members())
    with serve() as server:
        speech = catalog_entry("test-speech", server.add("/corpus.tar.gz", archive), archive)
        voices = voice_pack_entry("test-crowd", server, files)
        catalog = write_catalog(tmp_path / "catalog.json", speech, voices)
        client = await _client(aiohttp_client, tmp_path, catalog)
        listing = await (await client.get("/api/packs")).json()
        assert listing["voice_packs"] == [] and listing["voices_notice"] == NO_VOICE_PACK_NOTICE
        offered = {p["id"]: p for p in listing["packs"]}["test-crowd"]
        assert offered["role"] == "voices" and offered["licence"] == "CC0 1.0"
        assert offered["size_bytes"] == sum(len(b) for b in files.values())
        for pack_id in ("test-crowd", "test-speech"):
            started = await client.post(f"/api/packs/{pack_id}/fetch", json={"confirm": True})
            assert started.status == 202, await started.text()
            assert (await _wait_fetch(client, pack_id))["state"] == "succeeded"

    listing = await (await client.get("/api/packs")).json()
    assert listing["voice_packs"] == ["test-crowd"] and "Test voices" in listing["voices_notice"]
    installed = {p["id"]: p["installed"] for p in listing["packs"]}
    assert installed["test-crowd"]["audio_files"] == 1
    data = tmp_path / "data"
    folder = data / "packs" / "test-crowd"
    # Training reads the speech pack alone; synthesis speaks with the voice pack.
    assert jobspec.installed_pack_dirs(data) == [str(data / "packs/test-speech/Corpus/speech")]
    assert jobspec.installed_voice_dirs(data) == [str(folder)]

    request = jobspec.synth_request({"positives": 6, "seed": 2})
    spec = jobspec.synth_job(
        request, _project(), tmp_path / "job", voice_pack_dirs=jobspec.installed_voice_dirs(data)
    )
    assert spec["synth"]["voice_pack_dirs"] == [str(folder)]
    spec["synth"]["engines"] = ["piper"]  # the test's own: the other engines are tested elsewhere
    typed = spec_from_dict(json.loads(jobspec.dump(spec)))
    result = worker.run_synth(typed, tmp_path / "job", lambda e: None)
    voices = {Path(p).parent.name for p in result["paths"] if "/positive/" in p}
    assert voices == {f"piper-en_US-crowd-medium-{i}" for i in range(3)}
