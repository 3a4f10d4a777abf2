"""The real `esphome upload --file` against a fake OTA device on 127.0.0.1, and the real
`esphome compile` failing to fetch its toolchain; our classification of each outcome."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import pytest

from mww_trainer.esphome import Failure, FlashOptions, find_device, flash, upload_firmware
from mww_trainer.esphome.secrets import secret_values
from tests.fakes import esphome_folder
from tests.fakes.fake_ota_device import FakeOtaDevice

pytestmark = pytest.mark.integration
pytest.importorskip("esphome")

folder = esphome_folder.folder  # the shared fixtures: a satellite ESPHome folder
official_models = esphome_folder.official_models
OTA_PASSWORD = "s3cr3t-ota-pass"  # as in the fixture's secrets.yaml
# PlatformIO retries downloads with 2-16 s sleeps (60 s in all); this caps them in the
# ESPHome process only, so a failing first compile takes a second, not a minute.
FAST_SLEEP = "import time\n_sleep = time.sleep\ntime.sleep = lambda s: _sleep(min(s, 0.01))\n"


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    path = tmp_path / "firmware.bin"
    path.write_bytes(bytes(range(256)) * 1200 + b"tail")  # 300 KiB, several 8 KiB chunks
    return path


def set_ota_port(folder: Path, port: int) -> None:
    yaml = folder / "kitchen.yaml"
    yaml.write_text(re.sub(r"port: \d+", f"port: {port}", yaml.read_text()))


def local(**kwargs) -> FlashOptions:
    return FlashOptions(address="127.0.0.1", **kwargs)


@pytest.mark.parametrize("compress", [False, True])
def test_upload_arrives_byte_identical(folder, firmware, compress):
    lines: list[str] = []
    events = []
    with FakeOtaDevice(password=OTA_PASSWORD, compress=compress) as device:
        set_ota_port(folder, device.port)
        result = upload_firmware(
            find_device(folder, "kitchen"),
            folder,
            firmware,
            on_line=lines.append,
            on_progress=events.append,
            options=local(),
        )
    assert result.ok, result.message
    assert device.received.images == [firmware.read_bytes()]
    assert any("OTA successful" in x for x in lines)
    assert {e.stage for e in events} == {"upload"} and len(events) == len(lines)
    for secret in secret_values(folder):
        assert all(secret not in x for x in lines)


def test_wrong_password_is_reported_as_auth(folder, firmware):
    with FakeOtaDevice(password="another-password") as device:
        set_ota_port(folder, device.port)
        result = upload_firmware(find_device(folder, "kitchen"), folder, firmware, options=local())
    assert (result.ok, result.stage, result.failure) == (False, "upload", Failure.AUTH)
    assert "rejected the OTA password" in result.message
    assert device.received.auth_failures == 1 and device.received.images == []


@pytest.mark.parametrize(
    ("behaviour", "evidence"),
    [
        ("close_after_magic", "closed connection without responding"),
        ("flash_error", "Writing OTA data to flash memory failed"),
    ],
)
def test_a_device_that_refuses_is_reported_as_flash(folder, firmware, behaviour, evidence):
    with FakeOtaDevice(password=OTA_PASSWORD, behaviour=behaviour) as device:
        set_ota_port(folder, device.port)
        result = upload_firmware(find_device(folder, "kitchen"), folder, firmware, options=local())
    assert (result.ok, result.failure) == (False, Failure.FLASH)
    assert evidence in result.message and "keeps its old firmware" in result.message


def test_an_offline_device_is_reported_as_offline(folder, firmware):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    set_ota_port(folder, port)
    result = upload_firmware(find_device(folder, "kitchen"), folder, firmware, options=local())
    assert (result.ok, result.failure) == (False, Failure.OFFLINE)
    assert "could not reach kitchen-satellite at 127.0.0.1" in result.message
    assert "Connection refused" in result.message


def _no_network(tmp_path: Path, *, fast: bool) -> FlashOptions:
    """ESPHome and PlatformIO with an empty cache and a proxy that refuses every download."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    if fast:
        (site / "sitecustomize.py").write_text(FAST_SLEEP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {"PYTHONPATH": str(site), "HTTPS_PROXY": dead, "HTTP_PROXY": dead, "NO_PROXY": ""}
    env |= {"https_proxy": dead, "http_proxy": dead, "no_proxy": ""}
    return FlashOptions(
        env=env, platformio_core_dir=tmp_path / "platformio", data_dir=tmp_path / "esphome-data"
    )


def test_first_compile_without_internet_is_a_toolchain_download_failure(folder, tmp_path):
    lines: list[str] = []
    result = flash(
        find_device(folder, "kitchen"),
        folder,
        on_line=lines.append,
        options=_no_network(tmp_path, fast=True),
    )
    assert (result.ok, result.stage, result.failure) == (
        False,
        "compile",
        Failure.TOOLCHAIN_DOWNLOAD,
    )
    assert "needs internet access" in result.message
    assert str(tmp_path / "platformio") in result.message
    assert (tmp_path / "platformio").is_dir()  # PlatformIO used the cache folder we gave it
    assert (
        tmp_path / "esphome-data" / "build" / "kitchen-satellite" / "src" / "main.cpp"
    ).is_file()
    assert not (folder / ".esphome").exists()  # nothing built inside the user's folder
    assert any("Generating C++ source" in x for x in lines)


def test_cancelling_a_compile_stops_esphome_and_platformio(folder, tmp_path):
    cancel = threading.Event()

    def on_line(line: str) -> None:
        if "Package download failed" in line:  # PlatformIO now sleeps before retrying
            cancel.set()

    result = flash(
        find_device(folder, "kitchen"),
        folder,
        on_line=on_line,
        cancel_event=cancel,
        options=_no_network(tmp_path, fast=False),
    )
    assert (result.ok, result.failure) == (False, Failure.CANCELLED)
    assert result.seconds < 30  # without cancelling, the retries alone take 60 s
