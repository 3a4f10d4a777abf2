"""Settings: command line, Home Assistant's options.json, and messages that name the option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addon.settings import Settings, SettingsError


def test_from_args_defaults_to_loopback(tmp_path: Path):
    settings = Settings.from_args(["--data-dir", str(tmp_path)], environ={})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8099
    assert settings.data_dir == tmp_path
    assert settings.supervisor is False
    assert settings.mqtt_topic_prefix == "mww_trainer"


def test_binding_elsewhere_needs_a_token(tmp_path: Path):
    with pytest.raises(SettingsError, match=r"host: listening on 0\.0\.0\.0.*--token"):
        Settings.from_args(["--data-dir", str(tmp_path), "--host", "0.0.0.0"], environ={})
    token = "t" * 20
    settings = Settings.from_args(
        ["--data-dir", str(tmp_path), "--host", "0.0.0.0"], environ={"MWW_TRAINER_TOKEN": token}
    )
    assert settings.token == token
    assert token not in repr(settings)


def test_options_file_maps_every_option(tmp_path: Path):
    options = {
        "log_level": "debug",
        "esphome_dir": "/config/esphome",
        "mqtt_host": "core-mosquitto",
        "mqtt_port": 1883,
        "mqtt_username": "addons",
        "mqtt_password": "secret",
        "mqtt_topic_prefix": "wake/trainer",
        "homeassistant_api": True,
        "homeassistant_notifications": False,
        "default_preset": "fast_test",
        "max_upload_mb": 50,
    }
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    settings = Settings.from_options_file(path, {"SUPERVISOR_TOKEN": "abc"})
    assert settings.supervisor and settings.supervisor_token == "abc"
    assert settings.data_dir == Path("/data") and settings.host == "0.0.0.0"
    assert settings.esphome_dir == Path("/config/esphome")
    assert settings.max_upload_bytes == 50 * 2**20
    assert (settings.mqtt_host, settings.default_preset) == ("core-mosquitto", "fast_test")
    assert "secret" not in repr(settings)
    assert settings.homeassistant_api and not settings.homeassistant_notifications


def test_the_packaged_default_options_load(tmp_path: Path):
    """The options config.yaml ships with, as the Supervisor writes them to options.json."""
    from ruamel.yaml import YAML

    config = YAML(typ="safe").load((Path(__file__).parents[2] / "config.yaml").read_text())
    path = tmp_path / "options.json"
    path.write_text(json.dumps(config["options"]))
    settings = Settings.from_options_file(path, {"SUPERVISOR_TOKEN": "abc"})
    assert settings.default_preset in ("fast_test", "standard", "max_quality")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"log_level": "loud"}, "log_level: 'loud' is not allowed"),
        ({"mqtt_port": 70000}, "mqtt_port: 70000 is not allowed"),
        ({"default_preset": "quick"}, "default_preset: 'quick'"),
        ({"max_upload_mb": 0}, "max_upload_mb: 0"),
        ({"mqtt_topic_prefix": "a/#"}, "mqtt_topic_prefix"),
        ({"homeassistant_api": "yes"}, "homeassistant_api"),
        ({"colour": "blue"}, "unknown option.*colour"),
    ],
)
def test_options_file_errors_name_the_option(tmp_path: Path, options, message):
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    with pytest.raises(SettingsError, match=message):
        Settings.from_options_file(path, {"SUPERVISOR_TOKEN": "abc"})


def test_load_picks_the_options_file_under_the_supervisor(tmp_path: Path, monkeypatch):
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"data_dir": str(tmp_path)}))
    monkeypatch.setattr("addon.settings.OPTIONS_FILE", path)
    assert Settings.load([], {"SUPERVISOR_TOKEN": "x"}).supervisor
    assert not Settings.load(["--data-dir", str(tmp_path)], {}).supervisor


def test_secrets_come_from_files_or_the_environment(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file-0123456789\n")
    password_file = tmp_path / "mqtt"
    password_file.write_text("broker-secret")
    settings = Settings.from_args(
        [
            "--data-dir",
            str(tmp_path),
            "--token-file",
            str(token_file),
            "--mqtt-password-file",
            str(password_file),
        ],
        environ={},
    )
    assert settings.token == "from-a-file-0123456789"
    assert settings.mqtt_password == "broker-secret"
    from_env = Settings.from_args(
        ["--data-dir", str(tmp_path)], environ={"MWW_TRAINER_MQTT_PASSWORD": "env-secret"}
    )
    assert from_env.mqtt_password == "env-secret"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SettingsError, match=r"token-file: .*empty is empty"):
        Settings.from_args(
            ["--data-dir", str(tmp_path), "--token-file", str(tmp_path / "empty")], environ={}
        )
