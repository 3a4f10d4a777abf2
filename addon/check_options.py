"""Check the add-on's options before the service starts.

``validate_options(options)`` returns one line per problem, each naming the option and saying
what would be accepted; the add-on's init step runs ``python3 -m addon.check_options`` so a bad
option stops the start with its reason in the log. ``SCHEMA`` is the same text as the
``schema:`` block of config.yaml (a test keeps them equal); the checks after the type checks are
the ones the Supervisor's schema cannot express. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from mww_trainer.config.loader import PRESET_NAMES

OPTIONS_PATH = Path("/data/options.json")

SCHEMA: dict[str, str] = {
    "log_level": "list(trace|debug|info|notice|warning|error|fatal)?",
    "esphome_dir": "str",
    "default_preset": f"list({'|'.join(PRESET_NAMES)})",
    "max_upload_mb": "int(1,)",
    "mqtt_topic_prefix": "str",
    "mqtt_host": "str?",
    "mqtt_port": "port?",
    "mqtt_username": "str?",
    "mqtt_password": "password?",
    "homeassistant_notifications": "bool",
}

_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")
_TYPE = re.compile(
    r"^(?P<kind>str|password|int|float|bool|port|email|url|match|list)"
    r"(?:\((?P<args>.*)\))?(?P<optional>\?)?$"
)


def validate_options(options: Mapping[str, Any]) -> list[str]:
    """Problems with the options, one line each; an empty list means they are fine.

    Unknown keys are ignored (the Supervisor drops them too). An optional option may be absent,
    None or an empty string, all meaning "not set".
    """
    problems = []
    for name, type_text in SCHEMA.items():
        value = options.get(name)
        optional = type_text.endswith("?")
        if value is None or (optional and value == ""):
            if not optional:
                problems.append(f"{name}: missing (expected {_expected(type_text)})")
            continue
        problem = _check_type(type_text, value)
        if problem:
            problems.append(f"{name}: {problem}")
    if not problems:
        problems.extend(_check_meaning(options))
    return problems


def is_set(options: Mapping[str, Any], name: str) -> bool:
    return options.get(name) not in (None, "")


def _check_meaning(options: Mapping[str, Any]) -> list[str]:
    problems = []
    esphome_dir = options["esphome_dir"]
    if not PurePosixPath(esphome_dir).is_absolute():
        problems.append(
            f"esphome_dir: {esphome_dir!r} is not an absolute path "
            "(e.g. /homeassistant/esphome, where the ESPHome add-on keeps its YAML files)"
        )
    prefix = options["mqtt_topic_prefix"]
    if not _TOPIC_PREFIX.fullmatch(prefix):
        problems.append(
            f"mqtt_topic_prefix: {prefix!r} is not allowed (topic levels of letters, digits, "
            "_ and -, separated by /, such as mww_trainer or home/wake_words; no wildcards)"
        )
    host = options.get("mqtt_host") or ""
    if host and ("://" in host or any(char.isspace() for char in host)):
        problems.append(
            f"mqtt_host: {host!r} should be a bare host name or address (e.g. 192.168.1.10), "
            "with the port in mqtt_port"
        )
    if not host:
        stray = [n for n in ("mqtt_port", "mqtt_username", "mqtt_password") if is_set(options, n)]
        if stray:
            problems.append(
                f"{', '.join(stray)}: set without mqtt_host; set mqtt_host too, or clear them to "
                "use the broker the Supervisor offers"
            )
    if is_set(options, "mqtt_password") and not is_set(options, "mqtt_username"):
        problems.append("mqtt_password: set without mqtt_username; set the username too")
    return problems


def _check_type(type_text: str, value: Any) -> str | None:
    """None if value fits the Supervisor schema type, else what is wrong."""
    match = _TYPE.match(type_text)
    if match is None:
        raise ValueError(f"unknown schema type {type_text!r}")
    kind, args = match["kind"], match["args"]
    expected = _expected(type_text)
    if kind in ("str", "password", "email", "url", "match", "list"):
        if not isinstance(value, str):
            return f"{value!r} is not allowed ({expected})"
        if kind == "list" and value not in args.split("|"):
            return f"{value!r} is not one of {', '.join(args.split('|'))}"
        if kind == "match" and not re.fullmatch(args, value):
            return f"{value!r} does not match {args}"
        if kind in ("str", "password") and args is not None:
            low, high = _bounds(args, int)
            if (low is not None and len(value) < low) or (high is not None and len(value) > high):
                return f"{value!r} is not allowed ({expected})"
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else f"{value!r} is not allowed (true or false)"
    numbers = (int, float) if kind == "float" else int
    if isinstance(value, bool) or not isinstance(value, numbers):
        return f"{value!r} is not allowed ({expected})"
    low, high = (1, 65535) if kind == "port" else _bounds(args or ",", float)
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{value!r} is not allowed ({expected})"
    return None


def _bounds(args: str, number: type) -> tuple[Any, Any]:
    low, _, high = args.partition(",")
    return (number(low) if low else None, number(high) if high else None)


def _expected(type_text: str) -> str:
    match = _TYPE.match(type_text)
    if match is None:
        return type_text
    kind, args = match["kind"], match["args"]
    if kind == "list":
        return "one of " + ", ".join(args.split("|"))
    if kind == "port":
        return "a port number, 1 to 65535"
    if kind == "bool":
        return "true or false"
    if kind in ("int", "float"):
        low, _, high = (args or ",").partition(",")
        noun = "an integer" if kind == "int" else "a number"
        if low and high:
            return f"{noun} from {low} to {high}"
        return (
            f"{noun} of at least {low}" if low else (f"{noun} of at most {high}" if high else noun)
        )
    if kind == "match":
        return f"text matching {args}"
    return "text"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m addon.check_options", description="Check the add-on's options."
    )
    parser.add_argument("path", nargs="?", type=Path, default=OPTIONS_PATH)
    args = parser.parse_args(argv)
    try:
        options = json.loads(args.path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(
            f"{args.path} not found: the Supervisor writes it; standalone, pass a path",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError) as err:
        print(f"{args.path} cannot be read as JSON: {err}", file=sys.stderr)
        return 1
    if not isinstance(options, dict):
        print(f"{args.path} should hold a JSON object of options", file=sys.stderr)
        return 1
    problems = validate_options(options)
    for problem in problems:
        print(f"invalid option {problem}", file=sys.stderr)
    if problems:
        print(
            "fix the options in the add-on's Configuration tab, then start it again",
            file=sys.stderr,
        )
        return 1
    esphome_dir = Path(options["esphome_dir"])
    if not esphome_dir.is_dir():
        print(
            f"note: esphome_dir {esphome_dir} does not exist yet (is the ESPHome add-on installed?)"
        )
    print(f"options in {args.path} are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
