"""fit(net, pool, schedule, ...) -> FitResult: the step-based, phase-scheduled training loop.

Batches are gathered from a WindowPool so every batch holds positives and negatives;
each example is weighted by its kind with the current phase's class weight. Every
`eval_step_interval` steps the model is validated (through the caller's `validate`,
which scores as the device detects), checkpoints are written, and the best one is
kept by `is_better`. With `early_stop_steps`, training ends once that many steps pass
without a better checkpoint. All state needed to continue lives in `checkpoint_dir`, so a
run that is killed continues from its last evaluation when started again.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mww_trainer import constants
from mww_trainer.config.types import TrainingConfig
from mww_trainer.data.batches import BatchSampler, batches
from mww_trainer.data.windows import HARD_NEGATIVE, WindowPool
from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.model.stream import Mode
from mww_trainer.progress import ProgressCallback, ProgressEvent, Stage, ignore_progress
from mww_trainer.training.checkpoint import save_checkpoint

BEST_NAME = "best_weights.weights.h5"
FAH_METRIC = "ambient_false_positives_per_hour"
STATE_NAME = "train_state.json"
RESUME_DIR = "resume"  # TF checkpoints, each with its TrainState as train_state_<step>.json
RESUME_KEEP = 2  # resume points kept: the last, and the one before in case the last is damaged

Validate = Callable[[MixedNet], dict[str, float]]
# (net, pool, mined so far) -> window indices to mark hard negative
Mine = Callable[[MixedNet, WindowPool, int], np.ndarray]


@dataclass(frozen=True)
class Phase:
    index: int
    first_step: int  # global step at which the phase starts (0-based)
    steps: int
    learning_rate: float
    weights: tuple[float, float, float]  # by kind: positive, negative, hard negative
    masks: tuple[int, int, int, int]  # time size, time count, freq size, freq count


def phases(schedule: TrainingConfig) -> list[Phase]:
    out, first = [], 0
    s = schedule
    for i, steps in enumerate(s.training_steps):
        out.append(
            Phase(
                i,
                first,
                steps,
                s.learning_rates[i],
                (
                    s.positive_class_weight[i],
                    s.negative_class_weight[i],
                    s.hard_negative_class_weight[i],
                ),
                (
                    s.time_mask_max_size[i],
                    s.time_mask_count[i],
                    s.freq_mask_max_size[i],
                    s.freq_mask_count[i],
                ),
            )
        )
        first += steps
    return out


@dataclass
class TrainState:
    """What a resumed run needs besides weights and optimizer slots (those are in resume/)."""

    step: int = 0
    best_step: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    hard_negatives: list[int] = field(default_factory=list)  # mined window indices

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.__dict__, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> TrainState:
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class FitResult:
    steps: int
    best_step: int
    best_metrics: dict[str, float]
    best_path: Path
    history: list[dict[str, float]]
    seconds: float
    resumed_from: int


@dataclass(frozen=True)
class FitOptions:
    checkpoint_dir: Path
    seed: int = 0
    mining_interval_steps: int = 0  # 0: no mining
    on_progress: ProgressCallback = ignore_progress
    mixed_precision: bool = False  # the caller sets the matching Keras policy
    profile_every_steps: int = 0  # 0: no cProfile dumps
    profile_dir: Path = Path("profiles")


def make_train_step(model, optimizer, strategy=None, averaged=None, decay: float = 0.0):
    """A compiled step; with several replicas each takes a contiguous share of the batch.

    The loss is normalised by the whole batch's weight, so summing the replicas' gradients
    (what MirroredStrategy does) gives exactly the single-device gradient. With ``averaged``
    (one variable per trainable weight) the step also moves that exponential moving average
    of the weights towards the new weights.
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    loss_fn = tf.keras.losses.BinaryCrossentropy(reduction="none")
    scaled = hasattr(optimizer, "scale_loss")  # a LossScaleOptimizer (mixed precision)

    def replica_step(x, y, w, w_total):
        if x.dtype == tf.uint16:
            x = tf.cast(x, tf.float32) / constants.FEATURE_SCALE
        with tf.GradientTape() as tape:
            p = tf.cast(model(x, training=True), tf.float32)
            loss = tf.reduce_sum(loss_fn(y[:, None], p) * w) / w_total
            total = loss + tf.add_n(model.losses) / replicas if model.losses else loss
            target = optimizer.scale_loss(total) if scaled else total
        grads = tape.gradient(target, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        hits = tf.equal(tf.cast(p[:, 0] > 0.5, tf.float32), y)
        return loss, tf.reduce_sum(tf.cast(hits, tf.float32))

    def shares(t):
        parts = tf.split(t, replicas)
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: parts[ctx.replica_id_in_sync_group]
        )

    @tf.function
    def step(x, y, w):
        w_total = tf.reduce_sum(w)
        if replicas == 1:
            loss, hits = replica_step(x, y, w, w_total)
        else:
            loss, hits = strategy.run(replica_step, args=(shares(x), shares(y), shares(w), w_total))
            loss = strategy.reduce("SUM", loss, axis=None)
            hits = strategy.reduce("SUM", hits, axis=None)
        if averaged is not None:
            # A short memory at first, as in tf.train.ExponentialMovingAverage's num_updates:
            # the average must not stay anchored to the random initial weights.
            n = tf.cast(optimizer.iterations, tf.float32)
            d = tf.minimum(decay, (1.0 + n) / (10.0 + n))
            for avg, var in zip(averaged, model.trainable_variables, strict=True):
                avg.assign(d * avg + (1.0 - d) * tf.cast(var, avg.dtype))
        return loss, hits / tf.cast(tf.shape(y)[0], tf.float32)

    return step


def make_optimizer(learning_rate: float, mixed_precision: bool):
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_precision else optimizer


class Trainer:
    """One training run; `fit` is the only entry point most callers need."""

    def __init__(
        self, net: MixedNet, pool: WindowPool, schedule: TrainingConfig, options: FitOptions
    ):
        import tensorflow as tf

        self.net, self.pool, self.schedule, self.options = net, pool, schedule, options
        strategy = tf.distribute.get_strategy()  # the caller's scope decides the devices
        if schedule.batch_size % strategy.num_replicas_in_sync:
            raise MwwError(
                f"training.batch_size: {schedule.batch_size} cannot be shared evenly by "
                f"{strategy.num_replicas_in_sync} GPUs; use a multiple of that number"
            )
        self.model = net.model(Mode.TRAINING)
        self.optimizer = make_optimizer(schedule.learning_rates[0], options.mixed_precision)
        self.optimizer.build(self.model.trainable_variables)
        self.averaged = None
        if schedule.ema_decay > 0:
            self.averaged = [
                tf.Variable(v.numpy(), trainable=False, name=f"ema_{i}")
                for i, v in enumerate(self.model.trainable_variables)
            ]
        self.train_step = make_train_step(
            self.model, self.optimizer, strategy, self.averaged, schedule.ema_decay
        )
        self.dir = Path(options.checkpoint_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        saved = {"model": self.model, "optimizer": self.optimizer}
        if self.averaged is not None:
            saved["averaged"] = self.averaged
        self.resume = tf.train.CheckpointManager(
            tf.train.Checkpoint(**saved),
            str(self.dir / RESUME_DIR),
            max_to_keep=RESUME_KEEP,
        )
        self.state = TrainState()

    def restore(self) -> int:
        """Continues an interrupted run: weights, optimizer slots, history, mined negatives.

        The newest resume point that reads back wins: a damaged last one (a crash or a full
        disk mid-write) falls back to the one before, and says so.
        """
        import tensorflow as tf

        if not (self.dir / STATE_NAME).is_file() or self.resume.latest_checkpoint is None:
            return 0
        damaged: list[str] = []
        for prefix in reversed(self.resume.checkpoints):
            state_path = self._state_path(prefix)
            if state_path is None:
                continue
            try:
                self.resume.checkpoint.restore(prefix).expect_partial()
                state = TrainState.load(state_path)
            except (tf.errors.OpError, ValueError, TypeError, OSError) as exc:
                damaged.append(f"{Path(prefix).name} ({type(exc).__name__})")
                continue
            if damaged:
                text = f"resume point {', '.join(damaged)} is damaged; continuing from step "
                self.options.on_progress(
                    ProgressEvent(
                        Stage.RESTART, state.step, self.schedule.total_steps, text + str(state.step)
                    )
                )
            self.state = state
            if state.hard_negatives:
                mined = np.asarray(state.hard_negatives, dtype=np.int64)
                self.pool = self.pool.with_kind(mined, HARD_NEGATIVE)
            return state.step
        raise MwwError(
            f"every resume point in {self.dir / RESUME_DIR} is damaged ({', '.join(damaged)}); "
            f"delete {self.dir} to train from the start"
        )

    def _state_path(self, prefix: str) -> Path | None:
        """The TrainState saved with a resume point (runs from before kept only the last)."""
        own = self._step_state(int(prefix.rsplit("-", 1)[1]))
        if own.is_file():
            return own
        return self.dir / STATE_NAME if prefix == self.resume.latest_checkpoint else None

    def _step_state(self, step: int) -> Path:
        return self.dir / RESUME_DIR / f"train_state_{step}.json"

    def run(self, validate: Validate, mine: Mine | None) -> FitResult:
        started = time.monotonic()
        resumed_from = self.restore()
        total = self.schedule.total_steps
        for phase in phases(self.schedule):
            end = phase.first_step + phase.steps
            while self.state.step < end and not self._stale():
                self.optimizer.learning_rate.assign(phase.learning_rate)
                run_to = min(end, self._next_stop(self.state.step))
                self._train_span(phase, run_to - self.state.step, total)
                self._evaluate(phase, validate, total)
                if mine is not None and self._mining_due():
                    self._mine(mine)
                self._save_state()
        if self.state.step < total:  # stopped early (a run that ends on its last step did not)
            self.options.on_progress(
                ProgressEvent(
                    Stage.STOPPED,
                    self.state.step,  # the run's steps are all done: the bar ends here
                    self.state.step,
                    f"stopped early at step {self.state.step}: no better checkpoint since step "
                    f"{self.state.best_step} (training.early_stop_steps: "
                    f"{self.schedule.early_stop_steps})",
                )
            )
        best = self.dir / BEST_NAME
        return FitResult(
            self.state.step,
            self.state.best_step,
            self.state.best_metrics,
            best,
            self.state.history,
            time.monotonic() - started,
            resumed_from,
        )

    def _stale(self) -> bool:
        """Read from the saved state, so a resumed run that had stopped stays stopped."""
        return stale(self.state.step, self.state.best_step, self.schedule.early_stop_steps)

    def _next_stop(self, step: int) -> int:
        interval = self.schedule.eval_step_interval
        return (step // interval + 1) * interval

    def _train_span(self, phase: Phase, count: int, total: int) -> None:
        profile_every = self.options.profile_every_steps
        if (
            profile_every
            and self.state.step // profile_every != (self.state.step + count) // profile_every
        ):
            import cProfile

            profiler = cProfile.Profile()
            profiler.runcall(self._run_steps, phase, count, total)
            out = self.options.profile_dir / f"training_step_{self.state.step}.prof"
            out.parent.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(out)
        else:
            self._run_steps(phase, count, total)

    def _run_steps(self, phase: Phase, count: int, total: int) -> None:
        sampler = BatchSampler(
            self.pool, self.schedule.batch_size, self.options.seed + self.state.step
        )
        seed = self.options.seed + self.state.step
        for x, y, w in batches(self.pool, sampler, phase, count, seed):
            loss, acc = self.train_step(x, y, w)
            self.state.step += 1
            if self.state.step % 25 == 0:
                self.options.on_progress(
                    ProgressEvent(
                        Stage.TRAIN,
                        self.state.step,
                        total,
                        f"phase {phase.index + 1}",
                        {"loss": float(loss), "accuracy": float(acc), "lr": phase.learning_rate},
                    )
                )

    @contextmanager
    def _weights_to_judge(self):
        """The weights validation sees and checkpoints hold: the moving average, when kept.

        Training goes on from the raw weights, which are put back afterwards.
        """
        if self.averaged is None:
            yield
            return
        variables = self.model.trainable_variables
        raw = [v.numpy() for v in variables]
        for var, avg in zip(variables, self.averaged, strict=True):
            var.assign(avg)
        try:
            yield
        finally:
            for var, value in zip(variables, raw, strict=True):
                var.assign(value)

    def _evaluate(self, phase: Phase, validate: Validate, total: int) -> None:
        with self._weights_to_judge():
            self._judge(phase, validate, total)

    def _judge(self, phase: Phase, validate: Validate, total: int) -> None:
        metrics = dict(validate(self.net))
        metrics.update(step=self.state.step, phase=phase.index + 1)
        self.state.history.append(metrics)
        step = self.state.step
        save_checkpoint(self.net, self.dir / f"checkpoint_step_{step}.weights.h5")
        best = self.state.best_metrics or None
        if is_better(metrics, best, self.schedule):
            self.state.best_step, self.state.best_metrics = step, metrics
            save_checkpoint(self.net, self.dir / BEST_NAME)
        self._keep_lowest_fah(metrics, step)
        self.options.on_progress(
            ProgressEvent(Stage.VALIDATE, step, total, f"phase {phase.index + 1}", metrics)
        )

    def _keep_lowest_fah(self, metrics: dict[str, float], step: int) -> None:
        """best_fah_step_N.weights.h5: the checkpoint with the fewest false accepts so far."""
        fah = metrics.get(FAH_METRIC)
        earlier = [h.get(FAH_METRIC, math.inf) for h in self.state.history[:-1]]
        if fah is None or fah >= min(earlier, default=math.inf):
            return
        for old in self.dir.glob("best_fah_step_*.weights.h5"):
            old.unlink()
        save_checkpoint(self.net, self.dir / f"best_fah_step_{step}.weights.h5")

    def _mining_due(self) -> bool:
        interval = self.options.mining_interval_steps
        return bool(interval) and self.state.step % interval < self.schedule.eval_step_interval

    def _mine(self, mine: Mine) -> None:
        found = np.asarray(mine(self.net, self.pool, len(self.state.hard_negatives)), np.int64)
        new = np.setdiff1d(found, np.asarray(self.state.hard_negatives, dtype=np.int64))
        if len(new):
            self.pool = self.pool.with_kind(new, HARD_NEGATIVE)
            self.state.hard_negatives.extend(int(i) for i in new)
        self.options.on_progress(
            ProgressEvent(
                Stage.MINING,
                self.state.step,
                self.schedule.total_steps,
                f"added {len(new)} hard negatives ({len(self.state.hard_negatives)} in all)",
            )
        )

    def _save_state(self) -> None:
        # Order matters: the state file names a step only once its weights are on disk.
        prefix = self.resume.save(checkpoint_number=self.state.step)
        self.state.save(self._step_state(self.state.step))
        self.state.save(self.dir / STATE_NAME)
        kept = {Path(p).name.rsplit("-", 1)[1] for p in [*self.resume.checkpoints, prefix]}
        for old in (self.dir / RESUME_DIR).glob("train_state_*.json"):
            if old.stem.rsplit("_", 1)[1] not in kept:
                old.unlink(missing_ok=True)


def fit(
    net: MixedNet,
    pool: WindowPool,
    schedule: TrainingConfig,
    options: FitOptions,
    *,
    validate: Validate,
    mine: Mine | None = None,
) -> FitResult:
    """Trains `net` in place through every phase (continuing a run found in checkpoint_dir)."""
    return Trainer(net, pool, schedule, options).run(validate, mine)


def stale(step: int, best_step: int, early_stop_steps: int) -> bool:
    """Whether training ends at ``step``: early_stop_steps (0 = never) have passed since the
    best checkpoint. The one stop rule, for the trainer and for replays of finished runs."""
    return bool(early_stop_steps) and step - best_step >= early_stop_steps


def is_better(
    candidate: dict[str, float], best: dict[str, float] | None, schedule: TrainingConfig
) -> bool:
    """Among checkpoints meeting the minimisation target, the best maximisation metric wins;
    until one meets it, the lowest minimisation metric wins (ties: the later checkpoint)."""
    if best is None:
        return True
    lo, hi = schedule.minimization_metric, schedule.maximization_metric
    cand_lo, best_lo = candidate.get(lo, math.inf), best.get(lo, math.inf)
    cand_ok = cand_lo <= schedule.target_minimization
    best_ok = best_lo <= schedule.target_minimization
    if cand_ok != best_ok:
        return cand_ok
    if cand_ok:
        return candidate.get(hi, -math.inf) >= best.get(hi, -math.inf)
    return cand_lo <= best_lo


def predict(net: MixedNet, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    model = net.model(Mode.TRAINING)
    out = [
        np.asarray(model(x[i : i + batch_size], training=False))[:, 0]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(0, np.float32)
