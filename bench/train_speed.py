"""Speed bar: steps/s of the real training loop vs a bare tf.function step (the compute limit).

    .venv/bin/python bench/train_speed.py [--preset standard] [--steps 300]

Both use the preset's model and batch size on the same machine in the same process. The
real loop draws class-balanced batches from a WindowPool (uint16 frames -> float), applies
SpecAugment when the preset sets it, weights examples by class and runs the same step.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def make_pool(frames: int, rng: np.random.Generator):
    from mww_trainer.data.windows import HARD_NEGATIVE, NEGATIVE, POSITIVE, PoolBuilder

    builder = PoolBuilder(frames)
    builder.add_clips(list(rng.integers(0, 700, (4000, frames, 40), dtype=np.uint16)), POSITIVE)
    builder.add_clips(
        list(rng.integers(0, 700, (1000, frames, 40), dtype=np.uint16)), HARD_NEGATIVE
    )
    builder.add_sequence(rng.integers(0, 700, (360_000, 40), dtype=np.uint16), NEGATIVE, 9)
    return builder.build()


def bare_steps_per_s(net, batch: int, frames: int, steps: int) -> float:
    import keras
    import tensorflow as tf

    from mww_trainer.model.stream import Mode
    from mww_trainer.training.fit import make_train_step

    model = net.model(Mode.TRAINING)
    step = make_train_step(model, keras.optimizers.Adam(1e-3))
    x = tf.constant(np.random.default_rng(1).uniform(0, 26, (batch, frames, 40)), tf.float32)
    y = tf.constant((np.arange(batch) % 3 == 0).astype(np.float32))
    w = tf.ones(batch)
    for _ in range(10):
        step(x, y, w)
    started = time.perf_counter()
    for _ in range(steps):
        loss, _ = step(x, y, w)
    float(loss)
    return steps / (time.perf_counter() - started)


def loop_steps_per_s(config, pool, steps: int) -> float:
    from dataclasses import replace

    from mww_trainer.model.mixednet import MixedNet
    from mww_trainer.training.fit import FitOptions, Trainer, phases

    schedule = replace(config.training, eval_step_interval=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(MixedNet(config.model), pool, schedule, FitOptions(Path(tmp)))
        phase = phases(schedule)[0]
        trainer._train_span(phase, 10, schedule.total_steps)  # trace the step once
        started = time.perf_counter()
        trainer._train_span(phase, steps, schedule.total_steps)
        return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    from mww_trainer.config import load_preset
    from mww_trainer.model.mixednet import MixedNet

    config = load_preset(args.preset)
    frames, batch = config.model.input_frames, config.training.batch_size
    pool = make_pool(frames, np.random.default_rng(0))
    loop = loop_steps_per_s(config, pool, args.steps)
    bare = bare_steps_per_s(MixedNet(config.model), batch, frames, args.steps)
    print(f"preset {args.preset}: batch {batch}, {frames} frames, pool {len(pool)} windows")
    print(f"bare tf.function step: {bare:.1f} steps/s")
    print(f"real training loop:    {loop:.1f} steps/s")
    print(f"ratio: {loop / bare:.2f}")


if __name__ == "__main__":
    main()
