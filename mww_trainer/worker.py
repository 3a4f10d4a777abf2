"""`python -m mww_trainer.worker JOB_DIR`: run one job described by JOB_DIR/job.json.

The add-on's web process never trains: it writes a spec, starts this module in its own
process and reads back files. This worker loads the spec once, runs the stages in a
straight line, appends ProgressEvents to progress.jsonl, and finishes by writing
result.json (atomically). Exit status 0 means result.json holds a success; anything
else means the job failed, with the reason in result.json when it could be written.

job.json holds one of mww_trainer.job_specs' typed specs (train, synth, flash, cluster,
tune), checked when read: an unknown kind or key fails the job with its name.
Training continues from the checkpoints in config.paths.checkpoint_dir when restarted.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any

from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text, sha256_file
from mww_trainer.job_specs import (
    ClusterSpec,
    FlashSpec,
    JobKind,
    SynthSpec,
    TrainSpec,
    TuneSpec,
    check_synth_options,
    spec_from_dict,
)
from mww_trainer.jobfiles import JOB_FILE, PROGRESS_FILE, RESULT_FILE
from mww_trainer.progress import JsonlProgressWriter, ProgressCallback, ProgressEvent, Stage


def run_train(spec: TrainSpec, job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    from mww_trainer.training.compute import quiet_tensorflow

    quiet_tensorflow()  # only training needs TensorFlow: other jobs start in a blink
    from mww_trainer.config import load_config_dict
    from mww_trainer.pipeline import run_training

    config = load_config_dict(spec.config, source=JOB_FILE)
    trained = run_training(
        config,
        model_name=spec.model_name,
        seed=int(spec.seed),
        report_dir=job_dir,
        on_progress=on_progress,
    )
    outcome = trained.outcome
    model = _model_result(
        config, trained.exported, trained.evaluation, outcome.warnings, trained.dataset.notes
    )
    return {
        **model,
        "metrics": outcome.metrics,
        "cutoff": outcome.cutoff,
        "cutoff_source": str(outcome.cutoff_source),
        "checkpoint": str(outcome.best_path),  # what "Improve this model" tunes from
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "resumed_from": outcome.resumed_from,  # steps done before train_seconds began
        "train_seconds": outcome.seconds,
    }


def run_tune(spec: TuneSpec, job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    """Auto-tuning from a trained checkpoint, then export, verify and evaluate like training."""
    from mww_trainer.training.compute import quiet_tensorflow

    quiet_tensorflow()
    from dataclasses import asdict

    from mww_trainer.config import load_config_dict
    from mww_trainer.tuning.autotune import TuneRequest, TuningTarget
    from mww_trainer.tuning.job import tune_and_export

    config = load_config_dict(spec.config, source=JOB_FILE)
    checkpoint = Path(spec.checkpoint)
    if not checkpoint.is_file():
        raise MwwError(f"the trained checkpoint {checkpoint} is gone; train the model again")
    target = TuningTarget(
        float(spec.target_fah), float(spec.target_recall), spec.max_iterations, spec.patience
    )
    request = TuneRequest(
        checkpoint=checkpoint,
        output_dir=job_dir / TUNING_DIR,
        target=target,
        steps_per_iteration=spec.steps_per_iteration,
        seed=int(spec.seed),
        on_progress=on_progress,
    )
    tuned = tune_and_export(config, request, model_name=spec.model_name, report_dir=job_dir)
    model = _model_result(config, tuned.exported, tuned.evaluation, tuned.warnings, tuned.notes)
    tuning = tuned.tuning
    return {
        **model,
        "metrics": asdict(tuning.after),
        "cutoff": tuned.cutoff,
        "checkpoint": str(tuning.best_path),
        "tuning": {
            "before": asdict(tuning.before),
            "after": asdict(tuning.after),
            "iterations": tuning.iterations,
            "reason": tuning.reason,
            "met": tuning.met,
            "target_fah": target.max_fah,
            "target_recall": target.min_recall,
            "from_checkpoint": str(checkpoint),
        },
    }


def _model_result(config, exported, evaluation, warnings, notes) -> dict[str, Any]:
    """What a job that made a model answers: the verdict, the verified files, the evaluation."""
    from mww_trainer.device.sensitivity import Sensitivity, write_sidecar
    from mww_trainer.evaluation.verdict import judge

    sensitivity = evaluation.get("sensitivity")
    if sensitivity is not None:  # the select the ESPHome package offers reads it
        write_sidecar(Sensitivity.from_dict(sensitivity), exported.manifest_path.parent)
    warnings = list(warnings)
    return {
        "wake_word": config.export.wake_word,
        "verdict": judge(evaluation, warnings).to_dict(),
        "evaluation": evaluation,
        "tflite": str(exported.tflite_path),
        "manifest": str(exported.manifest_path),
        "tensor_arena_size": exported.tensor_arena_size,
        "verify": exported.verify.to_dict(),
        # What install trusts the verify report for: these files, byte for byte.
        "sha256": {
            "tflite": sha256_file(exported.tflite_path),
            "manifest": sha256_file(exported.manifest_path),
        },
        "compatible": exported.verify.compatible,
        "warnings": warnings,
        "dataset_notes": list(notes),  # ingest's: splits that could not be kept apart, leakage
    }


def run_synth(spec: SynthSpec, job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    from mww_trainer.synth import SynthOptions, synthesize_dataset

    check_synth_options(spec.synth, {f.name for f in fields(SynthOptions)})
    options = dict(spec.synth)
    options["out_dir"] = Path(options["out_dir"])
    for key in ("speed_wpm", "pitch", "peak_dbfs", "end_silence_s"):
        if key in options:
            options[key] = tuple(options[key])
    result = synthesize_dataset(
        SynthOptions(**options),
        lambda done, total: on_progress(ProgressEvent(Stage.SYNTH, done, total, "synthesising")),
    )
    return {
        "counts": result.counts,
        "paths": [str(p) for p in result.paths],
        "audio_duration_s": result.audio_duration_s,
    }


def run_flash(spec: FlashSpec, job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    """`esphome compile` + `esphome upload`; every line of ESPHome's output is an event."""
    from mww_trainer.esphome import FlashOptions, find_device, flash

    # ESPHome runs in a process group of its own, so a cancel (SIGTERM to ours) would miss
    # it: turn the signal into flash()'s cancel event, which stops ESPHome and its children.
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: cancel.set())
    folder = Path(spec.esphome_dir)
    options = FlashOptions(
        platformio_core_dir=_optional_path(spec.platformio_core_dir),
        data_dir=_optional_path(spec.data_dir),
    )
    device = find_device(folder, spec.device)
    result = flash(device, folder, on_progress=on_progress, cancel_event=cancel, options=options)
    outcome = {
        "device": device.name,
        "yaml_file": device.yaml_file,
        "stage": result.stage,
        "failure": None if result.failure is None else str(result.failure),
        "message": result.message,
        "flash_seconds": round(result.seconds, 1),
    }
    return outcome if result.ok else {**outcome, "ok": False, "error": result.message}


def run_cluster(spec: ClusterSpec, job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    """Groups a project's unlabelled takes by voice; the add-on applies the groups later."""
    from mww_trainer.speakers.embeddings import load_embedder
    from mww_trainer.speakers.groups import group_clips

    if not spec.clips:
        raise MwwError("no unlabelled takes to group")
    chosen = load_embedder(spec.embedding_model)
    on_progress(ProgressEvent("embed", 0, len(spec.clips), chosen.note))
    result = group_clips(
        spec.clips, n_clusters=spec.n_clusters, embedder=chosen.embedder, on_progress=on_progress
    )
    return {**result, "embedding": chosen.note}


def _optional_path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


RUNNERS = {
    JobKind.TRAIN: run_train,
    JobKind.SYNTH: run_synth,
    JobKind.FLASH: run_flash,
    JobKind.CLUSTER: run_cluster,
    JobKind.TUNE: run_tune,
}
TUNING_DIR = "tuning"  # a tune job's iterations, log and state, inside its folder


class LoggedProgress:
    """Writes every event to progress.jsonl and a readable line of it to the worker's log
    (stdout): each new stage, its end, and every tenth of a long one, so the log tells the
    story of a job without a line per training step."""

    def __init__(self, write: ProgressCallback):
        self.write = write
        self.last: tuple[str, int] = ("", -1)  # stage and tenth last logged

    def __call__(self, event: ProgressEvent) -> None:
        self.write(event)
        tenth = int(10 * event.done / event.total) if event.total else 0
        if (event.stage, tenth) == self.last and event.done != event.total:
            return
        self.last = (event.stage, tenth)
        count = f" ({event.done}/{event.total})" if event.total else ""
        clock = time.strftime("%H:%M:%S", time.localtime(event.time_s))
        first_line = event.message.split("\n", 1)[0]
        print(f"{clock} {event.stage}: {first_line}{count}", flush=True)


def run_job(job_dir: Path) -> int:
    job_dir = Path(job_dir)
    progress = LoggedProgress(JsonlProgressWriter(job_dir / PROGRESS_FILE))
    started = time.time()
    try:
        spec = spec_from_dict(json.loads((job_dir / JOB_FILE).read_text()))
        progress(ProgressEvent(Stage.START, 0, 1, str(spec.kind)))
        result = {"ok": True, **RUNNERS[spec.kind](spec, job_dir, progress)}
    except MwwError as exc:
        result = {"ok": False, "error": str(exc)}
    except Exception as exc:  # the worker's last word must reach the web process
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["seconds"] = time.time() - started
    atomic_write_text(job_dir / RESULT_FILE, json.dumps(result, indent=1, default=str) + "\n")
    progress(ProgressEvent(Stage.END, 1, 1, "done" if result["ok"] else result["error"]))
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mww_trainer.worker JOB_DIR", file=sys.stderr)
        return 2
    return run_job(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
