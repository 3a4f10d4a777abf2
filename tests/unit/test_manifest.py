"""The v2 manifest: strict validation, round trips, atomic writing, ESPHome's own schema."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from mww_trainer.config.types import ExportConfig
from mww_trainer.device.manifest import (
    Manifest,
    esphome_schema_problems,
    manifest_from_export_config,
    manifest_problems,
    read_manifest_json,
    write_manifest,
)
from mww_trainer.errors import ManifestError

OFFICIAL = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    package = pytest.importorskip("pymicro_wakeword")
    return Path(package.__file__).parent / "models"


@pytest.fixture
def good() -> dict:
    return {
        "type": "micro",
        "wake_word": "Hey Computer",
        "author": "Test",
        "website": "https://example.com/",
        "model": "hey_computer.tflite",
        "trained_languages": ["en"],
        "version": 2,
        "micro": {
            "probability_cutoff": 0.97,
            "feature_step_size": 10,
            "sliding_window_size": 5,
            "tensor_arena_size": 22860,
            "minimum_esphome_version": "2024.7.0",
        },
    }


def _errors(d: dict) -> str:
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(d, source="m.json")
    return str(info.value)


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_manifests_load_and_round_trip(models_dir: Path, name: str) -> None:
    path = models_dir / f"{name}.json"
    manifest = Manifest.from_file(path)
    assert manifest.model == f"{name}.tflite"
    assert manifest.to_dict() == json.loads(path.read_text())
    assert manifest_problems(manifest.to_dict()) == []


def test_good_manifest_round_trips(good: dict) -> None:
    manifest = Manifest.from_dict(good)
    assert manifest.tensor_arena_size == 22860
    assert manifest.trained_languages == ("en",)
    assert manifest.to_dict() == good


def test_website_is_optional_and_omitted_when_none(good: dict) -> None:
    del good["website"]
    manifest = Manifest.from_dict(good)
    assert manifest.website is None
    assert "website" not in manifest.to_dict()


def test_string_arena_size_is_an_error_naming_its_path(good: dict) -> None:
    good["micro"]["tensor_arena_size"] = "22860"
    assert 'micro.tensor_arena_size: "22860" must be an integer (bytes)' in _errors(good)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("probability_cutoff", 1.5, "micro.probability_cutoff: 1.5 must be between 0 and 1"),
        ("probability_cutoff", 0, "micro.probability_cutoff: 0 must be between 0 and 1"),
        ("probability_cutoff", "0.9", 'micro.probability_cutoff: "0.9" must be a number'),
        ("sliding_window_size", 0, "micro.sliding_window_size: 0 must be at least 1"),
        ("sliding_window_size", True, "micro.sliding_window_size: true must be an integer"),
        ("sliding_window_size", 5.0, "micro.sliding_window_size: 5.0 must be an integer"),
        ("tensor_arena_size", 0, "micro.tensor_arena_size: 0 must be a positive"),
        ("feature_step_size", 20, "micro.feature_step_size: 20 must be 10"),
        ("minimum_esphome_version", "2024.7", "micro.minimum_esphome_version"),
        ("minimum_esphome_version", "2023.12.0", "older than 2024.7.0"),
    ],
)
def test_micro_values_are_checked(good: dict, key: str, value, expected: str) -> None:
    good["micro"][key] = value
    assert expected in _errors(good)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("version", "2", 'version: "2" must be the integer 2'),
        ("version", True, "version: true must be the integer 2"),
        ("version", 1, "version: 1 must be the integer 2"),
        ("type", "macro", 'type: "macro" must be "micro"'),
        ("website", "not a url", 'website: "not a url" must be an http(s) URL'),
        ("website", "ftp://example.com/", "must be an http(s) URL"),
        ("model", "../evil.tflite", "model: "),
        ("model", "sub/model.tflite", "no directories"),
        ("model", "model.onnx", "ending .tflite"),
        ("trained_languages", [], "trained_languages: [] must be a non-empty list"),
        ("trained_languages", "en", "trained_languages"),
        ("wake_word", "", "wake_word"),
    ],
)
def test_top_level_values_are_checked(good: dict, key: str, value, expected: str) -> None:
    good[key] = value
    assert expected in _errors(good)


def test_unknown_keys_are_rejected_with_their_path(good: dict) -> None:
    good["extra"] = 1
    good["micro"]["sliding_window_average_size"] = 5
    text = _errors(good)
    assert "extra: unknown key" in text
    assert "micro.sliding_window_average_size: unknown key" in text


def test_missing_keys_and_every_problem_are_listed(good: dict) -> None:
    del good["micro"]["tensor_arena_size"]
    del good["author"]
    good["micro"]["probability_cutoff"] = 2
    problems = manifest_problems(good)
    assert "micro.tensor_arena_size: missing" in problems
    assert "author: missing" in problems
    assert any(p.startswith("micro.probability_cutoff:") for p in problems)
    assert len(problems) == 3


def test_non_object_input_is_a_problem() -> None:
    assert manifest_problems([1, 2]) == ["the manifest must be a JSON object, not [1, 2]"]
    assert manifest_problems({"micro": 3})[-1] == "micro: 3 must be an object"


def test_write_manifest_is_pretty_validated_and_atomic(tmp_path: Path, good: dict) -> None:
    path = write_manifest(Manifest.from_dict(good), tmp_path / "m.json")
    text = path.read_text()
    assert text.endswith("}\n") and '\n  "micro": {\n' in text
    assert json.loads(text) == good
    assert Manifest.from_file(path).to_dict() == good

    bad = Manifest.from_dict(good)
    object.__setattr__(bad, "sliding_window_size", 0)
    with pytest.raises(ManifestError, match=r"micro\.sliding_window_size"):
        write_manifest(bad, tmp_path / "bad.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_read_rejects_broken_json(tmp_path: Path, good: dict) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"type": "micro", "type": "micro"}')
    with pytest.raises(ManifestError, match="duplicate key 'type'"):
        read_manifest_json(path)
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.from_file(path)
    with pytest.raises(ManifestError, match="cannot read"):
        Manifest.from_file(tmp_path / "missing.json")


def _export_config(**changes) -> ExportConfig:
    values = {
        "wake_word": "Hey Computer",
        "author": "Test",
        "website": None,
        "trained_languages": ("en", "de"),
        "probability_cutoff": 0.9,
        "sliding_window_size": 5,
        "tensor_arena_size": 0,
        "minimum_esphome_version": "2024.7.0",
    }
    values.update(changes)
    return ExportConfig(**values)


def test_manifest_from_export_config() -> None:
    manifest = manifest_from_export_config(
        _export_config(), Path("/out/hey_computer.tflite"), tensor_arena_size=23000
    )
    d = manifest.to_dict()
    assert d["model"] == "hey_computer.tflite"
    assert d["trained_languages"] == ["en", "de"]
    assert "website" not in d
    assert d["micro"] == {
        "probability_cutoff": 0.9,
        "feature_step_size": 10,
        "sliding_window_size": 5,
        "tensor_arena_size": 23000,
        "minimum_esphome_version": "2024.7.0",
    }
    tuned = manifest_from_export_config(
        _export_config(website="https://example.com/"),
        "hey_computer.tflite",
        tensor_arena_size=23000,
        probability_cutoff=0.95,
        sliding_window_size=3,
    )
    assert (tuned.probability_cutoff, tuned.sliding_window_size) == (0.95, 3)
    assert tuned.website == "https://example.com/"
    with pytest.raises(ManifestError, match=r"micro\.probability_cutoff"):
        manifest_from_export_config(_export_config(probability_cutoff=1.0), "m.tflite", 1)


def test_esphome_schema_accepts_good_and_is_laxer_than_ours(good: dict) -> None:
    pytest.importorskip("esphome")
    assert esphome_schema_problems(good) == []
    lax = copy.deepcopy(good)
    lax["micro"]["tensor_arena_size"] = "22860"  # ESPHome coerces it; the firmware breaks
    assert esphome_schema_problems(lax) == []
    assert manifest_problems(lax) != []
    good["extra"] = 1
    problems = esphome_schema_problems(good)
    assert problems and "extra" in problems[0]


def test_esphome_schema_is_none_without_esphome(monkeypatch, good: dict) -> None:
    monkeypatch.setitem(sys.modules, "esphome.components.micro_wake_word", None)
    assert esphome_schema_problems(good) is None
