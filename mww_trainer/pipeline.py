"""The training job in a straight line, each stage taking the last one's result:

    ingest -> feature cache -> training set (augmented) -> fit -> cutoff -> export (verified)
    -> held-out evaluation

`run_training` is the whole job (the add-on's worker and mww-demo call it). Each stage is a
function of its own: `mww-train` stops after `fit_model`, `mww-export` runs `export_checkpoint`
on a checkpoint it is given. The dataset is ingested once per job and the model verified once,
by export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mww_trainer.config.types import AUGMENTATION_PROBABILITIES, Config
from mww_trainer.errors import MwwError
from mww_trainer.evaluation import cutoff as cutoff_rule
from mww_trainer.evaluation.cutoff import CutoffSource
from mww_trainer.progress import ProgressCallback, ProgressEvent, Stage, ignore_progress

if TYPE_CHECKING:
    import numpy as np

    from mww_trainer.data.feature_cache import FeatureCache
    from mww_trainer.data.ingest import Dataset
    from mww_trainer.data.training_set import TrainingSet
    from mww_trainer.device.export import ExportResult

SPLIT_FILE_NAME = "split.json"
# The guide counts mining in epochs; an epoch here is one pass over the training windows.
MIN_MINING_INTERVAL_STEPS = 100


@dataclass(frozen=True)
class TrainOutcome:
    best_path: Path
    best_step: int
    metrics: dict[str, float]
    cutoff: float
    cutoff_source: CutoffSource
    steps: int
    seconds: float
    resumed_from: int
    skipped_files: int
    # What the model lacks for real people (no recorded wake words, no real talk; see
    # Dataset.voice_warnings) and a fallback cutoff. Shown by mww-train and the panel.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """Stages 1-3: what ingest accepted, the features of every clip, the training windows."""

    dataset: Dataset
    cache: FeatureCache
    data: TrainingSet


@dataclass(frozen=True)
class TrainResult:
    outcome: TrainOutcome
    exported: ExportResult  # exported.verify: the check export made before writing the file
    evaluation: dict[str, Any]  # the exported file on held-out clips, as the device runs it
    dataset: Dataset  # what ingest accepted, once for the whole job


def load_dataset(config: Config, on_progress: ProgressCallback = ignore_progress):
    from mww_trainer.data.ingest import Limits, ingest
    from mww_trainer.speakers.leakage import leakage_audit

    processed = Path(config.paths.processed_dir)
    dataset = ingest(
        config.paths,
        split_file=processed / SPLIT_FILE_NAME,
        limits=Limits.from_hardware(config.hardware),
        on_progress=on_progress,
        audit=leakage_audit(config),  # one voice under two names in two splits
    )
    on_progress(ProgressEvent(Stage.INGEST, 1, 1, dataset.summary()))
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
    if not any(getattr(aug, name) for name in AUGMENTATION_PROBABILITIES):
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


def prepare(config: Config, *, seed: int, on_progress: ProgressCallback) -> Prepared:
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
    on_progress(ProgressEvent(Stage.DATASET, 1, 1, f"training windows: {counts}"))
    return Prepared(dataset, cache, data)


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
    prepared = prepare(config, seed=seed, on_progress=on_progress)
    return fit_model(config, prepared, seed=seed, on_progress=on_progress)


def _start_from(net, config: Config, pool, seed: int, on_progress: ProgressCallback) -> None:
    import numpy as np

    from mww_trainer.model import pretrained

    rng = np.random.default_rng(seed)
    index = rng.choice(len(pool), min(len(pool), pretrained.CALIBRATION_WINDOWS), replace=False)
    published = pretrained.start_from(net, config.model.start_from, pool.features(np.sort(index)))
    on_progress(
        ProgressEvent(Stage.COMPUTE, 1, 1, f"starting from the published model {published.name}")
    )


def fit_model(
    config: Config, prepared: Prepared, *, seed: int, on_progress: ProgressCallback
) -> TrainOutcome:
    """Stage 4: fit, choose the checkpoint and its cutoff on validation, write both down."""
    from mww_trainer.model.mixednet import MixedNet
    from mww_trainer.training.compute import precision, setup_compute
    from mww_trainer.training.fit import fit
    from mww_trainer.training.mining import make_miner
    from mww_trainer.training.validation import validation_metrics

    data = prepared.data
    compute = setup_compute(config.performance)
    mixed = " with mixed precision" if compute.mixed_precision else ""
    on_progress(ProgressEvent(Stage.COMPUTE, 1, 1, f"training on {compute.device}{mixed}"))
    options = fit_options(
        config,
        len(data.pool),
        seed=seed,
        mixed_precision=compute.mixed_precision,
        on_progress=on_progress,
    )
    with compute.strategy.scope(), precision(compute.mixed_precision):
        net = MixedNet(config.model)
        if config.model.start_from:
            _start_from(net, config, data.pool, seed, on_progress)
        result = fit(
            net,
            data.pool,
            config.training,
            options,
            validate=lambda n: validation_metrics(n, config, data.val_pool, data.val_device),
            mine=make_miner(config),
        )
    cutoff = cutoff_rule.from_metrics(config.export.probability_cutoff, result.best_metrics)
    cutoff_rule.write_operating_point(
        result.best_path,
        cutoff,
        config.export.sliding_window_size,
        result.best_step,
        result.best_metrics,
    )
    warnings = tuple(prepared.dataset.voice_warnings())
    if cutoff.warning:
        warnings += (cutoff.warning,)
    return TrainOutcome(
        result.best_path,
        result.best_step,
        result.best_metrics,
        cutoff.value,
        cutoff.source,
        result.steps,
        result.seconds,
        result.resumed_from,
        prepared.dataset.skipped,
        warnings,
    )


def export_checkpoint(
    config: Config,
    checkpoint: Path,
    calibration: Callable[[], np.ndarray] | None,
    *,
    model_name: str,
    cutoff: float,
    out_dir: Path | None = None,
    on_progress: ProgressCallback = ignore_progress,
) -> ExportResult:
    """Stage 5: the checkpoint as `<model_name>.tflite` + manifest, verified before it is kept.

    ``calibration`` gives the representative slices once the checkpoint has loaded (a checkpoint
    of the wrong shape is said first); None writes a float model for debugging."""
    from mww_trainer.device.export import ExportRequest, export_model
    from mww_trainer.training.checkpoint import load_checkpoint

    net = load_checkpoint(config.model, checkpoint)
    request = ExportRequest(
        out_dir=Path(out_dir or config.paths.export_dir),
        model_name=model_name,
        export=config.export,
        representative=None if calibration is None else calibration(),
        quantize=calibration is not None,
        probability_cutoff=cutoff,
    )
    return export_model(net, request, on_progress=on_progress)


def evaluate_export(
    config: Config, tflite: Path, report_dir: Path, dataset: Dataset, cache: FeatureCache
) -> dict[str, Any]:
    """Stage 6: the exported file on the test split (val when test has no wake words), as the
    device runs it, with det.png in ``report_dir``; the job's dataset and cache are reused."""
    from mww_trainer.data.ingest import Role, Split
    from mww_trainer.evaluation_run import EvaluationRequest, evaluate

    split = "test" if dataset.select(Role.POSITIVE, Split.TEST) else "val"
    request = EvaluationRequest(model=tflite, is_tflite=True, split=split, output_dir=report_dir)
    report = evaluate(config, request, dataset, cache)
    report.pop("sweep", None)
    return report


def run_training(
    config: Config,
    *,
    model_name: str,
    seed: int = 0,
    report_dir: Path | None = None,
    on_progress: ProgressCallback = ignore_progress,
) -> TrainResult:
    """The whole training job: ingest once, fit, export and verify once, evaluate held out."""
    prepared = prepare(config, seed=seed, on_progress=on_progress)
    outcome = fit_model(config, prepared, seed=seed, on_progress=on_progress)
    exported, evaluation = export_and_evaluate(
        config,
        prepared,
        outcome.best_path,
        model_name=model_name,
        cutoff=outcome.cutoff,
        report_dir=report_dir,
        on_progress=on_progress,
    )
    return TrainResult(outcome, exported, evaluation, prepared.dataset)


def export_and_evaluate(
    config: Config,
    prepared: Prepared,
    checkpoint: Path,
    *,
    model_name: str,
    cutoff: float,
    report_dir: Path | None = None,
    on_progress: ProgressCallback = ignore_progress,
) -> tuple[ExportResult, dict[str, Any]]:
    """Stages 5-6 on a chosen checkpoint (training's, or auto-tuning's best)."""
    from mww_trainer.device.representative import representative_from_dataset

    exported = export_checkpoint(
        config,
        checkpoint,
        lambda: representative_from_dataset(prepared.dataset, prepared.cache),
        model_name=model_name,
        cutoff=cutoff,
        on_progress=on_progress,
    )
    on_progress(ProgressEvent(Stage.EVALUATE, 0, 1, "scoring held-out clips as the device would"))
    evaluation = evaluate_export(
        config,
        exported.tflite_path,
        report_dir or Path(config.paths.export_dir),
        prepared.dataset,
        prepared.cache,
    )
    return exported, evaluation
