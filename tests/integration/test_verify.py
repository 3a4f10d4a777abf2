"""verify / mww-verify on the official models and on tiny bad models built with TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mww_trainer.cli.verify import main
from mww_trainer.device.manifest import Manifest
from mww_trainer.device.runtime import run_stream_litert, run_stream_tflm, verification_stream
from mww_trainer.device.verify import VerifyReport, verify_model

pytestmark = pytest.mark.integration

OFFICIAL = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    package = pytest.importorskip("pymicro_wakeword")
    return Path(package.__file__).parent / "models"


def _representative():
    rng = np.random.default_rng(0)
    for _ in range(8):
        x = rng.uniform(0.0, 26.0, (1, 3, 40)).astype(np.float32)
        x[0, 0, 0], x[0, 0, 1] = 0.0, 26.0  # pin the input range: scale 26/255
        yield [x]


def _tf_modules(tf):
    class Dense(tf.Module):
        """Stateless: [1, 3, 40] -> sigmoid(dense) [1, 1]. One subgraph."""

        def __init__(self, dynamic_batch: bool = False) -> None:
            self.w = tf.Variable(tf.random.stateless_normal((120, 1), seed=(1, 2)) * 0.1)
            self.dynamic_batch = dynamic_batch

        def __call__(self, x):
            rows = tf.shape(x)[0] if self.dynamic_batch else 1  # tf.shape -> SHAPE op
            return tf.sigmoid(tf.matmul(tf.reshape(x, (rows, 120)), self.w))

    class Stateful(tf.Module):
        """A 9-frame ring buffer in a resource variable, then a dense head: 2 subgraphs."""

        def __init__(self) -> None:
            self.state = tf.Variable(tf.zeros((1, 6, 40)), trainable=False)
            self.w = tf.Variable(tf.random.stateless_normal((360, 1), seed=(3, 4)) * 0.05)

        def __call__(self, x):
            window = tf.concat([self.state, x], axis=1)
            self.state.assign(window[:, 3:, :])
            return tf.sigmoid(tf.matmul(tf.reshape(window, (1, 360)), self.w))

    return Dense, Stateful


def _convert(tf, module, *, batch=1, int8=True, output=None, float16=False, var_quant=True):
    spec = tf.TensorSpec((batch, 3, 40), tf.float32)
    fn = tf.function(module.__call__, input_signature=[spec]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], module)
    converter.experimental_enable_resource_variables = True
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = output or tf.uint8
        converter._experimental_variable_quantization = var_quant
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def _build_bad_models(out: Path) -> dict[str, Path]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    dense, stateful = _tf_modules(tf)
    builds = {
        "float": lambda: _convert(tf, dense(), int8=False),
        "float16": lambda: _convert(tf, dense(), int8=False, float16=True),
        "int8_output": lambda: _convert(tf, stateful(), output=tf.int8),
        "one_subgraph": lambda: _convert(tf, dense()),
        "shape": lambda: _convert(tf, dense(dynamic_batch=True), batch=None),
        "float_state": lambda: _convert(tf, stateful(), var_quant=False),
        "stateful_ok": lambda: _convert(tf, stateful()),
    }
    paths = {}
    for name, build in builds.items():
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(build())
    return paths


@pytest.fixture(scope="session")
def bad_models(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")
    return _build_bad_models(tmp_path_factory.mktemp("bad_models"))


def _check(report: VerifyReport, name: str):
    (check,) = [c for c in report.checks if c.name == name]
    return check


def _failed(report: VerifyReport) -> set[str]:
    return {c.name for c in report.checks if not c.ok}


# The host minimum (exact, 64-bit TFLite-Micro) and the manifest's value.
ARENA = {
    "hey_jarvis": (20320, 22860),
    "alexa": (20720, 22348),
    "hey_mycroft": (21728, 23628),
    "okay_nabu": (27872, 37000),
}


@pytest.mark.parametrize("suffix", [".json", ".tflite"])
@pytest.mark.parametrize("name", OFFICIAL)
def test_official_models_pass(models_dir: Path, name: str, suffix: str) -> None:
    report = verify_model(models_dir / f"{name}{suffix}")
    assert report.compatible, [c for c in report.checks if not c.ok]
    assert report.model_path == models_dir / f"{name}.tflite"
    assert _check(report, "Subgraphs").detail == "2 (correct)"
    assert len(report.checks) == 12
    measured, manifest_arena = ARENA[name]
    # within one 16-byte probe step of the exact minimum found by byte-wise bisection
    assert measured <= report.measured_arena_bytes < measured + 16
    arena = _check(report, "Arena").detail
    if suffix == ".json":
        assert not _check(report, "Manifest").skipped
        assert f"manifest {manifest_arena:,} B >= measured" in arena
    else:
        assert _check(report, "Manifest").skipped and _check(report, "Manifest").ok
        assert "recommended tensor_arena_size" in arena


def test_tflm_and_litert_agree_on_a_stream(models_dir: Path) -> None:
    data = (models_dir / "hey_mycroft.tflite").read_bytes()
    slices = verification_stream(n_random=60, n_silence=20)
    micro = run_stream_tflm(data, slices)
    assert micro.dtype == np.uint8 and micro.shape == (80,)
    np.testing.assert_array_equal(micro, run_stream_litert(data, slices))


def test_a_tiny_stateful_int8_model_passes(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["stateful_ok"])
    assert report.compatible, [c for c in report.checks if not c.ok]
    assert _check(report, "Variables").detail.startswith("1 resource variable ")


def test_float_model_fails(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["float"])
    assert not report.compatible and report.readable
    assert "float32, expected int8" in _check(report, "Input").detail
    assert "float32, expected uint8" in _check(report, "Output").detail
    assert "weights not int8" in _check(report, "Quantisation").detail
    assert _check(report, "Runtime").skipped


def test_float16_weights_model_fails_on_dequantize(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["float16"])
    assert _check(report, "Ops").detail == "DEQUANTIZE is not registered on the device"
    assert "float16" in _check(report, "Quantisation").detail


def test_float_state_model_fails_on_dequantize(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["float_state"])
    assert _failed(report) == {"Quantisation", "Ops", "Variables", "Runtime", "Arena"}
    assert "DEQUANTIZE is not registered" in _check(report, "Ops").detail
    assert "state not int8" in _check(report, "Variables").detail


def test_int8_output_model_fails(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["int8_output"])
    assert _failed(report) == {"Output", "Runtime"}
    assert "int8, expected uint8" in _check(report, "Output").detail
    assert "zero point -128, expected 0" in _check(report, "Output").detail


def test_shape_model_fails(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["shape"])
    assert _check(report, "Ops").detail == "SHAPE is not registered on the device"
    assert _failed(report) == {"Ops", "Subgraphs", "Runtime", "Arena"}


def test_one_subgraph_model_fails(bad_models: dict[str, Path]) -> None:
    report = verify_model(bad_models["one_subgraph"])
    assert _failed(report) == {"Subgraphs"}
    assert _check(report, "Subgraphs").detail.startswith("1, expected 2")
    assert _check(report, "Runtime").ok  # it runs; the device cannot stream it


def _copy_with_manifest(models_dir: Path, tmp_path: Path, **micro) -> Path:
    shutil.copy(models_dir / "hey_jarvis.tflite", tmp_path / "hey_jarvis.tflite")
    d = json.loads((models_dir / "hey_jarvis.json").read_text())
    d["micro"].update(micro)
    path = tmp_path / "hey_jarvis.json"
    path.write_text(json.dumps(d))
    return path


def test_manifest_with_string_arena_size_fails(models_dir: Path, tmp_path: Path) -> None:
    report = verify_model(_copy_with_manifest(models_dir, tmp_path, tensor_arena_size="22860"))
    assert _failed(report) == {"Manifest", "Arena"}
    assert (
        'micro.tensor_arena_size: "22860" must be an integer' in _check(report, "Manifest").detail
    )
    if not _check(report, "ESPHome schema").skipped:
        assert _check(report, "ESPHome schema").ok  # ESPHome itself would accept it


def test_manifest_arena_below_measured_fails(models_dir: Path, tmp_path: Path) -> None:
    report = verify_model(_copy_with_manifest(models_dir, tmp_path, tensor_arena_size=20000))
    assert _failed(report) == {"Arena"}
    assert "will not load" in _check(report, "Arena").detail


def test_manifest_object_is_checked_against_the_file(models_dir: Path) -> None:
    manifest = Manifest.from_file(models_dir / "alexa.json")
    assert verify_model(models_dir / "alexa.tflite", manifest=manifest).compatible
    report = verify_model(models_dir / "hey_jarvis.tflite", manifest=manifest)
    assert _failed(report) == {"Manifest"}


def test_cli_passes_an_official_manifest(models_dir: Path, capsys) -> None:
    assert main([str(models_dir / "hey_jarvis.json"), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "✓ Subgraphs: 2 (correct)" in out
    assert "✓ Ops: " in out
    assert "Subgraph 1 'NoOp': 12 ops" in out  # --verbose: ops and tensors
    assert out.rstrip().splitlines()[-1].startswith("ESPHome compatible: YES")


def test_cli_fails_a_bad_model(bad_models: dict[str, Path], capsys) -> None:
    assert main([str(bad_models["shape"])]) == 1
    out = capsys.readouterr().out
    assert "✗ Ops: SHAPE is not registered on the device" in out
    assert "ESPHome compatible: NO" in out


def test_cli_json_is_one_object(bad_models: dict[str, Path], capsys) -> None:
    assert main([str(bad_models["float16"]), "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["compatible"] is False
    checks = {c["name"]: c for c in d["checks"]}
    assert checks["Ops"]["ok"] is False and "DEQUANTIZE" in checks["Ops"]["detail"]


def test_cli_unreadable_inputs_exit_2(models_dir: Path, tmp_path: Path, capsys) -> None:
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((models_dir / "alexa.tflite").read_bytes()[:20000])
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "micro",')
    for path in (truncated, broken, tmp_path / "missing.tflite"):
        assert main([str(path)]) == 2
        captured = capsys.readouterr()
        assert "mww-verify: error:" in captured.err
        assert "ESPHome compatible: NO" in captured.out


def test_cli_as_a_program(models_dir: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((models_dir / "hey_jarvis.tflite").read_bytes()[:-64])
    run = [sys.executable, "-m", "mww_trainer.cli.verify"]
    bad = subprocess.run([*run, str(truncated), "--json"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["readable"] is False
    assert "truncated" in bad.stderr
    good = subprocess.run([*run, str(models_dir / "alexa.json")], capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ESPHome compatible: YES" in good.stdout
