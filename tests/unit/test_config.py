"""The configuration system: presets, overrides, ${VAR}s, validation and its messages."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mww_trainer.config import (
    PRESET_NAMES,
    Config,
    config_to_dict,
    deep_merge,
    load_config,
    load_config_dict,
    load_preset,
    load_preset_dict,
    schema,
)
from mww_trainer.config.loader import RetiredKeyWarning
from mww_trainer.config.types import AUGMENTATION_PROBABILITIES
from mww_trainer.data.augment import TRANSFORMS
from mww_trainer.errors import ConfigError

PRESETS_DIR = Path(schema.__file__).parent / "presets"
BLOCKS_5 = """
model:
  pointwise_filters: "64,64,64,64,64"
  mixconv_kernel_sizes: "[3],[5,9],[7,13],[9,15],[17]"
  repeat_in_block: "1,1,1,1,1"
  residual_connection: "0,1,1,1,0"
"""


def write(tmp_path: Path, text: str, name: str = "my.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, override: str, *, environ: dict[str, str] | None = None) -> str:
    path = write(tmp_path, override)
    with pytest.raises(ConfigError) as info:
        load_config("standard", path, environ=environ or {})
    return str(info.value)


def with_override(tmp_path: Path, override: str, **environ: str) -> Config:
    return load_config("standard", write(tmp_path, override), environ=environ)


# --- presets -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_loads_with_the_device_facts(name: str) -> None:
    config = load_preset(name)
    assert (config.hardware.sample_rate_hz, config.hardware.mel_bins) == (16000, 40)
    assert config.hardware.clip_duration_ms == 1600
    assert config.model.spectrogram_length is None
    assert config.model.input_frames == 149
    assert config.hardware.clip_frames >= config.model.input_frames
    assert config.export.tensor_arena_size == 0
    assert config.performance.mixed_precision is True  # applies on a GPU only


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_file_spells_out_every_field(name: str) -> None:
    raw = YAML(typ="safe").load((PRESETS_DIR / f"{name}.yaml").read_text())
    assert list(raw) == list(schema.SECTION_TYPES)
    for section, cls in schema.SECTION_TYPES.items():
        assert list(raw[section]) == [field.name for field in dataclasses.fields(cls)]


def test_schema_keys_match_the_dataclasses() -> None:
    for section, cls in schema.SECTION_TYPES.items():
        names = [field.name for field in dataclasses.fields(cls)]
        assert list(schema.SCHEMA.schema[section]) == names


def test_one_list_of_transforms_and_of_presets() -> None:
    assert sorted(TRANSFORMS) == sorted(AUGMENTATION_PROBABILITIES)  # applied = configurable
    presets = Path(__file__).parents[2] / "mww_trainer" / "config" / "presets"
    assert sorted(PRESET_NAMES) == sorted(p.stem for p in presets.glob("*.yaml"))
    assert PRESET_NAMES[0] == "fast_test"  # cheapest first, as the panel lists them


def test_presets_differ_as_documented() -> None:
    fast, standard, best = (load_preset(name) for name in PRESET_NAMES)
    assert (fast.training.training_steps, fast.training.batch_size) == ((2000, 1000), 32)
    assert fast.training.total_steps == 3000
    assert (standard.training.training_steps, standard.training.batch_size) == ((20000, 10000), 128)
    assert (best.training.training_steps, best.training.batch_size) == ((50000, 20000), 128)
    probabilities = AUGMENTATION_PROBABILITIES
    assert all(getattr(fast.augmentation, name) == 0.0 for name in probabilities)
    assert standard.augmentation.AddBackgroundNoise == 0.75
    assert standard.augmentation.RIR == 0.5
    assert all(
        getattr(best.augmentation, name) >= getattr(standard.augmentation, name)
        for name in probabilities
    )
    assert best.augmentation.SevenBandParametricEQ > standard.augmentation.SevenBandParametricEQ
    # Where we depart from the guide (README): timbre augmentation and averaged weights.
    assert (standard.augmentation.PitchShift, standard.augmentation.SevenBandParametricEQ) == (
        0.5,
        0.3,
    )
    assert standard.training.ema_decay == best.training.ema_decay == 0.999
    assert fast.training.ema_decay == 0.0


def test_default_config_is_standard_and_a_preset_path_works_too() -> None:
    assert load_config(environ={}) == load_preset("standard")
    assert load_config(PRESETS_DIR / "max_quality.yaml", environ={}) == load_preset("max_quality")


def test_model_strings_are_parsed_to_tuples() -> None:
    model = load_preset("standard").model
    assert model.pointwise_filters == (60, 60, 60, 60)
    assert model.mixconv_kernel_sizes == ((5,), (9,), (13,), (21,))
    assert model.repeat_in_block == (1, 1, 1, 1)
    assert model.residual_connection == (False, False, False, False)


def test_config_is_read_only() -> None:
    config = load_preset("fast_test")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.training.batch_size = 1  # type: ignore[misc]


def test_unknown_preset_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'stnadard'; did you mean 'standard'"):
        load_config("stnadard")
    with pytest.raises(ConfigError, match="unknown preset"):
        load_preset("huge")


# --- files and overrides ----------------------------------------------------------------


def test_override_deep_merges(tmp_path: Path) -> None:
    config = with_override(
        tmp_path,
        "training:\n  batch_size: 64\n  training_steps: [1000, 500]\n"
        "export:\n  wake_word: Hey Jarvis\n",
    )
    standard = load_preset("standard")
    assert config.training.batch_size == 64
    assert config.training.training_steps == (1000, 500)
    assert config.training.learning_rates == standard.training.learning_rates
    assert config.export.wake_word == "Hey Jarvis"
    assert config.export.probability_cutoff == standard.export.probability_cutoff
    assert config.model == standard.model


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 2}
    merged = deep_merge(base, {"a": {"c": [9], "d": {"g": 3}}, "f": {"x": 1}})
    assert merged == {"a": {"b": 1, "c": [9], "d": {"e": 1, "g": 3}}, "f": {"x": 1}}
    assert base["a"]["c"] == [1, 2]


def test_empty_override_changes_nothing(tmp_path: Path) -> None:
    assert with_override(tmp_path, "# nothing\n") == load_preset("standard")


def test_full_custom_config_file(tmp_path: Path) -> None:
    data = config_to_dict(load_preset("fast_test"))
    data["training"]["batch_size"] = 16
    path = tmp_path / "full.yaml"
    with path.open("w") as stream:
        YAML(typ="safe").dump(data, stream)
    assert load_config(path, environ={}).training.batch_size == 16


def test_incomplete_config_file_lists_missing_keys_and_suggests_override(tmp_path: Path) -> None:
    path = write(tmp_path, "hardware:\n  clip_duration_ms: 1600\n", name="partial.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert f"hardware.mel_bins: missing (every key is required) [in {path}]" in message
    assert "training: missing" in message
    assert f"--config standard --override {path}" in message
    assert message.index("hardware.sample_rate_hz") < message.index("training:")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file not found"):
        load_config(missing)
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file not found"):
        load_config("standard", missing)


def test_bad_yaml_syntax_names_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "training:\n  batch_size: [1\n  x: 2\n")
    assert message.startswith(f"{tmp_path / 'my.yaml'}, line 3, column")
    assert "invalid YAML" in message


def test_duplicate_key_is_a_yaml_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "training:\n  batch_size: 1\n  batch_size: 2\n")
    assert "line 3" in message
    assert "duplicate key" in message


def test_file_must_hold_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping of sections" in error_of(tmp_path, "- a\n- b\n")


# --- ${VAR} substitution -----------------------------------------------------------------


def test_env_substitution_with_and_without_default(tmp_path: Path) -> None:
    override = (
        "paths:\n"
        "  positive_dir: ${DATA_ROOT}/positive\n"
        "  checkpoint_dir: ${CHECKPOINT_DIR:-./checkpoints}\n"
        "  export_dir: ${EXPORT_DIR:-./out}\n"
        "augmentation:\n"
        "  background_paths: ['${DATA_ROOT}/bg', ./more]\n"
    )
    config = with_override(tmp_path, override, DATA_ROOT="/data", EXPORT_DIR="/exports")
    assert config.paths.positive_dir == "/data/positive"
    assert config.paths.checkpoint_dir == "./checkpoints"
    assert config.paths.export_dir == "/exports"
    assert config.augmentation.background_paths == ("/data/bg", "./more")


def test_env_substitution_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MWW_TEST_ROOT", "/from/env")
    path = write(tmp_path, "paths:\n  rir_dir: ${MWW_TEST_ROOT}/rirs\n")
    assert load_config("standard", path).paths.rir_dir == "/from/env/rirs"


def test_unset_variable_names_key_variable_and_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, "paths:\n  positive_dir: ${DATA_ROOT}/positive\n")
    assert message.startswith("paths.positive_dir: environment variable DATA_ROOT is not set")
    assert "${DATA_ROOT:-default}" in message
    assert message.endswith(f"[in {tmp_path / 'my.yaml'}]")


def test_malformed_variable_reference(tmp_path: Path) -> None:
    message = error_of(tmp_path, "paths:\n  rir_dir: ${DATA ROOT}/rirs\n")
    assert message.startswith("paths.rir_dir: '${DATA ROOT}/rirs': write variables as ${NAME}")


# --- validation messages ---------------------------------------------------------------


def test_bad_value_names_path_value_rule_and_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, "training:\n  batch_size: -3\n")
    path = tmp_path / "my.yaml"
    assert (
        message
        == f"training.batch_size: -3 is not allowed (a positive integer up to 8,192) [in {path}]"
    )


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    message = error_of(tmp_path, "training:\n  batch_sise: 64\n")
    assert message.startswith("training.batch_sise: unknown key; did you mean 'batch_size'?")
    message = error_of(tmp_path, "trainig:\n  batch_size: 64\n")
    assert message.startswith("trainig: unknown key; did you mean 'training'?")
    message = error_of(tmp_path, "export:\n  zzz: 1\n")
    assert "export.zzz: unknown key; allowed keys: wake_word, author" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("training:\n  batch_size: 1.5\n", "training.batch_size: 1.5 is not allowed (a positive"),
        ("training:\n  batch_size: 2.0\n", "training.batch_size: 2.0 is not allowed (a positive"),
        ("training:\n  batch_size: true\n", "training.batch_size: true is not allowed"),
        ("training:\n  batch_size: '64'\n", "training.batch_size: '64' is not allowed"),
        ("performance:\n  mixed_precision: yes\n", "performance.mixed_precision: 'yes' is not"),
        ("performance:\n  enable_profiling: 1\n", "performance.enable_profiling: 1 is not allowed"),
        ("training:\n  learning_rates: [0.001, -1]\n", "training.learning_rates[1]: -1 is not"),
        (
            "training:\n  training_steps: 100\n",
            "training.training_steps: 100 is not allowed (a list",
        ),
        ("training: 5\n", "training: 5 is not allowed (a mapping of keys)"),
        (
            "augmentation:\n  RIR: 1.5\n",
            "augmentation.RIR: 1.5 is not allowed (a number from 0 to 1)",
        ),
        ("augmentation:\n  Gain: .nan\n", "augmentation.Gain: nan is not allowed"),
    ],
)
def test_type_errors_name_the_key_path(tmp_path: Path, override: str, expected: str) -> None:
    assert error_of(tmp_path, override).startswith(expected)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        "training:\n  batch_size: 0\n  batch_sise: 4\nperformance:\n  mixed_precision: 'no'\n",
    )
    assert message.startswith("3 configuration problems:")
    assert "training.batch_size: 0 is not allowed" in message
    assert "training.batch_sise: unknown key" in message
    assert "performance.mixed_precision: 'no' is not allowed" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("sample_rate_hz", 22050), ("mel_bins", 32), ("window_size_ms", 25), ("window_step_ms", 20)],
)
def test_hardware_frontend_cannot_change(tmp_path: Path, key: str, value: int) -> None:
    message = error_of(tmp_path, f"hardware:\n  {key}: {value}\n")
    assert message.startswith(f"hardware.{key}: {value} is not allowed (only ")
    assert "frontend is fixed" in message
    assert "silently fails on the device" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model:\n  stride: 2\n", "(only 3: ESPHome feeds the model 3 feature frames"),
        ("model:\n  architecture: cnn\n", "only 'mixednet' is implemented; dnn, cnn and crnn"),
        ("model:\n  architecture: resnet\n", "(only 'mixednet' is implemented)"),
    ],
)
def test_device_fixed_values_say_why(tmp_path: Path, override: str, expected: str) -> None:
    assert expected in error_of(tmp_path, override)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("export:\n  probability_cutoff: 1.0\n", "strictly between 0 and 1"),
        ("export:\n  probability_cutoff: 0\n", "strictly between 0 and 1"),
        ("export:\n  sliding_window_size: 0\n", "1 or more"),
        ("export:\n  tensor_arena_size: -1\n", "0 (measure it) or more"),
        ("export:\n  website: ftp://example.com\n", "http(s) URL"),
        ("export:\n  website: not a url\n", "http(s) URL"),
        ("export:\n  trained_languages: []\n", "a non-empty list of language codes"),
        ("export:\n  trained_languages: [en, 3]\n", "export.trained_languages[1]: 3 is not"),
        ("export:\n  minimum_esphome_version: 2024.7\n", "such as '2024.7.0'"),
        ("export:\n  wake_word: '  '\n", "a non-empty string"),
        ("speaker_clustering:\n  method: kmeans\n", "one of 'agglomerative', 'threshold'"),
        ("speaker_clustering:\n  n_clusters: 0\n", "null (use similarity_threshold) or a positive"),
        (
            "training:\n  minimization_metric: recall\n",
            "'ambient_false_positives_per_hour', 'false",
        ),
        ("training:\n  maximization_metric: fah\n", "'average_viable_recall', 'recall'"),
        ("training:\n  freq_mask_max_size: [41, 0]\n", "an integer from 0 to 40"),
        ("hard_negative_mining:\n  fp_threshold: 1\n", "strictly between 0 and 1"),
        (
            "augmentation:\n  background_min_snr_db: 20\n",
            "is more than augmentation.background_max",
        ),
        ("augmentation:\n  min_jitter_s: 0.3\n", "the minimum must not exceed the maximum"),
        ("training:\n  eval_step_interval: 40000\n", "at most the 30000 training steps"),
        ("training:\n  time_mask_max_size: [149, 0]\n", "fewer than the model's 149 input frames"),
    ],
)
def test_range_checks(tmp_path: Path, override: str, expected: str) -> None:
    assert expected in error_of(tmp_path, override)


def test_valid_edge_values_pass(tmp_path: Path) -> None:
    config = with_override(
        tmp_path,
        "export:\n  website: https://example.com/me\n  probability_cutoff: 0.5\n"
        "speaker_clustering:\n  n_clusters: 12\n  method: threshold\n"
        "augmentation:\n  background_min_snr_db: 3\n  background_max_snr_db: 3\n",
    )
    assert config.export.website == "https://example.com/me"
    assert config.speaker_clustering.n_clusters == 12
    assert config.augmentation.background_min_snr_db == 3.0
    assert isinstance(config.augmentation.background_min_snr_db, float)


# --- model shape and clip length ---------------------------------------------------------


def test_clip_too_short_states_the_minimum(tmp_path: Path) -> None:
    message = error_of(tmp_path, "hardware:\n  clip_duration_ms: 1000\n")
    assert message == (
        "hardware.clip_duration_ms: 1000 gives 98 feature frames, but the model (first conv "
        "kernel 5 stride 3, mixconv kernels 5/9/13/21, 5-step head) needs 149 frames: "
        f"set clip_duration_ms to at least 1510 [in {tmp_path / 'my.yaml'}]"
    )
    assert (
        with_override(tmp_path, "hardware:\n  clip_duration_ms: 1510\n").hardware.clip_frames == 149
    )
    assert "at least 1510" in error_of(tmp_path, "hardware:\n  clip_duration_ms: 1509\n")


def test_explicit_spectrogram_length(tmp_path: Path) -> None:
    config = with_override(tmp_path, "model:\n  spectrogram_length: 152\n")
    assert config.model.input_frames == 152
    assert config.model.head_steps == 6
    assert "nearest valid values: 149 or 152" in error_of(
        tmp_path, "model:\n  spectrogram_length: 150\n"
    )
    message = error_of(tmp_path, "model:\n  spectrogram_length: 49\n")
    assert message.startswith("model.spectrogram_length: 49 is not allowed (the model needs at")
    assert "at least 137 frames" in message
    message = error_of(tmp_path, "model:\n  spectrogram_length: 200\n")
    assert "spectrogram_length 200, 22-step head) needs 200 frames" in message
    assert "at least 2020" in message


def test_okay_nabu_mixconv_kernels(tmp_path: Path) -> None:
    config = with_override(tmp_path, BLOCKS_5 + "hardware:\n  clip_duration_ms: 3000\n")
    model = config.model
    assert model.mixconv_kernel_sizes == ((3,), (5, 9), (7, 13), (9, 15), (17,))
    assert model.pointwise_filters == (64,) * 5
    assert model.residual_connection == (False, True, True, True, False)
    assert model.min_input_frames == 5 + 3 * (2 + 8 + 12 + 14 + 16)
    message = error_of(tmp_path, BLOCKS_5)
    assert "mixconv kernels 3/5+9/7+13/9+15/17" in message


def test_model_lists_accept_yaml_lists(tmp_path: Path) -> None:
    config = with_override(
        tmp_path,
        "model:\n  pointwise_filters: [48, 48, 48, 48]\n"
        "  mixconv_kernel_sizes: [[5], [7, 9], [13], [21]]\n"
        "  repeat_in_block: [1, 2, 1, 1]\n  residual_connection: [false, true, 0, 1]\n"
        "hardware:\n  clip_duration_ms: 2000\n",
    )
    model = config.model
    assert model.pointwise_filters == (48, 48, 48, 48)
    assert model.mixconv_kernel_sizes == ((5,), (7, 9), (13,), (21,))
    assert model.repeat_in_block == (1, 2, 1, 1)
    assert model.residual_connection == (False, True, False, True)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mixconv_kernel_sizes", "'5,9,13,21'"),
        ("mixconv_kernel_sizes", "'[5],[x]'"),
        ("mixconv_kernel_sizes", "'[5],[]'"),
        ("mixconv_kernel_sizes", "'[5],[0]'"),
        ("mixconv_kernel_sizes", "[5, 9]"),
        ("pointwise_filters", "'60,60,,60'"),
        ("pointwise_filters", "'60,0,60,60'"),
        ("repeat_in_block", "'1,1.5,1,1'"),
        ("residual_connection", "'0,2,0,0'"),
    ],
)
def test_bad_model_lists_are_rejected(tmp_path: Path, key: str, value: str) -> None:
    message = error_of(tmp_path, f"model:\n  {key}: {value}\n")
    assert message.startswith(f"model.{key}: ")
    assert "is not allowed" in message


def test_per_block_lists_must_have_equal_lengths(tmp_path: Path) -> None:
    message = error_of(tmp_path, "model:\n  mixconv_kernel_sizes: '[5],[9],[13]'\n")
    assert message.startswith(
        "model.mixconv_kernel_sizes: 3 blocks, but model.pointwise_filters has 4"
    )


def test_per_phase_lists_must_match_training_steps(tmp_path: Path) -> None:
    message = error_of(tmp_path, "training:\n  training_steps: [1000, 1000, 1000]\n")
    assert "8 configuration problems" in message
    assert "training.learning_rates: 2 values, but training.training_steps has 3 phases" in message
    assert "training.freq_mask_count: 2 values" in message


# --- dicts in and out --------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_config_to_dict_round_trips(name: str, tmp_path: Path) -> None:
    config = load_preset(name)
    data = config_to_dict(config)
    assert data["training"]["training_steps"] == list(config.training.training_steps)
    assert data["model"]["mixconv_kernel_sizes"] == [[5], [9], [13], [21]]
    assert load_config_dict(data) == config
    path = tmp_path / "spec.yaml"
    with path.open("w") as stream:
        YAML(typ="safe").dump(data, stream)
    assert load_config(path, environ={}) == config


def test_load_config_dict_names_its_source() -> None:
    data = load_preset_dict("standard")
    data["training"]["batch_size"] = 0
    with pytest.raises(ConfigError, match=r"batch_size: 0 is not allowed .* \[in options\]$"):
        load_config_dict(data, source="options")
    with pytest.raises(ConfigError, match=r"a positive integer up to 8,192\)$"):
        load_config_dict(data)


def test_load_config_dict_does_not_substitute() -> None:
    data = deep_merge(load_preset_dict("standard"), {"paths": {"rir_dir": "${X}"}})
    assert load_config_dict(data).paths.rir_dir == "${X}"


def test_importing_config_does_not_import_tensorflow() -> None:
    code = "import sys, mww_trainer.config; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("training", "batch_size", 10**12, "up to 8,192"),
        ("training", "training_steps", [10**12, 10], "up to 10,000,000"),
        ("performance", "num_workers", 100_000, r"from 0 \(automatic\) to 256"),
        ("training", "learning_rates", [1e9, 0.1], "up to 10"),
        ("model", "pointwise_filters", "60,60,100000,60", "up to 1024"),
        ("hard_negative_mining", "max_samples", 10**15, "up to 10,000,000"),
    ],
)
def test_absurd_sizes_are_refused_before_anything_runs(section, key, value, allowed) -> None:
    data = load_preset_dict("standard")
    data[section][key] = value
    with pytest.raises(ConfigError, match=f"{section}.{key}.*{allowed}"):
        load_config_dict(data)


def test_retired_keys_of_old_files_are_ignored_with_a_warning_that_says_why(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(
        "performance:\n  gpu_only: true\n  prefetch_factor: 8\nexport:\n  quantize: true\n"
    )
    with pytest.warns(RetiredKeyWarning) as caught:
        config = load_config("standard", old)
    said = [str(w.message) for w in caught]
    assert any(m.startswith("performance.gpu_only is no longer used (") for m in said)
    assert any("export.quantize is no longer used (ESPHome runs only int8" in m for m in said)
    assert config == load_preset("standard")


def test_standard_starts_from_hey_jarvis_and_null_turns_it_off(tmp_path: Path) -> None:
    assert {name: load_preset(name).model.start_from for name in PRESET_NAMES} == {
        "fast_test": None,
        "standard": "hey_jarvis",
        "max_quality": None,
    }
    assert with_override(tmp_path, "model:\n  start_from: null\n").model.start_from is None
    assert "model.start_from" in error_of(tmp_path, "model:\n  start_from: ''\n")
