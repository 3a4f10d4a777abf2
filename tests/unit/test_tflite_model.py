"""Reading .tflite files without TensorFlow: the official models' structure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mww_trainer import constants
from mww_trainer.device.arena import recommended_arena_size
from mww_trainer.device.tflite_model import TFLiteFormatError, TFLiteModel

OFFICIAL = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    package = pytest.importorskip("pymicro_wakeword")
    return Path(package.__file__).parent / "models"


@pytest.fixture(scope="module")
def jarvis(models_dir: Path) -> TFLiteModel:
    return TFLiteModel.from_file(models_dir / "hey_jarvis.tflite")


def test_hey_jarvis_structure(jarvis: TFLiteModel) -> None:
    assert jarvis.size_bytes == 52272
    assert jarvis.schema_version == 3
    assert len(jarvis.subgraphs) == 2
    main, init = jarvis.subgraphs
    assert len(main.operators) == 45
    assert main.op_names[0] == "CALL_ONCE" and main.op_names[-1] == "QUANTIZE"
    assert jarvis.init_subgraphs == [1]
    assert init.op_names.count("VAR_HANDLE") == 6
    assert init.op_names.count("ASSIGN_VARIABLE") == 6


def test_hey_jarvis_io_quantisation(jarvis: TFLiteModel) -> None:
    (inp,) = jarvis.inputs
    (out,) = jarvis.outputs
    assert (inp.shape, inp.dtype) == ((1, 3, 40), "INT8")
    assert inp.quantization.scales[0] == pytest.approx(26 / 255, abs=1e-7)
    assert inp.quantization.zero_points == (-128,)
    assert (out.shape, out.dtype) == ((1, 1), "UINT8")
    assert out.quantization.scales == (1 / 256,)
    assert out.quantization.zero_points == (0,)


def test_hey_jarvis_state_and_weights(jarvis: TFLiteModel) -> None:
    variables = jarvis.resource_variables
    assert len(variables) == 6
    assert all(types == {"INT8"} for types in variables.values())
    assert "stream/states" in variables
    weights = jarvis.weight_tensors
    assert len(weights) == 10
    assert all(t.dtype == "INT8" and t.constant for _, t in weights)
    assert jarvis.float_tensors == []
    assert jarvis.variable_tensors == []


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_models_use_only_device_ops(models_dir: Path, name: str) -> None:
    model = TFLiteModel.from_file(models_dir / f"{name}.tflite")
    assert set(model.op_names) <= constants.DEVICE_OPS
    assert len(model.resource_variables) == 6
    if name == "okay_nabu":
        assert "SPLIT_V" in model.op_names


def test_unreadable_bytes_are_rejected(models_dir: Path) -> None:
    data = (models_dir / "hey_jarvis.tflite").read_bytes()
    for bad in (data[: len(data) // 2], data[:-100], b"", b"\0" * 64, b"x" * 8 + data[8:]):
        with pytest.raises(TFLiteFormatError):
            TFLiteModel.from_bytes(bad)


def test_recommended_arena_margin() -> None:
    # +12.5 %, at least 1 KiB, rounded up to 64 bytes (see mww_trainer.device.arena).
    assert recommended_arena_size(20320) == 22912
    assert recommended_arena_size(27872) == 31360
    assert recommended_arena_size(4000) == 5056
    assert all(recommended_arena_size(n) % 64 == 0 for n in range(1, 5000, 37))


def test_reading_and_verifying_never_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "import mww_trainer.device.tflite_model, mww_trainer.device.manifest\n"
        "import mww_trainer.device.verify, mww_trainer.device.arena, mww_trainer.device.runtime\n"
        "import mww_trainer.cli.verify\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runtime_agreement_tolerates_rounding_and_only_a_rare_bounded_difference():
    import numpy as np

    from mww_trainer.device.verify import runtime_agreement

    micro = np.arange(250, dtype=np.uint8)
    assert runtime_agreement(micro, micro.copy())[0]
    one_off = micro.copy()
    one_off[100] += 12
    ok, detail = runtime_agreement(micro, one_off)
    assert ok and "249 of 250" in detail
    far = micro.copy()
    far[100] += 40
    assert not runtime_agreement(micro, far)[0]
    rounding = micro.copy()
    rounding[:30] += 1
    ok, detail = runtime_agreement(micro, rounding)
    assert ok and "220 of 250" in detail and "largest difference 1/255" in detail
    many = micro.copy()
    many[:5] += 2
    ok, detail = runtime_agreement(micro, many)
    assert not ok and "more than one step on 5 of 250" in detail
