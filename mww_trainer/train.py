"""fit(net, data, schedule) -> FitResult: the step-based, phase-scheduled training loop.

Batches are drawn from in-memory feature arrays so that every batch holds both
classes; each example is weighted by its kind (positive, negative, hard negative)
with the current phase's class weight. Validation runs every `eval_step_interval`
steps and the best checkpoint is kept by `select_best`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mww_trainer.checkpoint import save_checkpoint
from mww_trainer.config.types import TrainingConfig
from mww_trainer.layers.stream import Mode
from mww_trainer.metrics import binary_metrics
from mww_trainer.models.mixednet import MixedNet
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress

POSITIVE, NEGATIVE, HARD_NEGATIVE = 0, 1, 2
BEST_NAME = "best_weights.weights.h5"


@dataclass(frozen=True)
class Examples:
    """Fixed-length feature windows `[n, frames, 40]` with their kind (POSITIVE, NEGATIVE, ...)."""

    x: np.ndarray
    kind: np.ndarray

    @property
    def y(self) -> np.ndarray:
        return (self.kind == POSITIVE).astype(np.float32)

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(frozen=True)
class TrainingData:
    train: Examples
    val: Examples


@dataclass
class FitResult:
    steps: int
    best_step: int
    best_metrics: dict[str, float]
    best_path: Path
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Phase:
    index: int
    steps: int
    learning_rate: float
    weights: tuple[float, float, float]  # positive, negative, hard negative


def phases(schedule: TrainingConfig) -> list[Phase]:
    return [
        Phase(i, steps, lr, (pos, neg, hard))
        for i, (steps, lr, pos, neg, hard) in enumerate(
            zip(
                schedule.training_steps,
                schedule.learning_rates,
                schedule.positive_class_weight,
                schedule.negative_class_weight,
                schedule.hard_negative_class_weight,
                strict=True,
            )
        )
    ]


class BatchSampler:
    """Random batches in which positives and negatives both appear (when both exist)."""

    def __init__(self, examples: Examples, batch_size: int, seed: int):
        self.examples = examples
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.positives = np.flatnonzero(examples.kind == POSITIVE)
        self.negatives = np.flatnonzero(examples.kind != POSITIVE)
        if len(self.positives) == 0 or len(self.negatives) == 0:
            raise ValueError("training needs both positive and negative examples")
        share = len(self.positives) / len(examples)
        self.n_pos = min(batch_size - 1, max(1, round(batch_size * share)))

    def draw(self) -> np.ndarray:
        pos = self.rng.choice(self.positives, self.n_pos)
        neg = self.rng.choice(self.negatives, self.batch_size - self.n_pos)
        return np.concatenate([pos, neg])


def make_train_step(model, optimizer):
    import tensorflow as tf

    loss_fn = tf.keras.losses.BinaryCrossentropy(reduction="none")

    @tf.function
    def step(x, y, w):
        with tf.GradientTape() as tape:
            p = model(x, training=True)
            loss = tf.reduce_sum(loss_fn(y[:, None], p) * w) / tf.reduce_sum(w)
            total = loss + tf.add_n(model.losses) if model.losses else loss
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.cast(p[:, 0] > 0.5, tf.float32), y), tf.float32))
        return loss, acc

    return step


def predict(net: MixedNet, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    model = net.model(Mode.TRAINING)
    out = [
        np.asarray(model(x[i : i + batch_size], training=False))[:, 0]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def fit(
    net: MixedNet,
    data: TrainingData,
    schedule: TrainingConfig,
    *,
    checkpoint_dir: Path,
    seed: int = 0,
    on_progress: ProgressCallback = ignore_progress,
    evaluate: Callable[[MixedNet], dict[str, float]] | None = None,
) -> FitResult:
    """Trains `net` in place through every phase; returns where the best weights are."""
    import keras

    started = time.monotonic()
    model = net.model(Mode.TRAINING)
    optimizer = keras.optimizers.Adam(learning_rate=schedule.learning_rates[0])
    train_step = make_train_step(model, optimizer)
    sampler = BatchSampler(data.train, schedule.batch_size, seed)
    checkpoint_dir = Path(checkpoint_dir)
    total = schedule.total_steps
    history: list[dict[str, float]] = []
    best: tuple[int, dict[str, float]] | None = None
    step = 0
    for phase in phases(schedule):
        optimizer.learning_rate.assign(phase.learning_rate)
        class_weight = np.asarray(phase.weights, np.float32)
        for _ in range(phase.steps):
            idx = sampler.draw()
            loss, acc = train_step(
                data.train.x[idx], data.train.y[idx], class_weight[data.train.kind[idx]]
            )
            step += 1
            if step % schedule.eval_step_interval == 0 or step == total:
                metrics = validate(net, data.val, evaluate)
                metrics.update(step=step, loss=float(loss), phase=phase.index + 1)
                history.append(metrics)
                if is_better(metrics, best[1] if best else None, schedule):
                    best = (step, metrics)
                    save_checkpoint(net, checkpoint_dir / BEST_NAME)
                on_progress(
                    ProgressEvent("validate", step, total, f"phase {phase.index + 1}", metrics)
                )
            elif step % 10 == 0:
                on_progress(
                    ProgressEvent(
                        "train",
                        step,
                        total,
                        f"phase {phase.index + 1}",
                        {"loss": float(loss), "accuracy": float(acc), "lr": phase.learning_rate},
                    )
                )
    assert best is not None  # the last step always validates
    return FitResult(
        step, best[0], best[1], checkpoint_dir / BEST_NAME, history, time.monotonic() - started
    )


def validate(net: MixedNet, val: Examples, evaluate) -> dict[str, float]:
    scores = predict(net, val.x)
    metrics = binary_metrics(val.y, scores)
    if evaluate is not None:
        metrics.update(evaluate(net))
    return metrics


def is_better(
    candidate: dict[str, float], best: dict[str, float] | None, schedule: TrainingConfig
) -> bool:
    """Among checkpoints meeting the minimisation target, the best maximisation metric wins;
    until one meets it, the lowest minimisation metric wins."""
    if best is None:
        return True
    lo, hi = schedule.minimization_metric, schedule.maximization_metric
    cand_lo = candidate.get(lo, math.inf)
    best_lo = best.get(lo, math.inf)
    cand_ok = cand_lo <= schedule.target_minimization
    best_ok = best_lo <= schedule.target_minimization
    if cand_ok != best_ok:
        return cand_ok
    if cand_ok:
        return candidate.get(hi, -math.inf) > best.get(hi, -math.inf)
    return cand_lo < best_lo
