"""The add-on's "Improve this model": tune a trained checkpoint, then export, verify and
evaluate the best tuned weights on held-out clips, as a training job does.

    tuned = tune_and_export(config, request, model_name="hey_computer", report_dir=job_dir)
    tuned.tuning.before, tuned.tuning.after, tuned.exported.verify, tuned.evaluation
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mww_trainer.config.types import Config
from mww_trainer.tuning.autotune import TuneRequest, TuningResult, autotune

if TYPE_CHECKING:
    from mww_trainer.device.export import ExportResult


@dataclass(frozen=True)
class TunedModel:
    tuning: TuningResult
    cutoff: float  # the tuned checkpoint's operating point, which the export ships with
    exported: ExportResult
    evaluation: dict[str, Any]
    warnings: tuple[str, ...]  # what the data lacks (Dataset.voice_warnings), as training says
    notes: tuple[str, ...]  # ingest's notes on the data (splits, speaker leakage)


def tune_and_export(
    config: Config, request: TuneRequest, *, model_name: str, report_dir: Path
) -> TunedModel:
    """One ingest for all three stages; the tuned file is verified by export before it is kept."""
    from mww_trainer.evaluation import cutoff as cutoff_rule
    from mww_trainer.pipeline import export_and_evaluate, prepare

    prepared = prepare(config, seed=request.seed, on_progress=request.on_progress)
    tuning = autotune(config, request, prepared)
    cutoff = cutoff_rule.for_checkpoint(config.export.probability_cutoff, tuning.best_path)
    exported, evaluation = export_and_evaluate(
        config,
        prepared,
        tuning.best_path,
        model_name=model_name,
        cutoff=cutoff.value,
        report_dir=report_dir,
        on_progress=request.on_progress,
    )
    warnings = tuple(prepared.dataset.voice_warnings())
    if cutoff.warning:
        warnings += (cutoff.warning,)
    return TunedModel(
        tuning, cutoff.value, exported, evaluation, warnings, tuple(prepared.dataset.notes)
    )
