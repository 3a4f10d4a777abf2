"""Auto-tuning: short fine-tuning rounds from a trained checkpoint until the targets hold.

    result = autotune(config, TuneRequest(checkpoint=..., output_dir=Path("tuning")))

Each iteration mines the negatives the current model wakes on, adjusts the class weights
(false accepts: negatives weigh more; missed wake words: positives weigh more) and, after a
round that did not improve, goes back to the best weights with half the learning rate. It
then trains a few hundred steps and measures on the validation split, as the device detects,
with the cutoff re-chosen for the FA/h target. It stops when both targets hold, after
``patience`` rounds without improvement, or at ``max_iterations``.

The output folder holds ``best_weights.weights.h5`` with its ``operating_point.json`` (what
mww-export reads), ``tuning_log.jsonl`` (one line per iteration) and ``tuning_state.json``,
from which a run that was stopped continues.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mww_trainer.config.types import Config, TrainingConfig
from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress
from mww_trainer.tuning.measure import Measurement, measure

if TYPE_CHECKING:
    from mww_trainer.pipeline import Prepared

BEST_NAME = "best_weights.weights.h5"
STATE_NAME = "tuning_state.json"
LOG_NAME = "tuning_log.jsonl"
ITERATIONS_DIR = "iterations"
NEGATIVE_STEP = 1.5  # negatives' weights grow by this while false accepts are over target
POSITIVE_STEP = 1.25  # positives' weight grows by this while recall is under target
MAX_GROWTH = 8.0  # no weight grows past this multiple of where it started
LR_DECAY = 0.5  # after a round that did not improve
MIN_LEARNING_RATE = 1e-6


@dataclass(frozen=True)
class TuningTarget:
    max_fah: float = 0.3
    min_recall: float = 0.92
    max_iterations: int = 100
    patience: int = 10

    def met(self, m: Measurement) -> bool:
        return m.fa_per_hour <= self.max_fah and m.recall >= self.min_recall


@dataclass(frozen=True)
class TuneRequest:
    checkpoint: Path
    output_dir: Path
    target: TuningTarget = TuningTarget()
    steps_per_iteration: int | None = None  # default: training.eval_step_interval
    seed: int = 0
    on_progress: ProgressCallback = ignore_progress


@dataclass
class Knobs:
    learning_rate: float
    positive_weight: float
    negative_weight: float
    hard_negative_weight: float

    @classmethod
    def from_schedule(cls, schedule: TrainingConfig) -> Knobs:
        """Where the last training phase ended."""
        return cls(
            schedule.learning_rates[-1],
            schedule.positive_class_weight[-1],
            schedule.negative_class_weight[-1],
            schedule.hard_negative_class_weight[-1],
        )


@dataclass
class TuningState:
    checkpoint: str
    start: dict
    knobs: dict
    initial: dict
    iteration: int = 0
    best_iteration: int = 0
    best: dict = field(default_factory=dict)
    stale: int = 0
    hard_negatives: list[int] = field(default_factory=list)
    reason: str = ""

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=1) + "\n")


@dataclass(frozen=True)
class TuningResult:
    best_path: Path
    before: Measurement
    after: Measurement
    iterations: int
    reason: str  # why it stopped
    met: bool


def better(candidate: Measurement, best: Measurement, target: TuningTarget) -> bool:
    """Meeting both targets first; then the smaller relative shortfall; then fewer false
    accepts at the starting cutoff (the cutoff the model shipped with)."""
    return _rank(candidate, target) > _rank(best, target)


def _rank(m: Measurement, t: TuningTarget) -> tuple[bool, float, float]:
    shortfall = max(0.0, m.fa_per_hour - t.max_fah) / max(t.max_fah, 1e-3)
    shortfall += max(0.0, t.min_recall - m.recall) / max(t.min_recall, 1e-3)
    return (t.met(m), -round(shortfall, 6), -m.fa_per_hour_at_start)


def adjust(knobs: Knobs, initial: Knobs, last: Measurement, target: TuningTarget, *, stale: bool):
    """The next round's knobs and what changed, in words."""
    changes = []
    new = replace(knobs)
    if stale:
        new.learning_rate = max(MIN_LEARNING_RATE, knobs.learning_rate * LR_DECAY)
        changes.append(f"back to the best weights, learning rate {new.learning_rate:.2g}")
    if last.fa_per_hour > target.max_fah or last.fa_per_hour_at_start > target.max_fah:
        cap = initial.negative_weight * MAX_GROWTH
        new.negative_weight = min(cap, knobs.negative_weight * NEGATIVE_STEP)
        cap = initial.hard_negative_weight * MAX_GROWTH
        new.hard_negative_weight = min(cap, knobs.hard_negative_weight * NEGATIVE_STEP)
        if new.negative_weight != knobs.negative_weight:
            changes.append(
                f"negative weights {new.negative_weight:.3g} / {new.hard_negative_weight:.3g}"
            )
    if last.recall < target.min_recall:
        cap = initial.positive_weight * MAX_GROWTH
        new.positive_weight = min(cap, knobs.positive_weight * POSITIVE_STEP)
        if new.positive_weight != knobs.positive_weight:
            changes.append(f"positive weight {new.positive_weight:.3g}")
    return new, changes


def autotune(
    config: Config, request: TuneRequest, prepared: Prepared | None = None
) -> TuningResult:
    """Runs (or continues) tuning; see the module's docstring. ``prepared``: the job's
    ingested dataset and training windows when the caller has them (it exports after)."""
    from mww_trainer.pipeline import prepare
    from mww_trainer.training.checkpoint import load_checkpoint

    out = Path(request.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if prepared is None:
        prepared = prepare(config, seed=request.seed, on_progress=request.on_progress)
    data = prepared.data
    if not (data.val_device.positives and data.val_device.ambient):
        raise MwwError(
            "auto-tuning measures on the validation split, which holds no wake words or no "
            "other speech here; add recordings of both and train again"
        )
    net = load_checkpoint(config.model, request.checkpoint)
    state = _start_or_resume(config, request, net, data)
    run = _Run(config, request, net, data, state)
    return run.loop()


def _start_or_resume(config, request, net, data) -> TuningState:
    out = Path(request.output_dir)
    path = out / STATE_NAME
    checkpoint = str(Path(request.checkpoint).resolve())
    if path.is_file():
        saved = TuningState(**json.loads(path.read_text()))
        if saved.checkpoint != checkpoint:
            raise MwwError(
                f"{out} holds tuning of {saved.checkpoint}; give another --output-dir or "
                "delete that folder"
            )
        from mww_trainer.model.stream import Mode

        if (out / BEST_NAME).is_file():
            net.model(Mode.TRAINING).load_weights(out / BEST_NAME)
        request.on_progress(
            ProgressEvent("tune", saved.iteration, request.target.max_iterations, "resumed")
        )
        saved.reason = ""  # the stopping rules are checked again, with this run's targets
        return saved
    from mww_trainer.evaluation import cutoff as cutoff_rule

    # The yardstick kept through tuning: the cutoff the checkpoint ships with, when known.
    shipped = cutoff_rule.for_checkpoint(config.export.probability_cutoff, request.checkpoint)
    known = shipped.source is not cutoff_rule.CutoffSource.FALLBACK
    start = measure(
        net,
        config,
        data.val_device,
        request.target.max_fah,
        start_cutoff=shipped.value if known else None,
    )
    initial = Knobs.from_schedule(config.training)
    state = TuningState(
        checkpoint=checkpoint,
        start=asdict(start),
        knobs=asdict(initial),
        initial=asdict(initial),
        best=asdict(start),
    )
    _keep_best(net, config, out, start, 0)
    _log(out, {"iteration": 0, **asdict(start), "changes": ["the checkpoint as trained"]})
    state.save(path)
    return state


class _Run:
    def __init__(self, config: Config, request: TuneRequest, net, data, state: TuningState):
        self.config, self.request, self.net, self.data, self.state = (
            config,
            request,
            net,
            data,
            state,
        )
        self.out = Path(request.output_dir)
        self.target = request.target
        self.start = Measurement(**state.start)
        self.pool = data.pool
        if state.hard_negatives:
            from mww_trainer.data.windows import HARD_NEGATIVE

            self.pool = self.pool.with_kind(np.asarray(state.hard_negatives), HARD_NEGATIVE)

    def loop(self) -> TuningResult:
        state, target = self.state, self.target
        while not state.reason:
            best = Measurement(**state.best)
            if target.met(best):
                state.reason = "targets met"
            elif state.stale >= target.patience:
                state.reason = f"no improvement in {target.patience} iterations"
            elif state.iteration >= target.max_iterations:
                state.reason = f"{target.max_iterations} iterations done"
            else:
                self._iterate(best)
            state.save(self.out / STATE_NAME)
        best = Measurement(**state.best)
        self.request.on_progress(
            ProgressEvent("tune", state.iteration, target.max_iterations, state.reason)
        )
        return TuningResult(
            self.out / BEST_NAME, self.start, best, state.iteration, state.reason, target.met(best)
        )

    def _iterate(self, best: Measurement) -> None:
        state = self.state
        state.iteration += 1
        last = Measurement(**state.best)
        knobs, changes = adjust(
            Knobs(**state.knobs), Knobs(**state.initial), last, self.target, stale=state.stale > 0
        )
        if state.stale > 0:
            from mww_trainer.model.stream import Mode

            self.net.model(Mode.TRAINING).load_weights(self.out / BEST_NAME)
        mined = self._mine(min(self.config.hard_negative_mining.fp_threshold, last.cutoff))
        changes.append(f"{mined} hard negatives mined ({len(state.hard_negatives)} in all)")
        measured = self._fine_tune(knobs)
        state.knobs = asdict(knobs)
        improved = better(measured, best, self.target)
        if improved:
            state.best, state.best_iteration, state.stale = asdict(measured), state.iteration, 0
            _keep_best(self.net, self.config, self.out, measured, state.iteration)
        else:
            state.stale += 1
        record = {"iteration": state.iteration, **asdict(measured), "improved": improved}
        _log(self.out, {**record, "changes": changes})
        message = (
            f"iteration {state.iteration}: FA/h {measured.fa_per_hour:.2f} recall "
            f"{measured.recall:.3f} at cutoff {measured.cutoff:.3f} (FA/h "
            f"{measured.fa_per_hour_at_start:.2f} at the start cutoff); {'; '.join(changes)}"
        )
        self.request.on_progress(
            ProgressEvent("tune", state.iteration, self.target.max_iterations, message)
        )

    def _mine(self, threshold: float) -> int:
        from mww_trainer.data.windows import HARD_NEGATIVE
        from mww_trainer.training.mining import mine_windows

        state = self.state
        rng = np.random.default_rng(self.request.seed + state.iteration)
        found = mine_windows(
            self.net,
            self.pool,
            threshold=threshold,
            max_samples=self.config.hard_negative_mining.max_samples,
            already=len(state.hard_negatives),
            rng=rng,
        )
        new = np.setdiff1d(found, np.asarray(state.hard_negatives, np.int64))
        if len(new):
            self.pool = self.pool.with_kind(new, HARD_NEGATIVE)
            state.hard_negatives.extend(int(i) for i in new)
        return len(new)

    def _fine_tune(self, knobs: Knobs) -> Measurement:
        from mww_trainer.training.fit import FAH_METRIC, FitOptions, fit

        steps = self.request.steps_per_iteration or self.config.training.eval_step_interval
        schedule = one_phase(self.config.training, knobs, steps)
        folder = self.out / ITERATIONS_DIR / f"{self.state.iteration:03d}"
        options = FitOptions(checkpoint_dir=folder, seed=self.request.seed + self.state.iteration)
        measured: list[Measurement] = []

        def validate(net) -> dict[str, float]:
            m = measure(
                net,
                self.config,
                self.data.val_device,
                self.target.max_fah,
                start_cutoff=self.start.cutoff,
            )
            measured.append(m)
            return {**asdict(m), FAH_METRIC: m.fa_per_hour}

        fit(self.net, self.pool, schedule, options, validate=validate)
        return measured[-1]


def one_phase(schedule: TrainingConfig, knobs: Knobs, steps: int) -> TrainingConfig:
    """A single fine-tuning phase with the knobs; SpecAugment as in the last phase."""
    return replace(
        schedule,
        training_steps=(steps,),
        learning_rates=(knobs.learning_rate,),
        eval_step_interval=steps,
        positive_class_weight=(knobs.positive_weight,),
        negative_class_weight=(knobs.negative_weight,),
        hard_negative_class_weight=(knobs.hard_negative_weight,),
        time_mask_max_size=schedule.time_mask_max_size[-1:],
        time_mask_count=schedule.time_mask_count[-1:],
        freq_mask_max_size=schedule.freq_mask_max_size[-1:],
        freq_mask_count=schedule.freq_mask_count[-1:],
        ema_decay=0.0,
    )


def _keep_best(net, config: Config, out: Path, m: Measurement, iteration: int) -> None:
    from mww_trainer.evaluation import cutoff as cutoff_rule
    from mww_trainer.training.checkpoint import save_checkpoint

    path = save_checkpoint(net, out / BEST_NAME)
    cutoff = cutoff_rule.from_metrics(config.export.probability_cutoff, asdict(m))
    window = config.export.sliding_window_size
    cutoff_rule.write_operating_point(path, cutoff, window, iteration, asdict(m))


def _log(out: Path, record: dict) -> None:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    with (out / LOG_NAME).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(clean) + "\n")
