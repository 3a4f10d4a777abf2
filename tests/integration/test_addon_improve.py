""" "Improve this model" through the real worker: a tune job from a trained job's checkpoint,
exported, verified and evaluated like training, and downloadable."""

from __future__ import annotations

import io
import zipfile

import pytest

from addon.app import create_app
from addon.jobspec import TUNE_DEFAULTS
from addon.settings import Settings
from tests.fakes.job_polling import wait_for
from tests.integration.test_addon_jobs import espeak, synthesised_project, tiny_overrides

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]
__all__ = ["espeak"]  # the fixture, used by name


async def test_improve_a_trained_model(aiohttp_client, tmp_path, espeak):
    settings = Settings(data_dir=tmp_path / "data")
    client = await aiohttp_client(create_app(settings))
    info = await (await client.get("/api/info")).json()
    assert info["tune_defaults"] == TUNE_DEFAULTS
    await synthesised_project(client)
    synth_id = (await (await client.get("/api/jobs")).json())["jobs"][0]["id"]
    bad = await client.post(f"/api/jobs/{synth_id}/improve", json={})
    assert bad.status == 400 and "no model to improve" in (await bad.json())["error"]
    response = await client.post(
        "/api/projects/hey_computer/train",
        json={"preset": "fast_test", "overrides": tiny_overrides([40, 20], eval_every=20)},
    )
    assert response.status == 201, await response.text()
    trained = await wait_for(client, (await response.json())["id"])
    assert trained["state"] == "succeeded", trained["error"]
    assert trained["result"]["checkpoint"].endswith("best_weights.weights.h5")
    assert isinstance(trained["result"]["dataset_notes"], list)

    bad = await client.post(f"/api/jobs/{trained['id']}/improve", json={"target_recall": 2})
    assert bad.status == 400 and "target_recall" in (await bad.json())["error"]
    response = await client.post(
        f"/api/jobs/{trained['id']}/improve",
        json={"target_fah": 0.0, "target_recall": 1.0, "max_iterations": 1, "patience": 1,
              "steps_per_iteration": 20},
    )  # fmt: skip
    assert response.status == 201, await response.text()
    job = await wait_for(client, (await response.json())["id"], timeout=300)
    assert job["kind"] == "tune" and job["state"] == "succeeded", job["error"]
    result = job["result"]
    tuning = result["tuning"]
    assert tuning["iterations"] == 1 and tuning["met"] is False
    assert tuning["target_fah"] == 0.0 and tuning["target_recall"] == 1.0
    assert {"fa_per_hour", "recall", "cutoff"} <= set(tuning["before"]) & set(tuning["after"])
    assert result["compatible"] is True and result["verdict"]["level"]
    assert result["evaluation"]["positives"] > 0
    events = (await (await client.get(f"/api/jobs/{job['id']}/events")).json())["events"]
    assert any(e["stage"] == "tune" and e["done"] == 1 for e in events)

    response = await client.get(f"/api/jobs/{job['id']}/download")
    assert response.status == 200
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        assert {"hey_computer.tflite", "hey_computer.json"} <= set(archive.namelist())
