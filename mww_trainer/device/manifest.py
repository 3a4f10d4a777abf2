"""The ESPHome micro_wake_word manifest (version 2): build, validate strictly, read, write.

ESPHome's code generator reads the raw JSON, so a value its schema coerces (the string
"22860" for an int) or never range-checks (a cutoff of 1.5, a window of 0) breaks the
firmware. These rules are therefore stricter than ESPHome's own schema.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from mww_trainer import constants
from mww_trainer.config.types import ExportConfig
from mww_trainer.errors import ManifestError

MANIFEST_NAME = "manifest.json"  # beside the model, as ESPHome and our packages expect

MANIFEST_TYPE = "micro"
# v2 manifests (tensor_arena_size, feature_step_size) need at least this ESPHome.
OLDEST_ESPHOME_VERSION = (2024, 7, 0)
_VERSION_RE = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d+)$")
TOP_KEYS = ("type", "wake_word", "author", "website", "model", "trained_languages", "version")
MICRO_KEYS = (
    "probability_cutoff",
    "feature_step_size",
    "sliding_window_size",
    "tensor_arena_size",
    "minimum_esphome_version",
)
_REQUIRED_TOP = (*(k for k in TOP_KEYS if k != "website"), "micro")


@dataclass(frozen=True)
class Manifest:
    wake_word: str
    author: str
    website: str | None
    model: str  # the .tflite file name, relative to the manifest's folder
    trained_languages: tuple[str, ...]
    probability_cutoff: float
    sliding_window_size: int
    tensor_arena_size: int  # bytes
    feature_step_size: int  # ms
    minimum_esphome_version: str

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": MANIFEST_TYPE,
            "wake_word": self.wake_word,
            "author": self.author,
        }
        if self.website is not None:
            d["website"] = self.website
        d["model"] = self.model
        d["trained_languages"] = list(self.trained_languages)
        d["version"] = constants.MANIFEST_VERSION
        d["micro"] = {
            "probability_cutoff": self.probability_cutoff,
            "feature_step_size": self.feature_step_size,
            "sliding_window_size": self.sliding_window_size,
            "tensor_arena_size": self.tensor_arena_size,
            "minimum_esphome_version": self.minimum_esphome_version,
        }
        return d

    @classmethod
    def from_dict(cls, d: Any, *, source: str = "manifest") -> Manifest:
        problems = manifest_problems(d)
        if problems:
            raise ManifestError(_format_problems(source, problems))
        micro = d["micro"]
        return cls(
            wake_word=d["wake_word"],
            author=d["author"],
            website=d.get("website"),
            model=d["model"],
            trained_languages=tuple(d["trained_languages"]),
            probability_cutoff=float(micro["probability_cutoff"]),
            sliding_window_size=micro["sliding_window_size"],
            tensor_arena_size=micro["tensor_arena_size"],
            feature_step_size=micro["feature_step_size"],
            minimum_esphome_version=micro["minimum_esphome_version"],
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Manifest:
        return cls.from_dict(read_manifest_json(path), source=str(path))


def read_manifest_json(path: str | Path) -> Any:
    """The parsed JSON of a manifest file; ManifestError if unreadable or not strict JSON."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot read the manifest ({err})") from err
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as err:
        raise ManifestError(f"{path}: not valid JSON ({err})") from err


def manifest_problems(d: Any) -> list[str]:
    """Every way `d` breaks the (strict) v2 manifest rules, each prefixed with its key path."""
    if not isinstance(d, Mapping):
        return [f"the manifest must be a JSON object, not {_show(d)}"]
    problems = _unknown_and_missing(d, (*TOP_KEYS, "micro"), _REQUIRED_TOP, "")
    checks = {
        "type": _check_type,
        "version": _check_version,
        "wake_word": _check_text,
        "author": _check_text,
        "website": _check_website,
        "model": _check_model,
        "trained_languages": _check_languages,
    }
    for key, check in checks.items():
        if key in d:
            problems += [f"{key}: {p}" for p in check(d[key])]
    micro = d.get("micro")
    if "micro" in d and not isinstance(micro, Mapping):
        problems.append(f"micro: {_show(micro)} must be an object")
    elif isinstance(micro, Mapping):
        problems += _micro_problems(micro)
    return problems


def _micro_problems(micro: Mapping) -> list[str]:
    problems = _unknown_and_missing(micro, MICRO_KEYS, MICRO_KEYS, "micro.")
    checks = {
        "probability_cutoff": _check_cutoff,
        "feature_step_size": _check_step,
        "sliding_window_size": _check_window,
        "tensor_arena_size": _check_arena,
        "minimum_esphome_version": _check_esphome_version,
    }
    for key, check in checks.items():
        if key in micro:
            problems += [f"micro.{key}: {p}" for p in check(micro[key])]
    return problems


def _unknown_and_missing(d: Mapping, known, required, prefix: str) -> list[str]:
    problems = [
        f"{prefix}{key}: unknown key (allowed: {', '.join(known)})" for key in d if key not in known
    ]
    problems += [f"{prefix}{key}: missing" for key in required if key not in d]
    return problems


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_type(v: Any) -> list[str]:
    return [] if v == MANIFEST_TYPE else [f'{_show(v)} must be "{MANIFEST_TYPE}"']


def _check_version(v: Any) -> list[str]:
    if _is_int(v) and v == constants.MANIFEST_VERSION:
        return []
    return [f"{_show(v)} must be the integer {constants.MANIFEST_VERSION}"]


def _check_text(v: Any) -> list[str]:
    return [] if isinstance(v, str) and v.strip() else [f"{_show(v)} must be a non-empty string"]


def _check_website(v: Any) -> list[str]:
    ok = isinstance(v, str) and not any(c.isspace() for c in v)
    parsed = urlparse(v) if ok else None
    if parsed is not None and parsed.scheme in ("http", "https") and parsed.netloc:
        return []
    return [f"{_show(v)} must be an http(s) URL, e.g. https://example.com/"]


def _check_model(v: Any) -> list[str]:
    if not isinstance(v, str):
        return [f"{_show(v)} must be a file name (string)"]
    bad = (
        "/" in v
        or "\\" in v
        or v.startswith(".")
        or any(ord(c) < 32 for c in v)
        or PurePosixPath(v).name != v
    )
    if bad or not v.endswith(".tflite") or v == ".tflite":
        return [
            f"{_show(v)} must be a plain file name ending .tflite, in the manifest's folder"
            " (no directories, no path traversal)"
        ]
    return []


def _check_languages(v: Any) -> list[str]:
    if isinstance(v, list) and v and all(isinstance(x, str) and x.strip() for x in v):
        return []
    return [f'{_show(v)} must be a non-empty list of language codes, e.g. ["en"]']


def _check_cutoff(v: Any) -> list[str]:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return [f"{_show(v)} must be a number between 0 and 1 (exclusive)"]
    if not (math.isfinite(v) and 0 < v < 1):
        return [f"{_show(v)} must be between 0 and 1 (exclusive)"]
    return []


def _check_step(v: Any) -> list[str]:
    step = constants.WINDOW_STEP_MS
    if not _is_int(v):
        return [f"{_show(v)} must be the integer {step} (ms)"]
    if v != step:
        return [f"{v} must be {step}: the device's audio frontend steps {step} ms"]
    return []


def _check_window(v: Any) -> list[str]:
    if not _is_int(v):
        return [f"{_show(v)} must be an integer (slices)"]
    return [] if v >= 1 else [f"{v} must be at least 1 (0 divides by zero on the device)"]


def _check_arena(v: Any) -> list[str]:
    if not _is_int(v):
        return [f"{_show(v)} must be an integer (bytes)"]
    return [] if v > 0 else [f"{v} must be a positive number of bytes"]


def _check_esphome_version(v: Any) -> list[str]:
    match = _VERSION_RE.match(v) if isinstance(v, str) else None
    oldest = ".".join(map(str, OLDEST_ESPHOME_VERSION))
    if match is None:
        return [f'{_show(v)} must be an ESPHome version like "{oldest}"']
    if tuple(int(g) for g in match.groups()) < OLDEST_ESPHOME_VERSION:
        return [f'"{v}" is older than {oldest}, the first ESPHome that reads v2 manifests']
    return []


def _show(v: Any) -> str:
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(v)


def _format_problems(source: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{source}: invalid micro_wake_word manifest ({len(problems)} problem(s)):\n{lines}"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for key, value in pairs:
        if key in d:
            raise ValueError(f"duplicate key {key!r}")
        d[key] = value
    return d


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def write_manifest(manifest: Manifest, path: str | Path) -> Path:
    """Validate, then write atomically (temp file + os.replace) as pretty JSON."""
    path = Path(path)
    d = manifest.to_dict()
    problems = manifest_problems(d)
    if problems:
        raise ManifestError(_format_problems(str(path), problems))
    text = json.dumps(d, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def manifest_from_export_config(
    export_cfg: ExportConfig,
    model_file: str | Path,
    tensor_arena_size: int,
    probability_cutoff: float | None = None,
    sliding_window_size: int | None = None,
) -> Manifest:
    """The manifest for a model exported with `export_cfg`; it sits beside `model_file`.

    `tensor_arena_size` is the value to write (measured plus margin, or the configured one);
    a cutoff or window chosen by evaluation overrides the configured one.
    """
    cutoff = export_cfg.probability_cutoff if probability_cutoff is None else probability_cutoff
    window = export_cfg.sliding_window_size if sliding_window_size is None else sliding_window_size
    d: dict[str, Any] = {
        "type": MANIFEST_TYPE,
        "wake_word": export_cfg.wake_word,
        "author": export_cfg.author,
        "model": Path(model_file).name,
        "trained_languages": list(export_cfg.trained_languages),
        "version": constants.MANIFEST_VERSION,
        "micro": {
            "probability_cutoff": cutoff,
            "feature_step_size": constants.WINDOW_STEP_MS,
            "sliding_window_size": window,
            "tensor_arena_size": tensor_arena_size,
            "minimum_esphome_version": export_cfg.minimum_esphome_version,
        },
    }
    if export_cfg.website is not None:
        d["website"] = export_cfg.website
    return Manifest.from_dict(d, source="export settings")


def esphome_schema_problems(d: Any) -> list[str] | None:
    """Problems ESPHome's own MANIFEST_SCHEMA_V2 finds; None when ESPHome is not installed.

    The schema is plain voluptuous and needs no CORE context; a deep copy keeps `d` intact.
    """
    try:
        import esphome.config_validation as cv
        from esphome.components.micro_wake_word import MANIFEST_SCHEMA_V2
    except ImportError:
        return None
    try:
        MANIFEST_SCHEMA_V2(copy.deepcopy(d))
    except cv.Invalid as err:
        errors = getattr(err, "errors", None) or [err]
        return [f"{'.'.join(map(str, e.path)) or '(top)'}: {e.msg}" for e in errors]
    return []
