"""A damaged or emptied database is noticed: start-up refuses it, health reports it, and
project folders it no longer knows are set aside instead of being reused."""

from __future__ import annotations

import io
import os
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import soundfile as sf

from addon.app import create_app
from addon.keys import STORE
from addon.settings import Settings
from addon.store import DatabaseDamaged
from tests.fakes.addon_process import start_addon

pytestmark = pytest.mark.asyncio


def _noise_wav(seed: int) -> bytes:
    noise = 0.1 * np.random.default_rng(seed).standard_normal(2 * 16000)
    out = io.BytesIO()
    sf.write(out, noise, 16000, format="WAV", subtype="PCM_16")
    return out.getvalue()


async def _library_with_clips(aiohttp_client, settings: Settings):
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/projects", json={"phrase": "hey computer"})).status == 201
    for n in range(40):  # enough rows that the database spans several pages
        form = aiohttp.FormData()
        form.add_field("label", "negative")
        form.add_field("file", _noise_wav(n), filename=f"n{n}.wav")
        assert (await client.post("/api/projects/hey_computer/samples", data=form)).status == 201
    await client.close()


def _damage(db: Path) -> None:
    with db.open("r+b") as f:  # page 1 (the header and schema) survives; the tables do not
        f.seek(4096)
        f.write(os.urandom(db.stat().st_size - 4096))


async def test_a_damaged_database_stops_the_start_and_says_so(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    await _library_with_clips(aiohttp_client, settings)
    _damage(settings.db_path)
    served = start_addon(settings.data_dir, tmp_path / "addon.log", wait=False)
    assert served.process.wait(30) == 2
    log = served.log.read_text()
    assert "the database is damaged" in log and "restore a backup" in log
    with pytest.raises(DatabaseDamaged, match="the database is damaged"):
        await aiohttp_client(create_app(settings))


async def test_health_reports_damage_found_while_running(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    await _library_with_clips(aiohttp_client, settings)
    app = create_app(settings)
    client = await aiohttp_client(app)
    assert (await (await client.get("/api/health")).json())["database"] == "ok"
    _damage(settings.db_path)
    health = await client.get("/api/health")
    body = await health.json()
    assert health.status == 503 and body["status"] == "damaged"
    assert body["database"] and all(isinstance(line, str) for line in body["database"])
    assert app[STORE].path == settings.db_path


async def test_an_emptied_database_never_reuses_the_old_folders(
    aiohttp_client, tmp_path, noise_wav
):
    settings = Settings(data_dir=tmp_path / "data")
    await _library_with_clips(aiohttp_client, settings)
    old_clips = sorted((settings.projects_dir / "hey_computer").rglob("*.wav"))
    assert len(old_clips) == 40
    settings.db_path.write_bytes(b"")  # emptied (a failed restore, a full disk, a mistake)
    for extra in ("-wal", "-shm"):
        Path(f"{settings.db_path}{extra}").unlink(missing_ok=True)

    client = await aiohttp_client(create_app(settings))
    health = await (await client.get("/api/health")).json()
    assert health["status"] == "ok"
    [moved] = health["orphaned_projects"]
    assert moved.startswith("projects/hey_computer -> orphaned/hey_computer-")
    created = await client.post("/api/projects", json={"phrase": "hey computer"})
    assert created.status == 201
    assert list((settings.projects_dir / "hey_computer").rglob("*.wav")) == []
    kept = list((settings.data_dir / "orphaned").rglob("*.wav"))
    assert len(kept) == 40  # the old clips are kept, aside, for the user to look at


async def test_a_folder_appearing_under_a_new_name_is_not_taken_over(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    client = await aiohttp_client(create_app(settings))
    stray = settings.projects_dir / "hey_there" / "dataset" / "positive"
    stray.mkdir(parents=True)
    (stray / "old.wav").write_bytes(b"RIFF")
    response = await client.post("/api/projects", json={"phrase": "hey there"})
    assert response.status == 409
    assert "projects/hey_there already exists" in (await response.json())["error"]
