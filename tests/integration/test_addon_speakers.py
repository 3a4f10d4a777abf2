"""Group by speaker through the real worker: unlabelled uploads grouped by voice, applied to the
sample store and the folders (and the split file), then undone byte for byte."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import aiohttp
import pytest
import soundfile

pytest.importorskip("torch", reason="Group by speaker needs the cluster extra")

from addon.app import create_app
from addon.settings import Settings
from tests.fakes.job_polling import wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]

VOICES = ("ann", "bea")
TAKES = 5


def takes_zip() -> tuple[bytes, dict[str, str]]:
    """Two espeak voices' takes at the zip's root (no speaker folder), and who said each, by
    the SHA-256 of its samples (the store's sha256: files are re-encoded when filed)."""
    buffer, truth = io.BytesIO(), {}
    with zipfile.ZipFile(buffer, "w") as archive:
        for voice in VOICES:
            for take in range(TAKES):
                data = wav(voice, take)
                archive.writestr(f"take_{voice}_{take}.wav", data)
                samples, _ = soundfile.read(io.BytesIO(data), dtype="int16")
                truth[hashlib.sha256(samples.tobytes()).hexdigest()] = voice
    return buffer.getvalue(), truth


def wav(voice: str, take: int) -> bytes:
    from tests.unit.test_speaker_clustering import _speak

    out = io.BytesIO()
    soundfile.write(out, _speak(voice, take), 16000, format="WAV", subtype="PCM_16")
    return out.getvalue()


async def upload(client, data: bytes, name: str, *, source: str, speaker: str = "") -> list:
    form = aiohttp.FormData()
    for key, value in (("label", "positive"), ("source", source), ("speaker", speaker)):
        form.add_field(key, value)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    response = await client.post("/api/projects/hey_computer/samples", data=form)
    assert response.status == 201, await response.text()
    return (await response.json())["added"]


def folder_state(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.wav"))
    }


async def test_group_preview_apply_and_undo(aiohttp_client, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    settings = Settings(data_dir=tmp_path / "data")
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/projects", json={"phrase": "hey computer"})).status == 201
    data, voice_of = takes_zip()
    uploaded = await upload(client, data, "takes.zip", source="upload")
    assert {s["speaker"] for s in uploaded} == {"upload"}
    truth = {s["id"]: voice_of[s["sha256"]] for s in uploaded}
    browser = await upload(client, wav("bea", 7), "mine.wav", source="browser", speaker="Alice")
    root = settings.projects_dir / "hey_computer"
    samples = (await (await client.get("/api/projects/hey_computer/samples")).json())["samples"]

    status = await (await client.get("/api/projects/hey_computer/speakers")).json()
    assert status["unlabelled"] == len(VOICES) * TAKES and status["undo"] is None

    bad = await client.post("/api/projects/hey_computer/speakers/group", json={"n_clusters": 11})
    assert bad.status == 400 and "smaller count" in (await bad.json())["error"]
    response = await client.post("/api/projects/hey_computer/speakers/group", json={})
    assert response.status == 201, await response.text()
    job = await wait_for(client, (await response.json())["id"], timeout=120)
    assert job["state"] == "succeeded", job["error"]
    result = job["result"]
    assert result["suggested"] == 2 and result["n_clusters"] == 2 and not result["by_count"]
    groups = result["groups"]
    grouped = [i for g in groups for i in g["sample_ids"]]
    assert sorted(grouped) == sorted(truth) and browser[0]["id"] not in grouped
    for group in groups:  # each group is one voice, and its preview is some of its takes
        assert len({truth[i] for i in group["sample_ids"]}) == 1
        assert 0 < len(group["preview"]) <= 4 and set(group["preview"]) <= set(group["sample_ids"])

    # A split file from an earlier training places the takes; applying forgets their places.
    split = root / "processed" / "split.json"
    split.parent.mkdir(parents=True, exist_ok=True)
    placed = {sha: "train" for sha in folder_state(root).values()}
    split.write_text(json.dumps({"version": 1, "speakers": {}, "files": placed}))
    before = folder_state(root)
    rows_before = {s["id"]: (s["speaker"], s["path"]) for s in samples}

    response = await client.post(
        "/api/projects/hey_computer/speakers/apply",
        json={"job": job["id"], "names": ["Anna", ""]},
    )
    assert response.status == 200, await response.text()
    applied = await response.json()
    assert applied == {"moved": len(truth), "speakers": ["Anna", "voice 1"]}
    samples = (await (await client.get("/api/projects/hey_computer/samples")).json())["samples"]
    by_id = {s["id"]: s for s in samples}
    for group, name in zip(groups, applied["speakers"], strict=True):
        folder = "anna" if name == "Anna" else "voice_1"
        for sample_id in group["sample_ids"]:
            assert by_id[sample_id]["speaker"] == name
            assert by_id[sample_id]["path"].startswith(f"dataset/positive/{folder}/")
            assert (root / by_id[sample_id]["path"]).is_file()
    assert by_id[browser[0]["id"]]["speaker"] == "Alice"
    assert not (root / "dataset" / "positive" / "upload").exists()
    left = json.loads(split.read_text())["files"]
    assert set(left) == {before[by_id[browser[0]["id"]]["path"]]}  # only the browser take's
    status = await (await client.get("/api/projects/hey_computer/speakers")).json()
    assert status["unlabelled"] == 0 and status["undo"] == {"job": job["id"], "moved": len(truth)}

    response = await client.post("/api/projects/hey_computer/speakers/undo")
    assert response.status == 200 and (await response.json()) == {"restored": len(truth)}
    assert folder_state(root) == before  # every file back, byte for byte
    samples = (await (await client.get("/api/projects/hey_computer/samples")).json())["samples"]
    assert {s["id"]: (s["speaker"], s["path"]) for s in samples} == rows_before
    assert json.loads(split.read_text())["files"] == placed
    again = await client.post("/api/projects/hey_computer/speakers/undo")
    assert again.status == 409 and "no grouping to undo" in (await again.json())["error"]
