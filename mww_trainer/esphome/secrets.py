"""Keeping secrets out of everything we print, log or return.

We never need a secret's value ourselves: ESPHome resolves `!secret` when it validates,
compiles or uploads. What we do need is to scrub any value from `secrets.yaml` (and any
plain-text password in a device file) out of ESPHome's output before showing it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mww_trainer.esphome import yamlio
from mww_trainer.esphome.errors import EsphomeBridgeError

SECRETS_FILES = ("secrets.yaml", "secrets.yml")
MASK = "******"
MIN_SECRET_CHARS = 4  # shorter values ("1", "on") would mask ordinary words
_SENSITIVE_KEY = re.compile(r"(^|_)(password|passwd|key|psk|token|secret)$", re.IGNORECASE)


class Redactor:
    """Replaces every known secret value in a text with a mask."""

    def __init__(self, values: Iterable[str] = ()):
        unique = {v for v in values if len(v) >= MIN_SECRET_CHARS}
        # Longest first, so a secret containing another is masked whole.
        self._values = tuple(sorted(unique, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def __len__(self) -> int:
        return len(self._values)

    @classmethod
    def for_config(cls, esphome_dir: Path, yaml_path: Path | None = None) -> Redactor:
        """Secrets of the folder plus the plain-text sensitive values in one device file."""
        values = list(secret_values(esphome_dir))
        if yaml_path is not None:
            # An unreadable device file has no literals to hide; ESPHome will say why.
            with contextlib.suppress(EsphomeBridgeError):
                values += sensitive_literals(yamlio.load_file(yaml_path))
        return cls(values)


def secret_values(esphome_dir: Path) -> list[str]:
    """Every scalar value in the folder's secrets file, as text (never logged)."""
    for name in SECRETS_FILES:
        path = Path(esphome_dir) / name
        if path.is_file():
            try:
                tree = yamlio.load_file(path)
            except EsphomeBridgeError:
                return []  # ESPHome itself reports an unreadable secrets file
            return [str(v) for v in _scalars(tree) if v is not None and not isinstance(v, bool)]
    return []


def sensitive_literals(tree: Any) -> list[str]:
    """Plain (untagged) values of password/key-like keys anywhere in a device file."""
    found: list[str] = []
    if isinstance(tree, CommentedMap):
        for key, value in tree.items():
            if _SENSITIVE_KEY.search(str(key)) and isinstance(value, str | int):
                if yamlio.tag_of(value) is None:
                    found.append(str(value))
            else:
                found += sensitive_literals(value)
    elif isinstance(tree, CommentedSeq):
        for item in tree:
            found += sensitive_literals(item)
    return found


def _scalars(tree: Any) -> list[Any]:
    if isinstance(tree, CommentedMap):
        return [s for v in tree.values() for s in _scalars(v)]
    if isinstance(tree, CommentedSeq):
        return [s for v in tree for s in _scalars(v)]
    return [yamlio.scalar_value(tree)]
