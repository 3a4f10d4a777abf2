"""Reading users' ESPHome YAML without executing or resolving anything.

ruamel.yaml's round-trip loader keeps every tag it does not know (`!secret`, `!include`,
`!lambda`, `!extend`, `!remove`, `!include {file: …, vars: …}`) as a tagged node, so a
file parses exactly as written: no secret is read, no file is included, no code runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import YAMLError

from mww_trainer.esphome.errors import EsphomeBridgeError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _loader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


def parse_text(text: str, *, source: str) -> Any:
    """The round-trip tree of `text`; EsphomeBridgeError naming `source` if it is not YAML."""
    try:
        return _loader().load(text)
    except YAMLError as err:
        raise EsphomeBridgeError(f"{source}: not valid YAML ({_one_line(err)})") from err


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as err:
        raise EsphomeBridgeError(f"{path}: cannot read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise EsphomeBridgeError(f"{path}: not UTF-8 text ({err})") from err


def load_file(path: Path) -> Any:
    return parse_text(read_text(path), source=str(path))


def tag_of(node: Any) -> str | None:
    """The explicit tag of a node (`!secret`, `!include`, …), None for plain nodes."""
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) and value.startswith("!") else None


def scalar_value(node: Any) -> Any:
    """A tagged scalar's text; other nodes unchanged."""
    return node.value if isinstance(node, TaggedScalar) else node


def to_plain(node: Any) -> Any:
    """Comments and styles dropped, tags kept as ("!tag", value): for comparing two trees."""
    tag = tag_of(node)
    if isinstance(node, CommentedMap | dict):
        plain: Any = {str(k): to_plain(v) for k, v in node.items()}
    elif isinstance(node, CommentedSeq | list):
        plain = [to_plain(v) for v in node]
    elif isinstance(node, TaggedScalar):
        plain = node.value
    elif isinstance(node, str):
        plain = str(node)
    else:
        plain = node
    return (tag, plain) if tag else plain


def split_lines(text: str) -> list[str]:
    """Lines with their own line break kept (\\n, \\r\\n or \\r, as YAML counts them)."""
    lines, start = [], 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def newline_of(text: str) -> str:
    match = _LINE_BREAK.search(text)
    return match.group(0) if match else "\n"


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
