"""The service's settings: one frozen dataclass, built once at start-up from arguments or options.

This is the only module that reads the environment or /data/options.json. Inside Home Assistant
the Supervisor writes the add-on's options (config.yaml's schema) to /data/options.json and sets
SUPERVISOR_TOKEN; standalone, everything comes from the command line.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mww_trainer.config import PRESET_NAMES

OPTIONS_FILE = Path("/data/options.json")
SUPERVISOR_DATA_DIR = Path("/data")
INGRESS_REMOTE = "172.30.32.2"  # the Supervisor's ingress proxy: the only peer served under HA
DEFAULT_PORT = 8099
LOG_LEVELS = ("trace", "debug", "info", "notice", "warning", "error", "fatal")
TOKEN_ENV = "MWW_TRAINER_TOKEN"
MQTT_PASSWORD_ENV = "MWW_TRAINER_MQTT_PASSWORD"
HA_TOKEN_ENV = "MWW_TRAINER_HA_TOKEN"
# Secrets given on the command line show in `ps` to every user: each has a file and an
# environment variable instead (flag, its file flag, the variable).
SECRETS = (
    ("token", "token_file", TOKEN_ENV),
    ("mqtt_password", "mqtt_password_file", MQTT_PASSWORD_ENV),
    ("homeassistant_token", "homeassistant_token_file", HA_TOKEN_ENV),
)
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


class SettingsError(ValueError):
    """An option is invalid; the message names it and says what is allowed."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)  # required off loopback, outside HA
    log_level: str = "info"
    esphome_dir: Path | None = None
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = field(default=None, repr=False)
    mqtt_topic_prefix: str = "mww_trainer"
    homeassistant_api: bool = False  # may call Home Assistant's Core API through the Supervisor
    homeassistant_notifications: bool = True  # tell Home Assistant when a job ends (needs HA)
    # Standalone: the Home Assistant whose voice satellites record (a long-lived admin token).
    homeassistant_url: str | None = None
    homeassistant_token: str | None = field(default=None, repr=False)
    default_preset: str = "standard"
    max_upload_mb: int = 200
    # Set by from_options_file: requests are served only from the ingress proxy.
    supervisor: bool = False
    supervisor_token: str | None = field(default=None, repr=False)
    # Not options: knobs the tests turn.
    cancel_grace_s: float = 10.0  # SIGTERM, then SIGKILL after this long
    max_restarts: int = 3  # unexpected interruptions of one job before it is marked failed

    def __post_init__(self) -> None:
        _check(self)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def db_path(self) -> Path:
        return self.data_dir / "mww_trainer.sqlite3"

    @property
    def projects_dir(self) -> Path:
        return self.data_dir / "projects"

    @classmethod
    def from_options_file(
        cls, path: Path = OPTIONS_FILE, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Inside Home Assistant: options.json (config.yaml's schema) + SUPERVISOR_TOKEN."""
        environ = os.environ if environ is None else environ
        try:
            options = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{path}: options file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SettingsError(f"{path}: cannot be read as JSON ({exc})") from None
        if not isinstance(options, dict):
            raise SettingsError(f"{path}: expected a JSON object of options")
        known = {f.name for f in fields(cls)} - {"supervisor", "supervisor_token"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise SettingsError(
                f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = {key: _blank_to_none(value) for key, value in options.items()}
        values.setdefault("data_dir", SUPERVISOR_DATA_DIR)
        values.setdefault("host", "0.0.0.0")
        values.setdefault("homeassistant_api", True)
        for key in ("data_dir", "esphome_dir"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        return _build(
            values, supervisor=True, supervisor_token=environ.get("SUPERVISOR_TOKEN") or None
        )

    @classmethod
    def from_args(
        cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Standalone: `python -m addon --data-dir DIR [--host H --port P --token T]`."""
        environ = os.environ if environ is None else environ
        args = _parser().parse_args(argv)
        values = {k: v for k, v in vars(args).items() if v is not None}
        for name, file_option, variable in SECRETS:
            path = values.pop(file_option, None)
            if path is not None:
                values[name] = _read_secret(path, file_option)
            elif name not in values and environ.get(variable):
                values[name] = environ[variable]
        return _build(values, supervisor=False, supervisor_token=None)

    @classmethod
    def load(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None):
        """Options file under the Supervisor (SUPERVISOR_TOKEN set), else the command line."""
        environ = os.environ if environ is None else environ
        if environ.get("SUPERVISOR_TOKEN") and not argv:
            return cls.from_options_file(OPTIONS_FILE, environ)
        return cls.from_args(argv, environ)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _build(values: dict[str, Any], **extra: Any) -> Settings:
    for key in ("data_dir", "esphome_dir"):
        # Absolute: workers run in their job folder, where "./data" would name another place.
        if isinstance(values.get(key), str | Path):
            values[key] = Path(values[key]).absolute()
    try:
        return Settings(**values, **extra)
    except TypeError as exc:  # a value of the wrong kind that __post_init__ could not name
        raise SettingsError(str(exc)) from None


def _read_secret(path: Path, option: str) -> str:
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{option.replace('_', '-')}: cannot read {path} ({exc})") from None
    if not secret:
        raise SettingsError(f"{option.replace('_', '-')}: {path} is empty")
    return secret


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _check(s: Settings) -> None:
    problems = []

    def need(name: str, ok: bool, allowed: str) -> None:
        if not ok:
            problems.append(f"{name}: {getattr(s, name)!r} is not allowed ({allowed})")

    need("log_level", s.log_level in LOG_LEVELS, " / ".join(LOG_LEVELS))
    need("host", isinstance(s.host, str) and bool(s.host.strip()), "an address to listen on")
    for name in ("port", "mqtt_port"):
        value = getattr(s, name)
        need(name, _is_int(value) and 1 <= value <= 65535, "a port number 1-65535")
    need("max_upload_mb", _is_int(s.max_upload_mb) and s.max_upload_mb >= 1, "megabytes, >= 1")
    need("default_preset", s.default_preset in PRESET_NAMES, " / ".join(PRESET_NAMES))
    for name in ("homeassistant_api", "homeassistant_notifications"):
        need(name, isinstance(getattr(s, name), bool), "true or false")
    prefix_ok = isinstance(s.mqtt_topic_prefix, str) and bool(
        _TOPIC_PREFIX.match(s.mqtt_topic_prefix)
    )
    need("mqtt_topic_prefix", prefix_ok, "topic levels of letters, digits, _ and -, no wildcards")
    url = s.homeassistant_url
    if url is not None and not (
        isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc
    ):
        problems.append(f"homeassistant_url: {url!r} is not allowed (http://HOST:8123)")
    for name in ("token", "mqtt_host", "mqtt_username", "mqtt_password", "homeassistant_token"):
        value = getattr(s, name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append(f"{name}: must be a non-empty string or left out")
    if s.token is not None and isinstance(s.token, str) and len(s.token) < 16:
        problems.append("token: too short; use at least 16 random characters")
    if not s.supervisor and not s.token and isinstance(s.host, str) and not _loopback(s.host):
        problems.append(
            f"host: listening on {s.host} lets other machines in; give --token "
            f"(or ${TOKEN_ENV}) so the panel asks for it, or listen on 127.0.0.1"
        )
    if problems:
        raise SettingsError("; ".join(problems))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m addon", description="The mww-trainer web panel and API."
    )
    add = parser.add_argument
    add("--data-dir", type=Path, required=True, help="where projects, samples and jobs live")
    add("--host", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, help=f"port (default {DEFAULT_PORT})")
    add(
        "--token",
        help=f"access token, required off loopback; other users see it in ps, so prefer "
        f"--token-file or ${TOKEN_ENV}",
    )
    add("--token-file", type=Path, help="a file holding the access token")
    add("--log-level", choices=LOG_LEVELS)
    add("--esphome-dir", type=Path, help="the ESPHome configuration folder")
    add("--mqtt-host")
    add("--mqtt-port", type=int)
    add("--mqtt-username")
    add("--mqtt-password", help=f"prefer --mqtt-password-file or ${MQTT_PASSWORD_ENV}")
    add("--mqtt-password-file", type=Path, help="a file holding the MQTT password")
    add("--mqtt-topic-prefix")
    add("--homeassistant-api", action=argparse.BooleanOptionalAction, default=None)
    add("--homeassistant-notifications", action=argparse.BooleanOptionalAction, default=None)
    add("--homeassistant-url", help="Home Assistant for recording through its voice satellites")
    add("--homeassistant-token", help=f"prefer --homeassistant-token-file or ${HA_TOKEN_ENV}")
    add("--homeassistant-token-file", type=Path, help="a file holding a long-lived admin token")
    add("--default-preset", choices=PRESET_NAMES)
    add("--max-upload-mb", type=int, help="largest upload accepted, in MiB (default 200)")
    return parser
