"""What the panel's user reads: messages in the panel's words, and warnings only when true."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import pytest_asyncio
import soundfile

from addon.app import create_app
from addon.settings import Settings

pytestmark = pytest.mark.asyncio
PROJECT = "/api/projects/hey_computer"


@pytest_asyncio.fixture
async def client(aiohttp_client, tmp_path: Path):
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data")))
    assert (await client.post("/api/projects", json={"phrase": "hey computer"})).status == 201
    return client


def _wav(seconds: float, rate_hz: int, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)  # decays, like an echo
    audio = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    out = io.BytesIO()
    soundfile.write(out, audio, rate_hz, format="WAV", subtype="PCM_16")
    return out.getvalue()


def _form(files, *, label="positive", source="upload") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("label", label)
    form.add_field("source", source)
    form.add_field("speaker", "Ann")
    for name, data in files:
        form.add_field("file", data, filename=name)
    return form


async def _add(client, files, **kwargs) -> tuple[int, dict]:
    response = await client.post(f"{PROJECT}/samples", data=_form(files, **kwargs))
    return response.status, await response.json()


async def test_unreadable_uploads_are_named_as_the_user_named_them(client):
    status, body = await _add(client, [("a.wav", b"garbage"), ("b.flac", b"fLaC\0\0\0junk")])
    assert status == 415
    assert "a.wav: not a readable audio file" in body["error"]
    assert "b.flac: not a readable audio file" in body["error"]
    assert "file_" not in body["error"]  # never the upload's temporary names


async def test_browser_takes_and_room_responses_carry_no_false_warnings(client):
    # The browser records 48 kHz: converting it is routine, not a warning.
    status, body = await _add(client, [("take.wav", _wav(1.0, 48000, 2))], source="browser")
    assert status == 201 and body["added"][0]["flags"] == []
    # A room response is a fraction of a second: never "too short".
    status, body = await _add(client, [("room.wav", _wav(0.2, 16000))], label="rir")
    assert status == 201 and body["added"][0]["flags"] == []
    # What does lose sound is warned of: a telephone's 8 kHz has no high frequencies.
    status, body = await _add(client, [("phone.wav", _wav(1.0, 8000))])
    assert status == 201 and body["added"][0]["flags"] == ["low_rate"]
    listed = await (await client.get(f"{PROJECT}/samples")).json()
    assert [s["flags"] for s in listed["samples"]] == [["low_rate"], [], []]  # newest first


async def test_generate_errors_use_the_generate_tabs_labels(client):
    response = await client.post(f"{PROJECT}/synth", json={"positives": 999999})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error.startswith("Wake-word clips: 999999 is not allowed")
    response = await client.post(f"{PROJECT}/synth", json={"ambient_minutes": -1})
    assert (await response.json())["error"].startswith("Other speech (minutes): -1")
    response = await client.post(f"{PROJECT}/synth", json={})
    assert "wake-word clips, sound-alikes" in (await response.json())["error"]


async def test_training_without_samples_says_so_in_the_panels_words(client):
    response = await client.post(f"{PROJECT}/train", json={"preset": "fast_test"})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error.startswith("no wake-word clips and no other speech yet")


async def test_sentence_punctuation_is_left_out_of_the_wake_word(client):
    response = await client.post("/api/projects", json={"phrase": "Hey Jarvis!"})
    assert response.status == 201
    assert (await response.json())["phrase"] == "Hey Jarvis"
    response = await client.post("/api/projects", json={"phrase": "?!"})
    assert response.status == 400
    assert "has no letters or digits" in (await response.json())["error"]


async def test_an_import_clash_points_at_the_import_as_field_which_works(client):
    export = await (await client.get(f"{PROJECT}/export")).read()
    form = aiohttp.FormData()
    form.add_field("file", export, filename="hey_computer_project.zip")
    response = await client.post("/api/projects/import", data=form)
    assert response.status == 409
    assert "give another model name in 'Import as'" in (await response.json())["error"]
    form = aiohttp.FormData()
    form.add_field("file", export, filename="hey_computer_project.zip")
    form.add_field("slug", "hey_computer_2")  # what the Import as field sends
    response = await client.post("/api/projects/import", data=form)
    assert response.status == 201 and (await response.json())["slug"] == "hey_computer_2"


async def test_a_static_panel_has_the_import_as_field():
    panel = (Path(__file__).parents[2] / "addon" / "static" / "app.js").read_text()
    assert "'Import as (optional)'" in panel and "form.append('slug'" in panel
