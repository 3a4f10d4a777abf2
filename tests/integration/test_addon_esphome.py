"""Install on device through the add-on's API: the real `esphome` CLI, offline.

A fake succeeded training job holds a copy of the official hey_jarvis model; the ESPHome
folder is the satellite fixture. Deploy runs the real verifier and `esphome config`; the flash
job runs the real `esphome compile` in a worker process, with every download refused.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import pytest_asyncio

from addon import esphome_jobs
from addon.app import create_app
from addon.esphome_jobs import BUILD_DIR
from addon.settings import Settings
from mww_trainer.esphome.secrets import secret_values
from tests.fakes.esphome_install import esphome_folder, fake_trained_job, no_internet
from tests.fakes.job_polling import wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]
pytest.importorskip("esphome")

PACKAGE_LINE = "+  mww_hey_jarvis: !include wake_words/hey_jarvis/hey_jarvis.package.yaml"


@pytest.fixture
def esphome_dir(tmp_path: Path) -> Path:
    pytest.importorskip("pymicro_wakeword")
    return esphome_folder(tmp_path / "esphome")


@pytest.fixture
def settings(tmp_path: Path, esphome_dir: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", esphome_dir=esphome_dir, cancel_grace_s=5.0)


@pytest_asyncio.fixture
async def client(aiohttp_client, settings: Settings):
    return await aiohttp_client(create_app(settings))


async def trained_job(client) -> int:
    return (await fake_trained_job(client.server.app)).id


async def test_devices_are_listed_without_secrets(client, esphome_dir):
    response = await client.get("/api/esphome/devices")
    assert response.status == 200
    text = await response.text()
    listing = await response.json()
    by_file = {d["yaml_file"]: d for d in listing["devices"]}
    assert set(by_file) == {"kitchen.yaml", "voice-pe.yaml"}  # the ESP8266 plug is not offered
    kitchen = by_file["kitchen.yaml"]
    assert (kitchen["name"], kitchen["micro_wake_word"]) == ("kitchen-satellite", True)
    assert kitchen["wake_words"] == ["okay_nabu"] and kitchen["ota_password"] is True
    assert by_file["voice-pe.yaml"]["micro_wake_word"] is False  # in a remote package
    assert listing["skipped"] == ["hall-plug (plug.yaml): esp8266"]
    for secret in secret_values(esphome_dir):
        assert secret not in text


@pytest.mark.parametrize("configured", [False, True], ids=["unset", "missing"])
async def test_without_an_esphome_folder_the_error_says_how_to_choose_one(
    aiohttp_client, tmp_path, configured
):
    """Standalone, the panel's flag; as an add-on (it answers only ingress), the option."""
    folder = tmp_path / "no-such-folder" if configured else None
    settings = Settings(data_dir=tmp_path, esphome_dir=folder)
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/esphome/devices")
    assert response.status == 409
    error = (await response.json())["error"]
    assert "--esphome-dir FOLDER" in error and "add-on" not in error
    addon = Settings(data_dir=tmp_path, esphome_dir=folder, supervisor=True)
    assert "add-on option esphome_dir" in esphome_jobs.folder_hint(addon)


async def test_preview_install_and_undo(client, esphome_dir):
    job_id = await trained_job(client)
    yaml_path = esphome_dir / "kitchen.yaml"
    original = yaml_path.read_bytes()

    response = await client.post(f"/api/jobs/{job_id}/esphome/plan", json={"device": "kitchen"})
    assert response.status == 200, await response.text()
    plan = await response.json()
    assert PACKAGE_LINE in plan["diff"].splitlines()
    assert plan["changed"] and plan["folder"] == "wake_words/hey_jarvis"
    assert any("first of 2 models (hey_jarvis, okay_nabu)" in w for w in plan["warnings"])
    assert yaml_path.read_bytes() == original and not (esphome_dir / "wake_words").exists()

    unconfirmed = await client.post(f"/api/jobs/{job_id}/esphome/deploy", json={"device": "x"})
    assert unconfirmed.status == 400 and "confirm" in (await unconfirmed.json())["error"]
    unknown = await client.post(f"/api/jobs/{job_id}/esphome/plan", json={"device": "attic"})
    assert unknown.status == 404 and "kitchen-satellite" in (await unknown.json())["error"]
    plug = await client.post(f"/api/jobs/{job_id}/esphome/flash", json={"device": "hall-plug"})
    assert plug.status == 409 and "esp8266" in (await plug.json())["error"]

    deploy = asyncio.ensure_future(
        client.post(
            f"/api/jobs/{job_id}/esphome/deploy", json={"device": "kitchen", "confirm": True}
        )
    )
    slowest_s = 0.0
    while not deploy.done():  # verify + `esphome config` run off the event loop
        started = time.monotonic()
        assert (await client.get("/api/info")).status == 200
        slowest_s = max(slowest_s, time.monotonic() - started)
        await asyncio.sleep(0.05)
    response = deploy.result()
    assert response.status == 200, await response.text()
    installed = await response.json()
    assert slowest_s < 0.5
    assert installed["validated"] is True  # `esphome config` accepted the edited YAML
    assert installed["model_ids"] == ["hey_jarvis", "okay_nabu"]
    assert installed["backup"].startswith(".mww-backups/kitchen.")
    assert "mww_hey_jarvis: !include wake_words/hey_jarvis" in yaml_path.read_text()
    assert (esphome_dir / "wake_words" / "hey_jarvis" / "hey_jarvis.tflite").is_file()

    response = await client.post("/api/esphome/devices/kitchen.yaml/undo")
    assert response.status == 200, await response.text()
    assert (await response.json())["method"] == "restored"
    assert yaml_path.read_bytes() == original
    again = await client.post("/api/esphome/devices/kitchen.yaml/undo")
    assert again.status == 400 and "nothing to undo" in (await again.json())["error"]


async def test_a_flash_job_streams_esphome_and_explains_the_offline_failure(
    client, settings, monkeypatch, tmp_path
):
    no_internet(monkeypatch, tmp_path / "site", fast=True)
    job_id = await trained_job(client)
    async with client.ws_connect("/api/ws") as ws:
        response = await client.post(
            f"/api/jobs/{job_id}/esphome/flash", json={"device": "kitchen"}
        )
        assert response.status == 201, await response.text()
        flash_id = (await response.json())["id"]
        pushed = []
        while True:
            message = await ws.receive_json(timeout=60)
            if message["type"] == "events" and message["job_id"] == flash_id:
                pushed += [e["message"] for e in message["events"]]
            ours = message["type"] == "job" and message["job"]["id"] == flash_id
            if ours and message["job"]["state"] in ("succeeded", "failed", "cancelled"):
                break
    job = await wait_for(client, flash_id, timeout=60)
    assert (job["kind"], job["state"]) == ("flash", "failed")
    assert "needs internet access" in job["error"]
    build = settings.data_dir / BUILD_DIR
    assert str(build / "platformio") in job["error"]  # the cache lives in the data folder
    assert job["result"]["failure"] == "toolchain_download"
    assert job["result"]["stage"] == "compile"
    events = (await (await client.get(f"/api/jobs/{flash_id}/events")).json())["events"]
    compile_lines = [e["message"] for e in events if e["stage"] == "compile"]
    assert any("Generating C++ source" in line for line in compile_lines)
    assert any("Generating C++ source" in line for line in pushed)  # live, over the websocket
    assert (build / "esphome" / "build" / "kitchen-satellite" / "src" / "main.cpp").is_file()
    assert not (settings.esphome_dir / ".esphome").exists()


async def test_a_flash_job_is_cancelled_with_esphome_and_its_children(
    client, settings, monkeypatch, tmp_path
):
    no_internet(monkeypatch, tmp_path / "site", fast=False)  # PlatformIO sleeps between its retries
    job_id = await trained_job(client)
    response = await client.post(f"/api/jobs/{job_id}/esphome/flash", json={"device": "kitchen"})
    flash_id = (await response.json())["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = (await (await client.get(f"/api/jobs/{flash_id}/events")).json())["events"]
        if any("Package download failed" in e["message"] for e in events):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("ESPHome never reached PlatformIO's download")
    started = time.monotonic()
    response = await client.post(f"/api/jobs/{flash_id}/cancel")
    assert response.status == 200
    job = await wait_for(client, flash_id, timeout=60)
    assert (job["state"], job["error"]) == ("cancelled", "cancelled by the user")
    assert time.monotonic() - started < 5  # stopped by the signal, not killed after the grace
    assert job["result"] is None
    assert not _esphome_processes(settings.esphome_dir)


def _esphome_processes(folder: Path) -> list[int]:
    """Processes whose command line names the device YAML (ESPHome, PlatformIO)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in cmdline:
            found.append(int(entry.name))
    return found
