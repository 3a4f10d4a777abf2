"""The streaming twin computes what the clip model does and exports like the official models."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mww_trainer.config.types import ModelConfig
from mww_trainer.device.tflite_model import TFLiteModel
from mww_trainer.model.stream import Mode, reset_states

pytestmark = pytest.mark.integration

OFFICIAL = Path(pytest.importorskip("pymicro_wakeword").__file__).parent / "models"


def arch(**changes) -> ModelConfig:
    base = dict(
        architecture="mixednet",
        first_conv_filters=30,
        first_conv_kernel_size=5,
        stride=3,
        spectrogram_length=None,
        pointwise_filters=(60, 60, 60, 60),
        mixconv_kernel_sizes=((5,), (9,), (13,), (21,)),
        repeat_in_block=(1, 1, 1, 1),
        residual_connection=(False,) * 4,
        dropout_rate=0.0,
        l2_regularization=0.0,
    )
    base.update(changes)
    return ModelConfig(**base)


HEY_JARVIS = arch()
SPLIT_KERNELS = arch(
    first_conv_filters=16,
    pointwise_filters=(16, 16, 16),
    mixconv_kernel_sizes=((3,), (5, 9), (7, 13)),
    repeat_in_block=(1, 1, 1),
    residual_connection=(False, True, False),
    spectrogram_length=None,
)
REPEATED = arch(
    first_conv_filters=12,
    pointwise_filters=(12, 16),
    mixconv_kernel_sizes=((5,), (7,)),
    repeat_in_block=(2, 1),
    residual_connection=(True, True),
    spectrogram_length=None,
)


def randomise_batch_norm(net, rng) -> None:
    """Fresh batch norms are identities; give them statistics so folding is exercised."""
    for var in net.model(Mode.TRAINING).non_trainable_weights:
        if "moving" in var.path:
            var.assign(rng.uniform(0.5, 1.5, var.shape).astype("float32"))


@pytest.mark.parametrize(
    "config",
    [HEY_JARVIS, SPLIT_KERNELS, REPEATED],
    ids=["hey_jarvis", "split_kernels", "repeats_residual"],
)
def test_streaming_twin_matches_clip_model(config):
    from mww_trainer.model.mixednet import MixedNet

    rng = np.random.default_rng(7)
    net = MixedNet(config)
    randomise_batch_norm(net, rng)
    clip_model, stream_model = net.model(Mode.TRAINING), net.model(Mode.STREAMING)
    frames = config.input_frames
    stream = rng.uniform(0, 26, (1, frames + 60, 40)).astype("float32")
    reset_states(stream_model)
    compared = 0
    for j in range(stream.shape[1] // 3):
        out = float(np.asarray(stream_model(stream[:, 3 * j : 3 * j + 3]))[0, 0])
        end = 3 * j + 3
        if end >= frames:
            ref = float(np.asarray(clip_model(stream[:, end - frames : end]))[0, 0])
            assert abs(out - ref) <= 1e-5, f"slice {j}: streaming {out} vs clip model {ref}"
            compared += 1
    assert compared >= 20


def test_sequence_mode_scores_every_stride():
    from mww_trainer.model.mixednet import MixedNet

    rng = np.random.default_rng(3)
    net = MixedNet(SPLIT_KERNELS)
    randomise_batch_norm(net, rng)
    frames = SPLIT_KERNELS.input_frames
    x = rng.uniform(0, 26, (1, frames + 30, 40)).astype("float32")
    seq = np.asarray(net.model(Mode.SEQUENCE)(x))[0]
    assert len(seq) == 11
    for k, value in enumerate(seq):
        ref = float(np.asarray(net.model(Mode.TRAINING)(x[:, 3 * k : 3 * k + frames]))[0, 0])
        assert abs(value - ref) <= 1e-5


def official_op_counts(name: str) -> Counter:
    return Counter(
        op.name for op in TFLiteModel.from_file(OFFICIAL / f"{name}.tflite").main.operators
    )


def test_hey_jarvis_shape_exports_like_the_official_model(tmp_path):
    from mww_trainer.device.export import convert_to_tflite, save_streaming_model
    from mww_trainer.model.mixednet import MixedNet

    rng = np.random.default_rng(0)
    net = MixedNet(HEY_JARVIS)
    randomise_batch_norm(net, rng)
    saved = save_streaming_model(net, tmp_path / "streaming")
    slices = rng.uniform(0, 26, (64, 3, 40)).astype("float32")
    slices[0, 0, :2] = (0.0, 26.0)
    model = TFLiteModel.from_bytes(convert_to_tflite(saved, slices))

    ours = Counter(op.name for op in model.main.operators)
    assert sum(ours.values()) == 45
    assert ours == official_op_counts("hey_jarvis")
    assert len(model.subgraphs) == 2
    assert len(model.resource_variables) == 6
    assert all(types == frozenset({"INT8"}) for types in model.resource_variables.values())
    (inp,), (out,) = model.inputs, model.outputs
    assert (list(inp.shape), inp.dtype) == ([1, 3, 40], "INT8")
    assert inp.quantization.scales[0] == pytest.approx(26 / 255, abs=1e-7)
    assert inp.quantization.zero_points[0] == -128
    assert (list(out.shape), out.dtype) == ([1, 1], "UINT8")
    assert out.quantization.scales[0] == pytest.approx(1 / 256)
