"""Hostile and unlucky use of the add-on as started from the README: its own process."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import struct
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import soundfile as sf

from addon.app import create_app
from addon.keys import STORE
from addon.settings import Settings
from tests.fakes.addon_process import running_addon, start_addon
from tests.fakes.job_polling import wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]
MIB = 2**20


def wav_declaring(rate_hz: int, data_bytes: int) -> bytes:
    """A 16-bit mono WAV whose header states `rate_hz`, with `data_bytes` of noise."""
    data = np.random.default_rng(0).integers(-3000, 3000, data_bytes // 2, np.int16).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate_hz, rate_hz * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def silent_flac(path: Path, minutes: int, *, hide_length: bool = False) -> Path:
    """Minutes of 8 kHz silence: ~90 KB per hour; `hide_length` zeroes STREAMINFO's count."""
    with sf.SoundFile(path, "w", 8000, 1, "PCM_16", format="FLAC") as out:
        minute = np.zeros(8000 * 60, np.int16)
        for _ in range(minutes):
            out.write(minute)
    if hide_length:  # as a streamed FLAC has it: the decoder must find out by decoding
        data = bytearray(path.read_bytes())
        fields = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
        data[18:26] = fields.to_bytes(8, "big")
        path.write_bytes(data)
    return path


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def upload(session, url: str, data: bytes, label: str, name: str):
    form = aiohttp.FormData()
    form.add_field("label", label)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    async with session.post(url, data=form) as response:
        return response.status, await response.json()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


async def test_hostile_audio_is_refused_before_it_is_decoded(tmp_path, tone_wav):
    one_hz = wav_declaring(1, 16 * 1024)  # took the server to 3.55 GB and wrote 512 MB
    two_hours = silent_flac(tmp_path / "two_hours.flac", 120).read_bytes()
    unstated = silent_flac(tmp_path / "unstated.flac", 30, hide_length=True).read_bytes()
    assert max(len(one_hz), len(two_hours), len(unstated)) < 200 * 1024
    project_zip = zipped(
        {
            "metadata.json": json.dumps(
                {
                    "format": "mww-trainer-project",
                    "version": 1,
                    "project": {"slug": "imported", "phrase": "imported"},
                    "samples": [
                        {
                            "path": "dataset/background/a/one_hz.wav",
                            "label": "background",
                            "speaker": "a",
                            "source": "upload",
                        }
                    ],
                }
            ).encode(),
            "dataset/background/a/one_hz.wav": one_hz,
        }
    )
    data_dir = tmp_path / "data"
    with running_addon(data_dir, tmp_path / "addon.log") as server:
        samples = f"{server.url}/api/projects/hey/samples"
        async with aiohttp.ClientSession() as session:
            created = await session.post(f"{server.url}/api/projects", json={"phrase": "hey"})
            assert created.status == 201
            # Warm up: the first real clip loads the decoders and resampler.
            warm_up = await upload(session, samples, tone_wav.read_bytes(), "negative", "t.wav")
            assert warm_up[0] == 201
            baseline_mb = server.peak_rss_mb()
            stored_before = folder_bytes(data_dir)

            status, body = await upload(session, samples, one_hz, "background", "one_hz.wav")
            assert status == 415 and "one_hz.wav: declares a sample rate of 1 Hz" in body["error"]
            status, body = await upload(session, samples, two_hours, "background", "bg.flac")
            assert status == 415 and "bg.flac: longer than the 3600 s" in body["error"]
            status, body = await upload(session, samples, unstated, "positive", "say.flac")
            assert status == 415 and "say.flac: longer than the 60 s" in body["error"]
            both = zipped({"a/one_hz.wav": one_hz, "a/unstated.flac": unstated})
            status, body = await upload(session, samples, both, "positive", "takes.zip")
            assert status == 415, body
            assert "a/one_hz.wav: declares a sample rate of 1 Hz" in body["error"]
            assert "a/unstated.flac: longer than the 60 s" in body["error"]
            form = aiohttp.FormData()
            form.add_field("file", project_zip, filename="p.zip", content_type="application/zip")
            async with session.post(f"{server.url}/api/projects/import", data=form) as response:
                assert response.status == 400
                assert "1 Hz" in (await response.json())["error"]

            peak_mb = server.peak_rss_mb()
    assert peak_mb - baseline_mb < 40, f"peak RSS grew from {baseline_mb:.0f} to {peak_mb:.0f} MiB"
    assert folder_bytes(data_dir) - stored_before < MIB  # nothing decoded was written
    assert not list((data_dir / "projects").glob("imported*"))


async def test_a_second_server_on_the_same_data_folder_touches_nothing(tmp_path):
    data_dir = tmp_path / "data"
    with running_addon(data_dir, tmp_path / "first.log") as first:
        in_flight = data_dir / "tmp" / "upload_in_flight" / "file_0"
        in_flight.parent.mkdir(parents=True)
        in_flight.write_bytes(b"half an upload")
        for port in (None, first.port):  # another port, and the same one
            second = start_addon(data_dir, tmp_path / "second.log", port=port, wait=False)
            assert second.process.wait(30) == 2
            log = second.log.read_text()
            assert f"{data_dir} is in use by another mww-trainer (pid {first.process.pid})" in log
            assert "address already in use" not in log.lower()
        assert in_flight.read_bytes() == b"half an upload"
        async with aiohttp.ClientSession() as session, session.get(f"{first.url}/api/health") as r:
            assert r.status == 200
    # Once the first one has stopped, the folder is free again.
    with running_addon(data_dir, tmp_path / "third.log") as third:
        assert third.process.poll() is None


async def worker_app(aiohttp_client, tmp_path: Path, source: str):
    """The app with workers that run `source` (a fake worker), and one project."""
    worker = tmp_path / "worker.py"
    worker.write_text(source)
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings, worker_command=(sys.executable, str(worker)))
    client = await aiohttp_client(app)
    assert (await client.post("/api/projects", json={"phrase": "hey computer"})).status == 201
    return app, client, settings


# A worker that runs out of disk: half-written cache and checkpoint files, ENOSPC, no result.
DISK_FULL_WORKER = textwrap.dedent("""
    import os, sys
    job_dir = sys.argv[1]
    processed = os.path.join(job_dir, "..", "..", "processed", "features")
    os.makedirs(processed, exist_ok=True)
    os.makedirs(os.path.join(job_dir, "checkpoints"), exist_ok=True)
    for path in (
        os.path.join(processed, ".clip_0001.npy.0a1b.tmp"),
        os.path.join(processed, ".clip_0001.npy.0a1b.tmp.resize"),
        os.path.join(job_dir, "checkpoints", ".train_state.json.x9.tmp"),
    ):
        with open(path, "wb") as half:
            half.write(b"half")
    sys.stderr.write("OSError: [Errno 28] No space left on device: 'clip_0001.npy'\\n")
    sys.exit(1)
""")


async def test_a_job_whose_disk_filled_up_fails_naming_it(aiohttp_client, tmp_path, monkeypatch):
    app, client, settings = await worker_app(aiohttp_client, tmp_path, DISK_FULL_WORKER)
    store = app[STORE]
    update_job, refusals = store.update_job, []

    async def full_disk_for_a_while(job_id: int, **changes):
        # SQLite cannot write either while the disk is full: the job's end is refused twice.
        if changes.get("state") == "failed" and len(refusals) < 2:
            refusals.append(time.monotonic())
            raise sqlite3.OperationalError("database or disk is full")
        return await update_job(job_id, **changes)

    monkeypatch.setattr(store, "update_job", full_disk_for_a_while)
    job = await (await client.post("/api/projects/hey_computer/synth", json={"rirs": 1})).json()
    job = await wait_for(client, job["id"], timeout=30)
    assert len(refusals) == 2
    assert job["state"] == "failed"
    assert job["error"].startswith("disk full: the data folder's disk ran out of space")
    project = settings.projects_dir / "hey_computer"
    left = [p.name for p in project.rglob(".*") if p.is_file()]
    assert left == [], f"half-written files left behind: {left}"


ENV_DUMPING_WORKER = textwrap.dedent("""
    import json, os, sys
    with open(os.path.join(sys.argv[1], "env.json"), "w") as out:
        json.dump(dict(os.environ), out)
    with open(os.path.join(sys.argv[1], "result.json"), "w") as out:
        json.dump({"ok": True}, out)
""")


async def test_workers_never_see_the_add_ons_secrets(aiohttp_client, tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISOR_TOKEN", "supervisor-secret")
    monkeypatch.setenv("MWW_TRAINER_MQTT_PASSWORD", "broker-secret")
    monkeypatch.setenv("MWW_EXAMPLE_SETTING", "kept")
    _, client, settings = await worker_app(aiohttp_client, tmp_path, ENV_DUMPING_WORKER)
    job = await (await client.post("/api/projects/hey_computer/synth", json={"rirs": 1})).json()
    assert (await wait_for(client, job["id"], timeout=30))["state"] == "succeeded"
    job_dir = settings.projects_dir / "hey_computer" / "jobs" / str(job["id"])
    seen = json.loads((job_dir / "env.json").read_text())
    assert "SUPERVISOR_TOKEN" not in seen and "MWW_TRAINER_MQTT_PASSWORD" not in seen
    assert seen["MWW_EXAMPLE_SETTING"] == "kept" and seen["PATH"] == os.environ["PATH"]
    assert "supervisor-secret" not in json.dumps(seen) and "broker-secret" not in json.dumps(seen)


async def test_a_token_from_a_file_never_shows_in_ps(tmp_path):
    token = "file-token-0123456789abcdef"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    server = start_addon(
        tmp_path / "data", tmp_path / "addon.log", args=("--token-file", str(token_file))
    )
    try:
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert token.encode() not in cmdline
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/api/projects") as refused:
                assert refused.status == 401
            bearer = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{server.url}/api/projects", headers=bearer) as allowed:
                assert allowed.status == 200
    finally:
        server.stop()


# Fails on its first run, succeeds on the next one in the same folder (as a resumed training).
FLAKY_WORKER = textwrap.dedent("""
    import json, os, sys
    runs = os.path.join(sys.argv[1], "runs")
    count = len(open(runs).read()) if os.path.exists(runs) else 0
    open(runs, "a").write("x")
    if count == 0:
        sys.exit(1)
    with open(os.path.join(sys.argv[1], "result.json"), "w") as out:
        json.dump({"ok": True}, out)
""")


async def test_a_failed_job_can_be_started_again_in_its_own_folder(aiohttp_client, tmp_path):
    _, client, settings = await worker_app(aiohttp_client, tmp_path, FLAKY_WORKER)
    job = await (await client.post("/api/projects/hey_computer/synth", json={"rirs": 1})).json()
    assert (await wait_for(client, job["id"], timeout=30))["state"] == "failed"
    retried = await client.post(f"/api/jobs/{job['id']}/retry")
    assert retried.status == 200 and (await retried.json())["error"] is None
    done = await wait_for(client, job["id"], timeout=30)
    assert done["state"] == "succeeded" and done["finished_at"]
    job_dir = settings.projects_dir / "hey_computer" / "jobs" / str(job["id"])
    assert (job_dir / "runs").read_text() == "xx"  # the same folder, run twice
    events = await (await client.get(f"/api/jobs/{job['id']}/events")).json()
    assert any("started again by the user" in e["message"] for e in events["events"])
    again = await client.post(f"/api/jobs/{job['id']}/retry")
    assert again.status == 409 and "only a failed or cancelled job" in (await again.json())["error"]
