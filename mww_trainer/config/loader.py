"""Read presets and YAML files, merge an override, substitute ${VAR}s, validate, build.

Errors are collected and raised together as one ConfigError, one problem per line, each naming
the key path, the value, what is allowed and the file the value came from.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import voluptuous as vol
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent

from mww_trainer.config import schema
from mww_trainer.config.schema import KeyPath, show
from mww_trainer.config.types import Config, ModelConfig, samples_for_frames
from mww_trainer.errors import ConfigError


def _preset_names() -> tuple[str, ...]:
    """The presets shipped in config/presets/, cheapest first (by their training steps)."""
    folder = resources.files("mww_trainer.config").joinpath("presets")
    costs = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            preset = YAML(typ="safe", pure=True).load(entry.read_text("utf-8"))
            costs[entry.name.removesuffix(".yaml")] = sum(preset["training"]["training_steps"])
    return tuple(sorted(costs, key=costs.__getitem__))


PRESET_NAMES = _preset_names()
# A configuration is a few kilobytes. Anchors and aliases (&a, *a) are refused: a 1 KB tree of
# aliases expands into gigabytes, and nothing in a configuration needs them.
MAX_YAML_CHARS = 256 * 1024
MAX_YAML_DEPTH = 16  # nested mappings and lists; the deepest key path is 3
EXCERPT_CHARS = 80  # the most of a value an error message quotes

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}$]*))?\}")
_COMPLETE_HINT = (
    "a file given as the config must hold every key; to change only some values, start from "
    "a preset and give your file as the override (--config standard --override {label})"
)

_MISSING = "missing (every key is required)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, and what (the text after 'path: ')."""

    path: KeyPath
    message: str


def not_allowed(value: Any, allowed: str) -> str:
    return f"{excerpt(value)} is not allowed ({allowed})"


def excerpt(value: Any) -> str:
    """A value as written in YAML, cut to EXCERPT_CHARS: a message never repeats a whole file."""
    text = show(value)
    if len(text) <= EXCERPT_CHARS:
        return text
    return f"{text[: EXCERPT_CHARS - 1]}… ({len(text)} characters)"


# Where each value came from: the longest matching key-path prefix names the file.
Origins = dict[KeyPath, str]


def load_config(
    config: str | os.PathLike[str] = "standard",
    override: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load a preset (by name) or a complete YAML file, deep-merge ``override`` onto it.

    ``${VAR}`` and ``${VAR:-default}`` in string values are taken from ``environ``
    (default: ``os.environ``) after merging; the result is still a string.
    """
    if isinstance(config, str) and config in PRESET_NAMES:
        data, label = load_preset_dict(config), f"preset '{config}'"
        hint = None
    else:
        path = _config_path(config)
        data, label = _read_yaml(path, required=True), str(path)
        hint = _COMPLETE_HINT.format(label=label)
    origins: Origins = {(): label}
    if override is not None:
        data = _merge(data, _read_yaml(Path(override)), (), origins, str(override))
    problems: list[Problem] = []
    data = _substitute(data, (), os.environ if environ is None else environ, problems)
    return _validate(data, origins, missing_hint=hint, pending=problems)


def load_preset(name: str) -> Config:
    """One of PRESET_NAMES, validated."""
    data = load_preset_dict(name)
    return _validate(data, {(): f"preset '{name}'"}, missing_hint=None)


def load_preset_dict(name: str) -> dict[str, Any]:
    """A preset as a plain dict, for callers that merge their own values onto it."""
    if name not in PRESET_NAMES:
        raise ConfigError(_unknown_preset(name))
    text = (
        resources.files("mww_trainer.config").joinpath("presets", f"{name}.yaml").read_text("utf-8")
    )
    return parse_yaml_text(text, f"preset '{name}'")


def load_config_dict(data: Mapping[str, Any], *, source: str | None = None) -> Config:
    """Validate an already-merged dict (no ${VAR} substitution). ``source`` names it in errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            _located(f"the configuration must be a mapping, not {excerpt(data)}", source)
        )
    return _validate(data, {(): source} if source else {}, missing_hint=None)


def config_to_dict(config: Config) -> dict[str, Any]:
    """A plain, YAML-able dict (tuples become lists); load_config_dict accepts it back."""
    return {
        name: {field.name: _plain(getattr(section, field.name)) for field in fields(section)}
        for name, section in ((name, getattr(config, name)) for name in schema.SECTION_TYPES)
    }


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; lists and scalars in ``override`` replace the base's."""
    return _merge(base, override, (), {}, "override")


def _merge(
    base: Mapping[str, Any],
    override: Mapping[str, Any],
    path: KeyPath,
    origins: Origins,
    label: str,
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value, (*path, key), origins, label)
        else:
            merged[key] = value
            origins[(*path, key)] = label
    return merged


# --- files ---------------------------------------------------------------------------------


def _config_path(config: str | os.PathLike[str]) -> Path:
    path = Path(config)
    if not path.exists() and isinstance(config, str) and path.suffix == "" and len(path.parts) == 1:
        raise ConfigError(_unknown_preset(config))
    return path


def _unknown_preset(name: str) -> str:
    close = difflib.get_close_matches(name, PRESET_NAMES, n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"unknown preset '{name}'; {guess}presets are {', '.join(PRESET_NAMES)}, "
        "or give the path of a YAML file"
    )


def _read_yaml(path: Path, *, required: bool = False) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; expected a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None
    data = parse_yaml_text(text, str(path))
    if not data and required:
        raise ConfigError(f"{path}: the file is empty; expected a complete configuration")
    return data


def parse_yaml_text(text: str, label: str) -> dict[str, Any]:
    """A YAML mapping from text, checked before it is built: size, depth, no anchors or aliases.

    ``label`` names the text in errors (a file, "overrides"); errors quote at most an excerpt.
    """
    if len(text) > MAX_YAML_CHARS:
        raise ConfigError(
            f"{label}: {len(text)} characters; a configuration is at most {MAX_YAML_CHARS}"
        )
    yaml = YAML(typ="safe", pure=True)
    try:
        _check_events(yaml.parse(text), label)
        data = yaml.load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{label}, line {mark.line + 1}, column {mark.column + 1}" if mark else label
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{where}: invalid YAML: {_cut(problem)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        sections = "a mapping of sections (hardware:, training:, …)"
        raise ConfigError(f"{label}: expected {sections}, not {excerpt(data)}")
    return data


def _check_events(events, label: str) -> None:
    """Refuses anchors, aliases and deep nesting from the parser's events, before any is built."""
    depth = 0
    for event in events:
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise ConfigError(
                f"{label}, line {line}: anchors and aliases (&name, *name, <<) are not accepted; "
                "write each value out"
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ConfigError(
                    f"{label}, line {line}: nested more than {MAX_YAML_DEPTH} levels deep; "
                    "a configuration is sections of keys"
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else f"{text[: EXCERPT_CHARS - 1]}…"


# --- ${VAR} substitution -------------------------------------------------------------------


def _substitute(value: Any, path: KeyPath, environ: Mapping[str, str], problems: list) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings; unresolved ones are added to problems."""
    if isinstance(value, Mapping):
        return {
            key: _substitute(item, (*path, key), environ, problems) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_substitute(item, (*path, i), environ, problems) for i, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if environ.get(name):
            return environ[name]
        if default is not None:
            return default
        if name in environ:
            return ""
        text = f"environment variable {name} is not set (used in {excerpt(value)}); "
        problems.append(Problem(path, text + f"set it, or give a default: ${{{name}:-default}}"))
        return match.group(0)

    if "${" in _VAR.sub("", value):
        problems.append(
            Problem(path, f"{excerpt(value)}: write variables as ${{NAME}} or ${{NAME:-default}}")
        )
        return value
    return _VAR.sub(replace, value)


# --- validation ----------------------------------------------------------------------------


class RetiredKeyWarning(UserWarning):
    """A configuration key that nothing reads any more: ignored, and the user is told why."""


def _drop_retired(data: Mapping[str, Any]) -> Mapping[str, Any]:
    found = [
        (section, key)
        for section, key in schema.RETIRED_KEYS
        if isinstance(data.get(section), Mapping) and key in data[section]
    ]
    if not found:
        return data
    kept = {
        name: dict(value) if isinstance(value, Mapping) else value for name, value in data.items()
    }
    for section, key in found:
        del kept[section][key]
        warnings.warn(
            f"{section}.{key} is no longer used ({schema.RETIRED_KEYS[section, key]}): ignored;"
            " remove it from your configuration",
            RetiredKeyWarning,
            stacklevel=4,
        )
    return kept


def _validate(
    data: Mapping[str, Any],
    origins: Origins,
    *,
    missing_hint: str | None,
    pending: list[Problem] | None = None,
) -> Config:
    problems = list(pending or ())
    data = _drop_retired(data)
    try:
        valid = schema.SCHEMA(dict(data))
    except vol.MultipleInvalid as err:
        problems += [_problem_from_invalid(error, data) for error in err.errors]
    if problems:
        missing = any(problem.message == _MISSING for problem in problems)
        raise _error(problems, origins, hint=missing_hint if missing else None)
    config = Config(
        **{name: section(**valid[name]) for name, section in schema.SECTION_TYPES.items()}
    )
    if problems := _check_consistency(config):
        raise _error(problems, origins)
    return config


def _problem_from_invalid(error: vol.Invalid, data: Mapping[str, Any]) -> Problem:
    path = tuple(error.path)
    if error.msg == "extra keys not allowed":
        allowed = schema.allowed_keys(path[:-1]) or ()
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        if close:
            return Problem(path, f"unknown key; did you mean '{close[0]}'?")
        return Problem(path, f"unknown key; allowed keys: {', '.join(allowed)}")
    if error.msg == "required key not provided":
        return Problem(path, _MISSING)
    allowed = "a mapping of keys" if error.msg.startswith("expected a dict") else error.msg
    try:
        value = _lookup(data, path)
    except (KeyError, IndexError, TypeError):
        return Problem(path, f"not allowed ({allowed})")
    return Problem(path, not_allowed(value, allowed))


def _lookup(data: Any, path: KeyPath) -> Any:
    for key in path:
        data = data[key]
    return data


def _error(problems: list[Problem], origins: Origins, *, hint: str | None = None) -> ConfigError:
    problems = sorted(problems, key=_schema_order)
    lines = [
        _located(f"{_dotted(p.path)}: {p.message}", _origin(p.path, origins)) for p in problems
    ]
    if hint:
        lines.append(hint)
    if len(lines) == 1:
        return ConfigError(lines[0])
    return ConfigError(f"{len(problems)} configuration problems:\n  " + "\n  ".join(lines))


def _schema_order(problem: Problem) -> tuple[int, ...]:
    """Sections and keys in the order the schema (and the presets) list them."""
    order = []
    for depth, key in enumerate(problem.path[:2]):
        allowed = schema.allowed_keys(problem.path[:depth]) or ()
        order.append(allowed.index(key) if key in allowed else len(allowed))
    return tuple(order)


def _located(message: str, source: str | None) -> str:
    return f"{message} [in {source}]" if source else message


def _origin(path: KeyPath, origins: Origins) -> str | None:
    for end in range(len(path), -1, -1):
        if path[:end] in origins:
            return origins[path[:end]]
    return None


def _dotted(path: KeyPath) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


# --- checks across keys --------------------------------------------------------------------


def _check_consistency(config: Config) -> list[Problem]:
    problems = _check_lengths(config) + _check_ranges(config)
    if not any(problem.path[0] == "model" for problem in problems):
        problems += _check_input_length(config)
    return problems


def _check_lengths(config: Config) -> list[Problem]:
    problems = []
    blocks = len(config.model.pointwise_filters)
    for name in schema.BLOCK_FIELDS[1:]:
        if (count := len(getattr(config.model, name))) != blocks:
            text = f"{count} blocks, but model.pointwise_filters has {blocks}; "
            text += f"{', '.join(schema.BLOCK_FIELDS)} need one entry per block"
            problems.append(Problem(("model", name), text))
    phases = len(config.training.training_steps)
    for name in schema.PHASE_FIELDS:
        if (count := len(getattr(config.training, name))) != phases:
            text = f"{count} values, but training.training_steps has {phases} phases; "
            problems.append(Problem(("training", name), text + "give one value per phase"))
    return problems


def _check_ranges(config: Config) -> list[Problem]:
    problems = []
    aug, training = config.augmentation, config.training
    for low, high in (
        ("background_min_snr_db", "background_max_snr_db"),
        ("min_jitter_s", "max_jitter_s"),
    ):
        if getattr(aug, low) > getattr(aug, high):
            text = f"{show(getattr(aug, low))} is more than augmentation.{high} "
            text += f"({show(getattr(aug, high))}); the minimum must not exceed the maximum"
            problems.append(Problem(("augmentation", low), text))
    if training.eval_step_interval > training.total_steps:
        allowed = f"at most the {training.total_steps} training steps, or nothing is evaluated"
        text = not_allowed(training.eval_step_interval, allowed)
        problems.append(Problem(("training", "eval_step_interval"), text))
    return problems


def _check_input_length(config: Config) -> list[Problem]:
    model, hardware = config.model, config.hardware
    length = model.spectrogram_length
    if length is not None:
        if length < model.min_input_frames:
            allowed = (
                f"the model needs at least {model.min_input_frames} frames; "
                f"use that or more, or null to derive it"
            )
            return [Problem(("model", "spectrogram_length"), not_allowed(length, allowed))]
        if (excess := (length - model.first_conv_kernel_size) % model.stride) != 0:
            lower = length - excess
            allowed = (
                f"spectrogram_length - first_conv_kernel_size must be a multiple of the stride "
                f"{model.stride}; nearest valid values: {lower} or {lower + model.stride}"
            )
            return [Problem(("model", "spectrogram_length"), not_allowed(length, allowed))]
    problems = []
    if hardware.clip_frames < model.input_frames:
        min_ms = math.ceil(samples_for_frames(model.input_frames) * 1000 / hardware.sample_rate_hz)
        text = f"{hardware.clip_duration_ms} gives {hardware.clip_frames} feature frames, but the "
        text += f"model ({_describe(model)}) needs {model.input_frames} frames: "
        text += f"set clip_duration_ms to at least {min_ms}"
        problems.append(Problem(("hardware", "clip_duration_ms"), text))
    longest = max(config.training.time_mask_max_size)
    if longest >= model.input_frames:
        allowed = f"fewer than the model's {model.input_frames} input frames"
        problems.append(Problem(("training", "time_mask_max_size"), not_allowed(longest, allowed)))
    return problems


def _describe(model: ModelConfig) -> str:
    kernels = "/".join(
        "+".join(str(k) for k in block) + (f"x{repeats}" if repeats > 1 else "")
        for block, repeats in zip(model.mixconv_kernel_sizes, model.repeat_in_block, strict=True)
    )
    length = model.spectrogram_length
    length_text = "" if length is None else f"spectrogram_length {length}, "
    return (
        f"first conv kernel {model.first_conv_kernel_size} stride {model.stride}, "
        f"mixconv kernels {kernels}, {length_text}{model.head_steps}-step head"
    )
