"""Jobs through the real worker process: synthesis, training, download, cancel and restarts."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from addon.app import create_app
from addon.jobspec import synth_request
from addon.keys import ON_JOB_FINISHED
from addon.settings import Settings
from addon.store import Store
from mww_trainer.demo import QUICK_CLASS_WEIGHTS, TINY_MODEL
from tests.fakes.job_polling import wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]

SYNTH = {"positives": 30, "hard_negatives": 20, "ambient_minutes": 2, "background": 3, "rirs": 2}


@pytest.fixture
def espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): synthesis needs it")


def tiny_overrides(steps: list[int], eval_every: int = 20) -> str:
    return json.dumps(
        {
            "training": {
                "training_steps": steps,
                "eval_step_interval": eval_every,
                "batch_size": 32,
                **QUICK_CLASS_WEIGHTS,
            },
            "model": TINY_MODEL,
        }
    )


async def synthesised_project(client) -> None:
    response = await client.post("/api/projects", json={"phrase": "hey computer"})
    assert response.status == 201
    response = await client.post("/api/projects/hey_computer/synth", json=SYNTH)
    assert response.status == 201
    job = await wait_for(client, (await response.json())["id"], timeout=120)
    assert job["state"] == "succeeded", job["error"]


async def test_synthesise_train_and_download_a_verified_model(aiohttp_client, tmp_path, espeak):
    from mww_trainer.device.verify import verify_model

    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    finished = []

    async def remember(job):
        finished.append((job.id, job.kind, job.state))

    app[ON_JOB_FINISHED].append(remember)
    client = await aiohttp_client(app)
    await synthesised_project(client)
    project = await (await client.get("/api/projects/hey_computer")).json()
    counts = {label: c["count"] for label, c in project["counts"].items()}
    assert counts["positive"] == 30 and counts["hard_negative"] == 20
    assert counts["background"] == 3 and counts["rir"] == 2 and counts["negative"] >= 4
    samples = (await (await client.get("/api/projects/hey_computer/samples")).json())["samples"]
    assert {s["source"] for s in samples} == {"synthetic"}
    assert all((settings.projects_dir / "hey_computer" / s["path"]).is_file() for s in samples)

    async with client.ws_connect("/api/ws") as ws:
        response = await client.post(
            "/api/projects/hey_computer/train",
            json={"preset": "fast_test", "overrides": tiny_overrides([60, 20])},
        )
        assert response.status == 201, await response.text()
        job_id = (await response.json())["id"]
        seen_steps = set()
        while True:
            message = await ws.receive_json(timeout=180)
            if message["type"] == "events" and message["job_id"] == job_id:
                seen_steps |= {e["done"] for e in message["events"] if e["stage"] == "validate"}
                assert message["progress"]["total_steps"] in (0, 80)
            ours = message["type"] == "job" and message["job"]["id"] == job_id
            if ours and message["job"]["state"] in ("succeeded", "failed", "cancelled"):
                break
    job = await wait_for(client, job_id)
    assert job["state"] == "succeeded", job["error"]
    assert {20, 40, 60, 80} <= seen_steps  # live progress over the websocket
    assert job["result"]["compatible"] is True
    assert job["progress"]["validation"]["step"] == 80
    config = await (await client.get(f"/api/jobs/{job_id}/config")).json()
    assert config["config"]["paths"]["positive_dir"].startswith(str(settings.projects_dir))
    assert config["config"]["export"]["wake_word"] == "hey computer"
    events = (await (await client.get(f"/api/jobs/{job_id}/events")).json())["events"]
    assert [e["done"] for e in events if e["stage"] == "validate"] == [20, 40, 60, 80]
    assert "worker started" in await (await client.get(f"/api/jobs/{job_id}/log")).text()

    response = await client.get(f"/api/jobs/{job_id}/download")
    assert response.status == 200
    out = tmp_path / "model"
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        assert sorted(archive.namelist()) == [
            "det.png",
            "esphome.yaml",
            "hey_computer.json",  # named as install names it: one layout on every path
            "hey_computer.tflite",
            "result.json",
            "sensitivity.json",
        ]
        archive.extractall(out)
    assert verify_model(out / "hey_computer.json").compatible
    assert (out / "det.png").read_bytes()[:4] == b"\x89PNG"
    evaluation = json.loads((out / "result.json").read_text())["evaluation"]
    assert evaluation["positives"] > 0 and "recall" in evaluation["at_cutoff"]
    snippet = (out / "esphome.yaml").read_text()
    assert "model: wake_words/hey_computer/hey_computer.json" in snippet
    assert "id(hey_computer).set_probability_cutoff(" in snippet  # the sensitivity select
    assert [(kind, state) for _, kind, state in finished] == [
        ("synth", "succeeded"),
        ("train", "succeeded"),
    ]
    job_dir = settings.projects_dir / "hey_computer" / "jobs" / str(job_id)
    assert (await client.delete(f"/api/jobs/{job_id}")).status == 400
    assert job_dir.is_dir()
    assert (await client.delete(f"/api/jobs/{job_id}?confirm={job_id}")).status == 200
    assert not job_dir.exists()
    assert (await client.get(f"/api/jobs/{job_id}")).status == 404


async def test_a_restart_mid_training_resumes_from_the_checkpoint(aiohttp_client, tmp_path, espeak):
    settings = Settings(data_dir=tmp_path / "data")
    client = await aiohttp_client(create_app(settings))
    await synthesised_project(client)
    response = await client.post(
        "/api/projects/hey_computer/train",
        json={"preset": "fast_test", "overrides": tiny_overrides([150, 50], eval_every=50)},
    )
    job_id = (await response.json())["id"]
    job_dir = settings.projects_dir / "hey_computer" / "jobs" / str(job_id)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the first checkpoint
        if (job_dir / "checkpoints" / "train_state.json").is_file():
            break
        await asyncio.sleep(0.1)
    await client.close()  # the add-on stops: its worker is stopped with it
    stopped = await _job_row(settings, job_id)
    assert stopped.state == "queued" and stopped.pid is None
    assert not (job_dir / "result.json").exists()

    client = await aiohttp_client(create_app(settings))  # the add-on starts again
    job = await wait_for(client, job_id)
    assert job["state"] == "succeeded", job["error"]
    events = (await (await client.get(f"/api/jobs/{job_id}/events")).json())["events"]
    starts = [i for i, e in enumerate(events) if e["stage"] == "start"]
    assert len(starts) == 2  # the worker ran twice on the same job folder
    first = [e["done"] for e in events[: starts[1]] if e["stage"] == "validate"]
    second = [e["done"] for e in events[starts[1] :] if e["stage"] == "validate"]
    assert first and first[0] == 50
    # The second run continued from a checkpoint: it never evaluated step 50 again.
    assert second and second[0] > 50 and second[-1] == 200
    assert any(e["stage"] == "restart" for e in events)


async def _job_row(settings: Settings, job_id: int):
    store = await Store.open(settings.db_path)
    try:
        return await store.get_job(job_id)
    finally:
        await store.close()


async def test_jobs_left_running_by_a_crash_are_recovered(aiohttp_client, tmp_path, espeak):
    """The web process died without stopping: each job resumes, finishes or fails, with a reason."""
    settings = Settings(data_dir=tmp_path / "data", max_restarts=2)
    store = await Store.open(settings.db_path)
    project = await store.create_project(
        {
            "slug": "hey_computer",
            "phrase": "hey computer",
            "language": "en",
            "author": "x",
            "website": None,
        }
    )
    spec = synth_request({"rirs": 2, "background": 1})
    resumed = await store.create_job(project.id, "synth", spec, None)
    done = await store.create_job(project.id, "synth", spec, None)
    worn = await store.create_job(project.id, "synth", spec, None)
    dead_pid = 2**22 + 1
    await store.update_job(resumed.id, state="running", pid=dead_pid)
    await store.update_job(done.id, state="running", pid=dead_pid)
    await store.update_job(worn.id, state="running", pid=dead_pid, attempts=2)
    await store.close()
    done_dir = settings.projects_dir / "hey_computer" / "jobs" / str(done.id)
    done_dir.mkdir(parents=True)
    (done_dir / "result.json").write_text(json.dumps({"ok": False, "error": "disk full"}))

    client = await aiohttp_client(create_app(settings))
    job = await wait_for(client, resumed.id, timeout=60)
    assert job["state"] == "succeeded", job["error"]
    assert job["attempts"] == 1 and job["result"]["filed"] == 3
    assert (await wait_for(client, done.id))["error"] == "disk full"
    job = await wait_for(client, worn.id)
    assert job["state"] == "failed" and "interrupted by 3 restarts" in job["error"]


FAKE_WORKER = textwrap.dedent("""
    import json, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stubborn worker: only SIGKILL stops it
    child = subprocess.Popen(["sleep", "60"])
    with open(sys.argv[1] + "/child.pid", "w") as f:
        f.write(str(child.pid))
    with open(sys.argv[1] + "/progress.jsonl", "a") as f:
        event = {"stage": "train", "done": 1, "total": 10, "time_s": time.time()}
        f.write(json.dumps(event) + "\\n")
    time.sleep(60)
""")


async def test_cancel_kills_the_whole_worker_group(aiohttp_client, tmp_path):
    fake = tmp_path / "fake_worker.py"
    fake.write_text(FAKE_WORKER)
    settings = Settings(data_dir=tmp_path / "data", cancel_grace_s=1.0)
    client = await aiohttp_client(create_app(settings, worker_command=(sys.executable, str(fake))))
    await client.post("/api/projects", json={"phrase": "hey computer"})
    job = await (await client.post("/api/projects/hey_computer/synth", json={"rirs": 1})).json()
    await wait_for(client, job["id"], states=("running",), timeout=20)
    job_dir = settings.projects_dir / "hey_computer" / "jobs" / str(job["id"])
    deadline = time.monotonic() + 20
    while not (job_dir / "child.pid").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    child = int((job_dir / "child.pid").read_text())
    started = time.monotonic()
    response = await client.post(f"/api/jobs/{job['id']}/cancel")
    assert response.status == 200
    job = await wait_for(client, job["id"], timeout=20)
    assert job["state"] == "cancelled" and job["error"] == "cancelled by the user"
    assert 0.9 < time.monotonic() - started < 10  # SIGTERM ignored, SIGKILL after the grace
    await asyncio.sleep(0.2)
    assert not _alive(child), "the worker's child must die with its process group"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status


async def test_people_talking_from_a_generate_job_are_filed_as_people(aiohttp_client, tmp_path):
    """mww-synth's recorded talk (engine "human") becomes samples of source "recorded", filed
    under the person, which training takes for people talking; the rest stays synthetic."""
    import numpy as np
    import soundfile as sf

    from addon.keys import LIBRARY, STORE
    from mww_trainer.data.ingest.origin import origin_of

    app = create_app(Settings(data_dir=tmp_path / "data"))
    client = await aiohttp_client(app)
    await client.post("/api/projects", json={"phrase": "hey computer"})
    library, store = app[LIBRARY], app[STORE]
    project = await library.project("hey_computer")
    job = await store.create_job(project.id, "synth", {}, None)
    out = library.layout(project).job_dir(job.id) / "synth"
    entries = [
        {"path": "negative/people-asterisk-allison/talk_0000.wav", "role": "negative"}
        | {"voice": "asterisk-allison", "engine": "human"},
        {"path": "negative/speech/ambient_0000.wav", "role": "negative", "voice": None},
        {"path": "negative/words/pico-en-US/word_00000.wav", "role": "negative", "text": "two"}
        | {"voice": "pico-en-US", "engine": "pico"},
        {"path": "positive/espeak-en+m3/pos_00000.wav", "role": "positive"}
        | {"voice": "espeak-en+m3", "engine": "espeak"},
    ]
    rng = np.random.default_rng(0)
    for entry in entries:
        path = out / entry["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        seconds = 6.0 if entry["role"] == "negative" and "/words/" not in entry["path"] else 1.6
        sf.write(path, rng.normal(0, 0.1, int(16000 * seconds)), 16000, subtype="PCM_16")
    (out / "synth_manifest.json").write_text(json.dumps({"files": entries}))

    filed = await library.file_synthesised(job, {})
    assert filed["filed"] == 4
    samples = (await (await client.get("/api/projects/hey_computer/samples")).json())["samples"]
    word = next(s for s in samples if s["speaker"] == "synth pico-en-US")
    assert word["label"] == "negative" and word["source"] == "synthetic"  # a word said alone
    assert not origin_of(word["path"]).human
    samples.remove(word)
    by_source = {s["source"]: s for s in samples if s["label"] == "negative"}
    person = by_source["recorded"]
    assert person["speaker"] == "asterisk-allison"
    assert origin_of(person["path"]).human  # what ingest will make of its folder and name
    assert not origin_of(by_source["synthetic"]["path"]).human
    positive = next(s for s in samples if s["label"] == "positive")
    assert positive["source"] == "synthetic" and positive["speaker"] == "synth espeak-en+m3"


async def test_a_job_runs_when_the_data_folder_is_given_relative(
    aiohttp_client, tmp_path, monkeypatch
):
    """The README's `python -m addon --data-dir ./data`: the worker runs in its job folder, so
    a relative data folder must not reach it as one (the job failed: job.json not found)."""
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_args(["--data-dir", "./data"], environ={})
    assert settings.data_dir == tmp_path / "data"
    client = await aiohttp_client(create_app(settings))
    await client.post("/api/projects", json={"phrase": "hey computer"})
    response = await client.post("/api/projects/hey_computer/synth", json={"background": 1})
    job = await wait_for(client, (await response.json())["id"], timeout=120)
    assert job["state"] == "succeeded", job["error"]
    project = await (await client.get("/api/projects/hey_computer")).json()
    assert project["counts"]["background"]["count"] == 1
