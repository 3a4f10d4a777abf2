"""'Try it' through the add-on's API: a real exported model listens in a process of its own.

The trained job holds the official hey_jarvis model (as the worker leaves an export); the
browser's part is played by a websocket client sending int16 PCM at 48 kHz.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import pytest_asyncio
import soundfile

from addon.app import create_app
from addon.routes.tryit import TRY_SESSIONS
from addon.settings import Settings
from addon.tryit import TrySessions
from tests.fakes.esphome_install import fake_trained_job
from tests.fakes.try_audio import pcm_frames, quiet_room, say_hey_jarvis

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]
MIC_RATE_HZ = 48000


@pytest.fixture(scope="module")
def hey_jarvis(tmp_path_factory) -> Path:
    return say_hey_jarvis(tmp_path_factory.mktemp("try") / "hey_jarvis.wav", lead_s=4.0)


@pytest_asyncio.fixture
async def client(aiohttp_client, tmp_path: Path):
    pytest.importorskip("pymicro_wakeword")
    app = create_app(Settings(data_dir=tmp_path / "data"))
    app[TRY_SESSIONS] = TrySessions(idle_s=3.0)
    return await aiohttp_client(app)


async def listen(client, job_id: int, audio: np.ndarray) -> tuple[dict, list[dict], dict]:
    """Streams `audio` (float, 16 kHz) as the panel does; (ready, slices, last message)."""
    async with client.ws_connect(f"/api/jobs/{job_id}/try/ws?rate={MIC_RATE_HZ}") as ws:
        ready = await ws.receive_json(timeout=60)
        for frame in pcm_frames(audio, MIC_RATE_HZ):
            await ws.send_bytes(frame)
        await ws.send_str("end")
        slices: list[dict] = []
        while (message := await ws.receive_json(timeout=60))["type"] == "slices":
            slices += message["slices"]
    return ready, slices, message


async def test_the_model_wakes_on_its_word_and_not_on_a_quiet_room(client, hey_jarvis):
    job = await fake_trained_job(client.server.app)
    words, _ = soundfile.read(hey_jarvis, dtype="float32")
    ready, slices, last = await listen(client, job.id, words)
    assert ready == {
        "type": "ready",
        "rate_hz": MIC_RATE_HZ,
        "probability_cutoff": 0.97,
        "sliding_window_size": 5,
    }
    assert last == {"type": "end"}
    duration_s = len(words) / 16000
    assert len(slices) == pytest.approx(duration_s / 0.03, abs=3)  # every 30 ms scored
    wakes = [s["t"] for s in slices if s["wake"]]
    assert len(wakes) == 1 and 4.0 < wakes[0] < duration_s, wakes
    assert max(s["p"] for s in slices) > 0.97

    _, quiet, last = await listen(client, job.id, quiet_room(8.0))
    assert last == {"type": "end"} and len(quiet) > 250
    assert not any(s["wake"] for s in quiet)
    assert max(s["p"] for s in quiet) < 0.5
    assert not client.server.app[TRY_SESSIONS].running  # every scoring process has ended


async def test_a_file_gives_its_trace_and_its_wakes(client, hey_jarvis, silence_wav):
    job = await fake_trained_job(client.server.app)

    async def try_file(path: Path, name: str):
        form = aiohttp.FormData()
        form.add_field("file", path.read_bytes(), filename=name)
        return await client.post(f"/api/jobs/{job.id}/try/file", data=form)

    response = await try_file(hey_jarvis, "me.wav")
    assert response.status == 200, await response.text()
    result = await response.json()
    assert result["name"] == "me.wav" and len(result["wakes"]) == 1
    assert 0 < result["wakes"][0] < result["duration_s"]
    assert result["slices"][0]["t"] == 0.0 and len(result["slices"]) > 100

    quiet = await (await try_file(silence_wav, "quiet.wav")).json()
    assert quiet["wakes"] == [] and not any(s["wake"] for s in quiet["slices"])

    broken = await try_file(Path(__file__), "notes.wav")
    assert broken.status == 400
    message = (await broken.json())["error"]
    assert message.startswith("notes.wav could not be scored") and "file_0" not in message


async def test_only_a_finished_training_can_be_tried(client):
    await client.post("/api/projects", json={"phrase": "hey there"})
    synth = await client.post("/api/projects/hey_there/synth", json={"positives": 1})
    job_id = (await synth.json())["id"]
    async with client.ws_connect(f"/api/jobs/{job_id}/try/ws?rate=48000") as ws:
        message = await ws.receive_json(timeout=10)
    assert message["type"] == "error" and "no model to try" in message["error"]
    async with client.ws_connect("/api/jobs/999/try/ws?rate=48000") as ws:
        assert (await ws.receive_json(timeout=10))["error"] == "job not found"
    job = await fake_trained_job(client.server.app)
    async with client.ws_connect(f"/api/jobs/{job.id}/try/ws?rate=12") as ws:
        assert "rate" in (await ws.receive_json(timeout=10))["error"]
    Path(job.result["tflite"]).write_bytes(b"not a model")
    async with client.ws_connect(f"/api/jobs/{job.id}/try/ws?rate=16000") as ws:
        error = (await ws.receive_json(timeout=60))["error"]
    assert error.startswith("the model could not be loaded to listen: cannot load the model:")


async def test_sessions_are_bounded_in_number_and_in_idle_time(client):
    job = await fake_trained_job(client.server.app)
    url = f"/api/jobs/{job.id}/try/ws?rate=16000"
    async with client.ws_connect(url) as first, client.ws_connect(url) as second:
        assert (await first.receive_json(timeout=60))["type"] == "ready"
        assert (await second.receive_json(timeout=60))["type"] == "ready"
        async with client.ws_connect(url) as third:
            refused = await third.receive_json(timeout=10)
        assert refused["type"] == "error" and "at most 2" in refused["error"]
        assert len(client.server.app[TRY_SESSIONS].running) == 2
        # No audio for idle_s: the session ends and its process with it.
        closed = await first.receive_json(timeout=10)
        assert closed == {"type": "closed", "reason": "no audio for 3 s"}
    for _ in range(50):
        if not client.server.app[TRY_SESSIONS].running:
            break
        await asyncio.sleep(0.1)
    assert not client.server.app[TRY_SESSIONS].running


async def test_a_page_of_another_site_cannot_open_it(client):
    job = await fake_trained_job(client.server.app)
    headers = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"/api/jobs/{job.id}/try/ws?rate=48000", headers=headers)
    assert refused.value.status == 403
    assert not client.server.app[TRY_SESSIONS].running
    form = aiohttp.FormData()
    form.add_field("file", b"RIFF", filename="x.wav")
    response = await client.post(f"/api/jobs/{job.id}/try/file", data=form, headers=headers)
    assert response.status == 403
