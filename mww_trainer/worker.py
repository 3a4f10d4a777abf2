"""`python -m mww_trainer.worker JOB_DIR`: run one job described by JOB_DIR/job.json.

The add-on's web process never trains: it writes a spec, starts this module in its own
process and reads back files. This worker loads the spec once, runs the stages in a
straight line, appends ProgressEvents to progress.jsonl, and finishes by writing
result.json (atomically). Exit status 0 means result.json holds a success; anything
else means the job failed, with the reason in result.json when it could be written.

job.json:
    {"kind": "train", "config": {...full config dict...}, "model_name": "hey_computer"}
    {"kind": "synth", "synth": {...SynthOptions fields...}}
Training continues from the checkpoints in config.paths.checkpoint_dir when restarted.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any

from mww_trainer.errors import MwwError
from mww_trainer.fileio import atomic_write_text
from mww_trainer.progress import JsonlProgressWriter, ProgressCallback, ProgressEvent

JOB_FILE = "job.json"
PROGRESS_FILE = "progress.jsonl"
RESULT_FILE = "result.json"


def run_train(spec: dict[str, Any], job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    from mww_trainer.checkpoint import load_checkpoint
    from mww_trainer.config import load_config_dict
    from mww_trainer.export import ExportRequest, export_model
    from mww_trainer.pipeline import train
    from mww_trainer.representative import representative_from_dataset
    from mww_trainer.verify import verify_model

    config = load_config_dict(spec["config"], source="job.json")
    outcome = train(config, seed=int(spec.get("seed", 0)), on_progress=on_progress)
    net = load_checkpoint(config.model, outcome.best_path)
    request = ExportRequest(
        out_dir=Path(config.paths.export_dir),
        model_name=spec.get("model_name", "wake_word"),
        export=config.export,
        representative=representative_from_dataset(config.paths),
        probability_cutoff=outcome.cutoff,
    )
    exported = export_model(net, request, on_progress=on_progress)
    report = verify_model(exported.manifest_path)
    if not report.compatible:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        raise MwwError(f"the exported model fails verification: {failed}")
    on_progress(ProgressEvent("evaluate", 0, 1, "scoring held-out clips as the device would"))
    evaluation = evaluate_held_out(config, exported.tflite_path, job_dir)
    return {
        "evaluation": evaluation,
        "tflite": str(exported.tflite_path),
        "manifest": str(exported.manifest_path),
        "metrics": outcome.metrics,
        "cutoff": outcome.cutoff,
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "train_seconds": outcome.seconds,
        "tensor_arena_size": exported.tensor_arena_size,
        "verify": report.to_dict(),
        "compatible": report.compatible,
    }


def evaluate_held_out(config, tflite: Path, job_dir: Path) -> dict[str, Any]:
    """The exported file on the test split (val when test has no wake words), det.png beside."""
    from mww_trainer.evaluation_run import EvaluationRequest, run_evaluation
    from mww_trainer.ingest import Role, Split
    from mww_trainer.pipeline import load_dataset

    dataset = load_dataset(config)
    split = "test" if dataset.select(Role.POSITIVE, Split.TEST) else "val"
    request = EvaluationRequest(model=tflite, is_tflite=True, split=split, output_dir=job_dir)
    report = run_evaluation(config, request)
    report.pop("sweep", None)
    return report


def run_synth(spec: dict[str, Any], job_dir: Path, on_progress: ProgressCallback) -> dict[str, Any]:
    from mww_trainer.synth import SynthOptions, synthesize_dataset

    known = {f.name for f in fields(SynthOptions)}
    options = {k: v for k, v in spec["synth"].items() if k in known}
    options["out_dir"] = Path(options["out_dir"])
    for key in ("speed_wpm", "pitch", "peak_dbfs", "end_silence_s"):
        if key in options:
            options[key] = tuple(options[key])
    result = synthesize_dataset(
        SynthOptions(**options),
        lambda done, total: on_progress(ProgressEvent("synth", done, total, "synthesising")),
    )
    return {
        "counts": result.counts,
        "paths": [str(p) for p in result.paths],
        "audio_duration_s": result.audio_duration_s,
    }


RUNNERS = {"train": run_train, "synth": run_synth}


def run_job(job_dir: Path) -> int:
    job_dir = Path(job_dir)
    progress = JsonlProgressWriter(job_dir / PROGRESS_FILE)
    started = time.time()
    try:
        spec = json.loads((job_dir / JOB_FILE).read_text())
        runner = RUNNERS.get(spec.get("kind"))
        if runner is None:
            raise MwwError(
                f"{JOB_FILE}: unknown job kind {spec.get('kind')!r}; known: {', '.join(RUNNERS)}"
            )
        progress(ProgressEvent("start", 0, 1, spec["kind"]))
        result = {"ok": True, **runner(spec, job_dir, progress)}
    except MwwError as exc:
        result = {"ok": False, "error": str(exc)}
    except Exception as exc:  # the worker's last word must reach the web process
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["seconds"] = time.time() - started
    atomic_write_text(job_dir / RESULT_FILE, json.dumps(result, indent=1, default=str) + "\n")
    progress(ProgressEvent("end", 1, 1, "done" if result["ok"] else result["error"]))
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mww_trainer.worker JOB_DIR", file=sys.stderr)
        return 2
    from mww_trainer.cli.common import quiet_tensorflow

    quiet_tensorflow()
    return run_job(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
