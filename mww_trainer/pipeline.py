"""The training run in a straight line, each stage taking the last one's result:

    ingest -> feature cache -> training set (augmented) -> fit -> operating point -> export

`train(config)` is what `mww-train` and the add-on's worker call; `export_best` is the
export step that `mww-export` also performs on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.config.types import Config
from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress

OPERATING_POINT_NAME = "operating_point.json"
SPLIT_FILE_NAME = "split.json"
# The guide counts mining in epochs; an epoch here is one pass over the training windows.
MIN_MINING_INTERVAL_STEPS = 100


@dataclass(frozen=True)
class TrainOutcome:
    best_path: Path
    best_step: int
    metrics: dict[str, float]
    cutoff: float
    steps: int
    seconds: float
    resumed_from: int
    skipped_files: int
    # What the model lacks for real people (no recorded wake words, no real talk); see
    # Dataset.voice_warnings. Shown by mww-train and on the panel's result page.
    warnings: tuple[str, ...] = ()


def load_dataset(config: Config, on_progress: ProgressCallback = ignore_progress):
    from mww_trainer.data.ingest import Limits, ingest

    processed = Path(config.paths.processed_dir)
    dataset = ingest(
        config.paths,
        split_file=processed / SPLIT_FILE_NAME,
        limits=Limits.from_hardware(config.hardware),
        on_progress=on_progress,
    )
    on_progress(ProgressEvent("ingest", 1, 1, dataset.summary()))
    if not dataset.select(role=None):
        raise MwwError(
            f"no usable audio in {config.paths.positive_dir} / {config.paths.negative_dir}"
        )
    return dataset


def make_augmenter(config: Config, seed: int, talk: list[Path] | None = None):
    """The configured augmenter; ``talk`` (recordings of people) joins the background sounds,
    so that a wake word is also heard over someone talking and talk alone is never the cue."""
    from mww_trainer.data.augment import Augmenter

    aug = config.augmentation
    probabilities = (
        aug.SevenBandParametricEQ,
        aug.TanhDistortion,
        aug.PitchShift,
        aug.BandStopFilter,
        aug.AddColorNoise,
        aug.AddBackgroundNoise,
        aug.Gain,
        aug.RIR,
    )
    if not any(probabilities):
        return None
    existing = [p for p in aug.background_paths if Path(p).exists()]
    impulses = [p for p in aug.impulse_paths if Path(p).exists()]
    return Augmenter.from_config(
        aug, background=existing, impulses=impulses, seed=seed, talk=talk or ()
    )


def mining_interval_steps(config: Config, pool_size: int) -> int:
    mining = config.hard_negative_mining
    if not mining.enabled:
        return 0
    epoch = max(1, pool_size // config.training.batch_size)
    return max(MIN_MINING_INTERVAL_STEPS, epoch * mining.mining_interval_epochs)


def prepare(config: Config, *, seed: int, on_progress: ProgressCallback):
    """Stages 1-3: ingest, feature cache, training windows and the validation set."""
    from mww_trainer.data.feature_cache import FeatureCache
    from mww_trainer.data.training_set import background_talk, build_training_set

    dataset = load_dataset(config, on_progress)
    cache = FeatureCache(Path(config.paths.processed_dir) / "features")
    workers = config.performance.num_workers or None
    cache.ensure(dataset.clips, workers=workers, on_progress=on_progress)
    augmenter = make_augmenter(config, seed, talk=background_talk(dataset))
    data = build_training_set(config, dataset, cache, augmenter=augmenter, on_progress=on_progress)
    counts = ", ".join(f"{k} {v}" for k, v in data.pool.counts().items())
    on_progress(ProgressEvent("dataset", 1, 1, f"training windows: {counts}"))
    return dataset, data


def fit_options(
    config: Config,
    pool_size: int,
    *,
    seed: int,
    mixed_precision: bool,
    on_progress: ProgressCallback,
):
    from mww_trainer.training.fit import FitOptions

    perf = config.performance
    return FitOptions(
        checkpoint_dir=Path(config.paths.checkpoint_dir),
        seed=seed,
        mining_interval_steps=mining_interval_steps(config, pool_size),
        on_progress=on_progress,
        mixed_precision=mixed_precision,
        profile_every_steps=perf.profile_every_n_steps if perf.enable_profiling else 0,
        profile_dir=Path(perf.profile_output_dir),
    )


def train(
    config: Config, *, seed: int = 0, on_progress: ProgressCallback = ignore_progress
) -> TrainOutcome:
    """Trains (or continues training) the configured model; returns the chosen checkpoint."""
    from mww_trainer.model.mixednet import MixedNet
    from mww_trainer.training.compute import precision, setup_compute
    from mww_trainer.training.fit import fit
    from mww_trainer.training.mining import make_miner
    from mww_trainer.training.validation import operating_cutoff, validation_metrics

    dataset, data = prepare(config, seed=seed, on_progress=on_progress)
    compute = setup_compute(config.performance)
    mixed = " with mixed precision" if compute.mixed_precision else ""
    on_progress(ProgressEvent("compute", 1, 1, f"training on {compute.device}{mixed}"))
    options = fit_options(
        config,
        len(data.pool),
        seed=seed,
        mixed_precision=compute.mixed_precision,
        on_progress=on_progress,
    )
    with compute.strategy.scope(), precision(compute.mixed_precision):
        net = MixedNet(config.model)
        result = fit(
            net,
            data.pool,
            config.training,
            options,
            validate=lambda n: validation_metrics(n, config, data.val_pool, data.val_device),
            mine=make_miner(config),
        )
    cutoff = result.best_metrics.get("cutoff") or operating_cutoff(config, None)
    write_operating_point(
        result.best_path,
        cutoff,
        config.export.sliding_window_size,
        result.best_step,
        result.best_metrics,
    )
    return TrainOutcome(
        result.best_path,
        result.best_step,
        result.best_metrics,
        cutoff,
        result.steps,
        result.seconds,
        result.resumed_from,
        dataset.skipped,
        tuple(dataset.voice_warnings()),
    )


def write_operating_point(
    best_path: Path, cutoff: float, window: int, step: int, metrics: dict[str, float]
) -> Path:
    """What export needs to know about the chosen checkpoint, stored beside it."""
    record = {
        "checkpoint": best_path.name,
        "step": step,
        "cutoff": cutoff,
        "sliding_window_size": window,
        "metrics": metrics,
    }
    return atomic_write_text(
        best_path.parent / OPERATING_POINT_NAME, json.dumps(record, indent=1, default=float) + "\n"
    )
