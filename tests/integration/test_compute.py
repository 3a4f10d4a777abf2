"""Several replicas and mixed precision, exercised on CPU devices (no GPU here).

TensorFlow can split the CPU into logical devices, which MirroredStrategy treats like
GPUs: one step on two replicas must give the same weights as one step on one device.
Each check runs in a fresh process because devices are fixed when TensorFlow starts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

PRELUDE = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from mww_trainer.config.types import ModelConfig
from mww_trainer.model.stream import Mode
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.training.fit import make_optimizer, make_train_step
arch = ModelConfig("mixednet", 8, 5, 3, None, (8, 8), ((5,), (9,)), (1, 1), (False, False),
                   0.0, 0.0)
rng = np.random.default_rng(0)
x = rng.uniform(0, 26, (8, arch.input_frames, 40)).astype("float32")
y = np.array([1, 0, 0, 1, 0, 0, 1, 0], "float32")
w = np.array([1, 20, 20, 1, 40, 20, 1, 20], "float32")
"""


def run(body: str) -> str:
    code = PRELUDE + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_two_replicas_take_the_same_step_as_one_device():
    out = run("""
        def one_step(strategy):
            with strategy.scope():
                tf.keras.utils.set_random_seed(1)
                net = MixedNet(arch)
                model = net.model(Mode.TRAINING)
                opt = make_optimizer(1e-2, False)
                opt.build(model.trainable_variables)
                step = make_train_step(model, opt, strategy)
            loss, acc = step(tf.constant(x), tf.constant(y), tf.constant(w))
            return float(loss), [v.numpy() for v in model.trainable_variables]

        single = one_step(tf.distribute.get_strategy())
        mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert mirrored.num_replicas_in_sync == 2
        double = one_step(mirrored)
        assert abs(single[0] - double[0]) < 1e-5, (single[0], double[0])
        diff = max(float(np.abs(a - b).max()) for a, b in zip(single[1], double[1]))
        assert diff < 1e-4, diff  # Adam normalises tiny gradients: rounding shows
        print("max weight difference", diff)
    """)
    assert "max weight difference" in out


def test_two_replicas_keep_the_same_moving_average_as_one_device():
    out = run("""
        def averaged_after_steps(strategy):
            with strategy.scope():
                tf.keras.utils.set_random_seed(1)
                model = MixedNet(arch).model(Mode.TRAINING)
                opt = make_optimizer(1e-2, False)
                opt.build(model.trainable_variables)
                avg = [tf.Variable(v.numpy(), trainable=False) for v in model.trainable_variables]
                step = make_train_step(model, opt, strategy, avg, 0.5)
            for _ in range(3):
                step(tf.constant(x), tf.constant(y), tf.constant(w))
            raw = [v.numpy() for v in model.trainable_variables]
            return [a.numpy() for a in avg], raw

        single, raw = averaged_after_steps(tf.distribute.get_strategy())
        double, _ = averaged_after_steps(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
        diff = max(float(np.abs(a - b).max()) for a, b in zip(single, double))
        lag = max(float(np.abs(a - b).max()) for a, b in zip(single, raw))
        assert diff < 1e-4 and lag > 1e-4, (diff, lag)
        print("moving averages agree", diff)
    """)
    assert "moving averages agree" in out


def test_mixed_precision_policy_keeps_a_float32_head_and_is_restored():
    # Only the wiring is checked here: float16 convolutions on this CPU return NaN
    # (TensorFlow 2.21), which is why mixed precision is switched on only with a GPU.
    out = run("""
        import keras
        from mww_trainer.training.compute import precision
        with precision(True):
            model = MixedNet(arch).model(Mode.TRAINING)
            assert model.get_layer("first_conv").compute_dtype == "float16"
            assert model.get_layer("head").compute_dtype == "float32"
            assert model.output.dtype == "float32"
            assert all(v.dtype == "float32" for v in model.trainable_variables)
        assert keras.mixed_precision.global_policy().name == "float32"
        print("policy ok")
    """)
    assert "policy ok" in out


def test_loss_scaling_optimizer_takes_the_plain_adam_steps():
    out = run("""
        def train(mixed):
            tf.keras.utils.set_random_seed(1)
            model = MixedNet(arch).model(Mode.TRAINING)
            opt = make_optimizer(1e-2, mixed)
            opt.build(model.trainable_variables)
            step = make_train_step(model, opt)
            losses = [float(step(tf.constant(x), tf.constant(y), tf.constant(w))[0])
                      for _ in range(5)]
            return losses, [v.numpy() for v in model.trainable_variables]

        plain, scaled = train(False), train(True)
        assert np.allclose(plain[0], scaled[0], atol=1e-4), (plain[0], scaled[0])
        diff = max(float(np.abs(a - b).max()) for a, b in zip(plain[1], scaled[1]))
        assert diff < 1e-3, diff
        assert plain[0][-1] < plain[0][0]
        print("scaled steps match", diff)
    """)
    assert "scaled steps match" in out
