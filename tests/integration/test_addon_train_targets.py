"""Targets, the train warning and the time estimates through the app's routes."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from addon.app import create_app
from addon.settings import Settings
from tests.integration.test_addon_jobs import wait_for

pytestmark = pytest.mark.asyncio

# A training worker that finishes at once with the figures a real fast_test run reports.
MEASURED_WORKER = textwrap.dedent("""
    import json, sys
    result = {"ok": True, "steps": 3000, "resumed_from": 0, "train_seconds": 300.0,
              "seconds": 360.0}
    with open(sys.argv[1] + "/result.json", "w") as f:
        json.dump(result, f)
""")


def _form(path: Path, label: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("label", label)
    form.add_field("file", path.read_bytes(), filename=path.name)
    return form


def _install_pack(data_dir: Path, pack_id: str, hours: float) -> None:
    folder = data_dir / "packs" / pack_id
    (folder / "audio").mkdir(parents=True)
    record = {
        "id": pack_id, "title": "LibriSpeech dev-clean", "role": "negative",
        "licence": "CC-BY-4.0", "attribution": "Panayotov et al.", "audio_dir": "audio",
        "installed_at": 0, "download_bytes": 1, "audio_files": 1, "audio_bytes": 1,
        "hours": hours,
    }  # fmt: skip
    (folder / "installed.json").write_text(json.dumps(record))


async def test_targets_count_packs_and_training_below_a_minimum_says_what_is_missing(
    aiohttp_client, tmp_path, speech_wav, noise_wav
):
    worker = tmp_path / "worker.py"
    worker.write_text(MEASURED_WORKER)
    settings = Settings(data_dir=tmp_path / "data")
    _install_pack(settings.data_dir, "librispeech-dev-clean", 1.25)
    client = await aiohttp_client(
        create_app(settings, worker_command=(sys.executable, str(worker)))
    )
    info = await (await client.get("/api/info")).json()
    served = {t["kind"]: t for t in info["targets"]}
    assert served["negative"]["unit"] == "hours" and served["negative"]["minimum"] == 2.0
    assert served["recorded"]["per_person"] == 30  # the Record tab's default takes
    generate = info["synth_defaults"]  # what the Generate tab offers: recommended in one click
    assert generate["positives"] >= served["positive"]["recommended"]
    assert generate["hard_negatives"] >= served["hard_negative"]["recommended"]
    assert generate["ambient_minutes"] / 60 >= served["negative"]["minimum"]
    assert info["synth_bounds"]["ambient_minutes"] / 60 >= served["negative"]["recommended"]

    assert (await client.post("/api/projects", json={"phrase": "hey computer"})).status == 201
    for path, label in ((speech_wav, "positive"), (noise_wav, "negative")):
        form = _form(path, label)
        form.add_field("source", "browser")
        response = await client.post("/api/projects/hey_computer/samples", data=form)
        assert response.status == 201, await response.text()
    project = await (await client.get("/api/projects/hey_computer")).json()
    rows = {t["kind"]: t for t in project["targets"]}
    assert rows["negative"]["pack_hours"] == 1.25
    noise_h = project["counts"]["negative"]["duration_s"] / 3600  # a few seconds
    assert rows["negative"]["have"] == pytest.approx(1.25 + noise_h, abs=0.005)
    assert rows["recorded"]["have"] == 1  # recorded in the browser
    assert project["below_minimum"] == [
        "Wake-word clips: 1 clip of the minimum 100 clips (99 clips more)",
        "Sound-alikes: 0 clips of the minimum 50 clips (50 clips more)",
        "Other speech: 1.3 h of the minimum 2.0 h (0.7 h more)",
    ]

    estimates = await (await client.get("/api/train/estimates")).json()
    assert estimates["measured_jobs"] == 0
    response = await client.post("/api/projects/hey_computer/train", json={"preset": "fast_test"})
    assert response.status == 201, await response.text()
    job = await response.json()
    assert job["below_minimum"] == project["below_minimum"]
    assert (await wait_for(client, job["id"]))["state"] == "succeeded"

    # The finished job's measured speed (3000 steps x 32 clips in 300 s) times the presets.
    estimates = await (await client.get("/api/train/estimates")).json()
    assert estimates["measured_jobs"] == 1 and estimates["clips_per_s"] == 320.0
    standard = estimates["estimates"]["standard"]
    assert standard["measured"] and standard["seconds"] == 30000 * 128 // 320 + 60
    assert standard["text"] == "about 3 h 20 min"
