"""Names derived from a manifest, the package file and the hand-edit snippet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mww_trainer import naming
from mww_trainer.cli.esphome import main
from mww_trainer.device.manifest import Manifest
from mww_trainer.device.sensitivity import MODERATELY, SLIGHTLY, VERY, write_sidecar
from mww_trainer.esphome import yamlio
from mww_trainer.esphome.snippet import (
    ModelNames,
    is_valid_id,
    model_id_for,
    package_text,
    snippet,
)
from tests.fakes.levels import measured_levels


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    path = tmp_path / "export" / "model.json"
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                "type": "micro",
                "wake_word": "Hé Computer!",
                "author": "Test",
                "model": "model.tflite",
                "trained_languages": ["en"],
                "version": 2,
                "micro": {
                    "probability_cutoff": 0.93,
                    "feature_step_size": 10,
                    "sliding_window_size": 4,
                    "tensor_arena_size": 22860,
                    "minimum_esphome_version": "2024.7.0",
                },
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Hey Computer", "hey_computer"),
        ("Hé, Ordinateur!", "he_ordinateur"),
        ("  okay--nabu  ", "okay_nabu"),
        ("3PO", "ww_3po"),
        ("日本語", ""),
        ("Don't Stop", "dont_stop"),  # an apostrophe is silent
        ("Hey Jürgen!", "hey_jurgen"),
        ("a" * 60, "a" * 40),
    ],
)
def test_one_slug_rule_for_projects_models_and_ids(text, slug):
    assert naming.slug(text) == slug


def test_model_ids_avoid_reserved_names():
    assert model_id_for("hey_computer") == "hey_computer"
    assert model_id_for("sensor") == "sensor_wake_word"  # an ESPHome component's name
    assert model_id_for("switch") == "switch_wake_word"  # a C++ keyword
    assert is_valid_id("hey_computer") and not is_valid_id("3po") and not is_valid_id("a-b")


def test_names_for_a_manifest(manifest_path):
    names = ModelNames.for_manifest(Manifest.from_file(manifest_path), manifest_path)
    assert names.slug == names.model_id == "he_computer"
    assert names.manifest_path == "wake_words/he_computer/he_computer.json"
    assert names.package_path == "wake_words/he_computer/he_computer.package.yaml"
    assert names.package_key == "mww_he_computer"
    assert names.tflite_file == "model.tflite"
    assert "config." not in names.package_file  # the Supervisor takes config.* for add-ons


def test_package_file_is_yaml_with_the_model(manifest_path):
    manifest = Manifest.from_file(manifest_path)
    names = ModelNames.for_manifest(manifest, manifest_path)
    tree = yamlio.to_plain(yamlio.parse_text(package_text(manifest, names), source="p"))
    assert tree == {
        "micro_wake_word": {
            "models": [{"model": "wake_words/he_computer/he_computer.json", "id": "he_computer"}]
        }
    }


def test_snippet_has_cutoff_and_window(manifest_path):
    text = snippet(manifest_path)
    tree = yamlio.to_plain(yamlio.parse_text(text, source="s"))
    assert tree["micro_wake_word"]["models"] == [
        {
            "model": "wake_words/he_computer/he_computer.json",
            "id": "he_computer",
            "probability_cutoff": 0.93,
            "sliding_window_size": 4,
        }
    ]
    assert "model.json -> wake_words/he_computer/he_computer.json" in text


def test_snippet_command(manifest_path, capsys):
    assert main(["snippet", str(manifest_path)]) == 0
    assert capsys.readouterr().out == snippet(manifest_path)


def test_with_measured_levels_the_snippet_adds_the_sensitivity_select(manifest_path):
    write_sidecar(measured_levels("model.tflite", (200, 237, 250)), manifest_path.parent)
    tree = yamlio.to_plain(yamlio.parse_text(snippet(manifest_path), source="s"))
    (select,) = tree["select"]
    assert select["id"] == "he_computer_sensitivity"
    assert select["name"] == "Wake word sensitivity (Hé Computer!)"
    assert select["options"] == [SLIGHTLY, MODERATELY, VERY]
    assert (select["initial_option"], select["restore_value"]) == (MODERATELY, True)
    (action,) = select["on_value"]
    assert action["lambda"].splitlines() == [
        'if (x == "Slightly sensitive") {',
        "  id(he_computer).set_probability_cutoff(250);",
        '} else if (x == "Moderately sensitive") {',
        "  id(he_computer).set_probability_cutoff(237);",
        '} else if (x == "Very sensitive") {',
        "  id(he_computer).set_probability_cutoff(200);",
        "}",
    ]
