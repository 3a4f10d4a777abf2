"""Listing device configurations: what is read, what is resolved, and no secret ever shown."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mww_trainer.cli.esphome import main
from mww_trainer.esphome import DeviceNotFoundError, find_device, list_devices
from mww_trainer.esphome.devices import substitute
from mww_trainer.esphome.secrets import Redactor, secret_values

SATELLITE = Path(__file__).parents[1] / "data" / "esphome" / "satellite"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "esphome"
    shutil.copytree(SATELLITE, target)
    (target / ".hidden.yaml").write_text("esphome:\n  name: hidden\n")
    (target / "shared.yaml").write_text("sensor:\n  - platform: uptime\n")  # not a device
    (target / "broken.yaml").write_text("esphome:\n  name: [unclosed\n")
    return target


def test_lists_top_level_devices_only(folder):
    names = [(d.yaml_file, d.name) for d in list_devices(folder)]
    assert names == [
        ("broken.yaml", "broken"),
        ("kitchen.yaml", "kitchen-satellite"),
        ("plug.yaml", "hall-plug"),
        ("voice-pe.yaml", "home-assistant-voice-0a1b2c"),
    ]


def test_kitchen_satellite_details(folder):
    d = find_device(folder, "kitchen")
    assert (d.name, d.friendly_name) == ("kitchen-satellite", "Kitchen Satellite")
    assert (d.platform, d.board, d.variant, d.framework) == (
        "esp32",
        "esp32-s3-devkitc-1",
        "esp32s3",
        "esp-idf",
    )
    assert (d.address, d.address_source) == ("kitchen-satellite.local", "mdns")
    assert (d.ota_port, d.ota_password) == (3232, True)
    assert d.has_micro_wake_word
    assert [(w.model, w.id, w.origin) for w in d.wake_words] == [
        ("models/okay_nabu.json", "okay_nabu", "main")
    ]


def test_static_ip_no_password_and_other_platform(folder):
    d = find_device(folder, "hall-plug")
    assert (d.platform, d.board, d.framework) == ("esp8266", "esp01_1m", None)
    assert (d.address, d.address_source) == ("192.168.1.60", "static_ip")
    assert (d.ota_port, d.ota_password) == (8266, False)
    assert not d.has_micro_wake_word


def test_remote_package_and_secret_address(folder):
    d = find_device(folder, "voice-pe.yaml")
    assert (d.address, d.address_source) == (None, "secret")
    assert [(p.name, p.local) for p in d.packages] == [("Nabu Casa.Home Assistant Voice PE", False)]
    assert any("remote" in n for n in d.notes)


def test_local_include_package_models_come_first(folder):
    (folder / "wake_words" / "x").mkdir(parents=True)
    (folder / "wake_words" / "x" / "x.package.yaml").write_text(
        "micro_wake_word:\n  models:\n    - model: wake_words/x/x.json\n      id: x\n"
    )
    kitchen = folder / "kitchen.yaml"
    kitchen.write_text(
        kitchen.read_text() + "\npackages:\n  mww_x: !include wake_words/x/x.package.yaml\n"
    )
    d = find_device(folder, "kitchen-satellite")
    assert [(w.id, w.origin) for w in d.wake_words] == [("x", "mww_x"), ("okay_nabu", "main")]
    assert [(p.name, p.source, p.local) for p in d.packages] == [
        ("mww_x", "wake_words/x/x.package.yaml", True)
    ]


def test_use_address_and_substitutions(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "substitutions:\n  dev: attic\n  ip: 10.0.0.9\nesphome:\n  name: $dev-sat\n"
        "esp32:\n  board: esp32dev\n  framework:\n    type: arduino\n"
        "wifi:\n  use_address: ${ip}\nota:\n  - platform: esphome\n    port: 3300\n"
    )
    d = find_device(tmp_path, "attic-sat")
    assert (d.name, d.address, d.address_source, d.ota_port) == (
        "attic-sat",
        "10.0.0.9",
        "use_address",
        3300,
    )
    assert d.framework == "arduino"


def test_unreadable_file_is_listed_with_its_error(folder):
    broken = find_device(folder, "broken")
    assert broken.error and "not valid YAML" in broken.error


def test_unknown_device_lists_available_names(folder):
    with pytest.raises(DeviceNotFoundError) as err:
        find_device(folder, "garage")
    assert "kitchen-satellite (kitchen.yaml)" in str(err.value)
    assert "hall-plug (plug.yaml)" in str(err.value)


def test_device_outside_the_folder_is_refused(folder, tmp_path):
    with pytest.raises(DeviceNotFoundError, match="top of"):
        find_device(folder, str(tmp_path / "elsewhere" / "kitchen.yaml"))


def test_substitute_leaves_unknown_names():
    assert substitute("${a}-$b-${c}", {"a": "1", "b": "${a}2"}) == "1-12-${c}"


def test_devices_json_never_contains_secret_values(folder, capsys):
    assert main(["devices", "--esphome-dir", str(folder), "--json"]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out)
    assert {d["name"] for d in listed} >= {"kitchen-satellite", "hall-plug"}
    assert next(d for d in listed if d["name"] == "kitchen-satellite")["ota_password"] is True
    secrets = secret_values(folder)
    assert len(secrets) == 4
    for value in secrets:
        assert value not in out


def test_devices_table(folder, capsys):
    assert main(["devices", "--esphome-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "kitchen-satellite" in out and "okay_nabu" in out and "esp32-s3-devkitc-1" in out
    for value in secret_values(folder):
        assert value not in out


def test_missing_folder_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MWW_ESPHOME_DIR", raising=False)
    assert main(["devices", "--esphome-dir", str(tmp_path / "nope")]) == 2
    assert "not an ESPHome config folder" in capsys.readouterr().err


def test_redactor_masks_secrets_and_plain_passwords(folder):
    (folder / "plug.yaml").write_text(
        (folder / "plug.yaml").read_text() + "  password: plain-text-pass\n"
    )
    redact = Redactor.for_config(folder, folder / "plug.yaml")
    text = redact("auth with s3cr3t-ota-pass and plain-text-pass on KitchenNet-5G")
    assert "s3cr3t" not in text and "plain-text" not in text and "KitchenNet" not in text


def test_default_folder_from_the_environment_or_an_error(folder, monkeypatch, capsys):
    monkeypatch.setattr("mww_trainer.cli.esphome.HA_ESPHOME_DIR", folder / "not-there")
    monkeypatch.delenv("MWW_ESPHOME_DIR", raising=False)
    assert main(["devices"]) == 2
    assert "pass --esphome-dir" in capsys.readouterr().err
    monkeypatch.setenv("MWW_ESPHOME_DIR", str(folder))
    assert main(["devices"]) == 0
    assert "kitchen-satellite" in capsys.readouterr().out
