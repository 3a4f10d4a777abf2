"""A trained job's download: the model, its manifest and an ESPHome snippet in one zip."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

from addon.errors import UserError
from addon.store import Job
from mww_trainer import jobfiles
from mww_trainer.device.manifest import Manifest
from mww_trainer.device.sensitivity import SIDECAR_NAME
from mww_trainer.esphome.snippet import ModelNames, snippet
from mww_trainer.evaluation.verdict import judge

DET_NAME = jobfiles.DET_PNG  # a DET curve, when the worker (or a later step) draws one
EXPORT_DIR = jobfiles.EXPORT_DIR


def with_verdict(job: Job) -> dict | None:
    """The job's result, with the verdict judged from its evaluation when the worker that
    trained it was older than verdicts (results are kept; the figures are all there)."""
    result = job.result
    if job.kind != "train" or not result or "verdict" in result or "evaluation" not in result:
        return result
    return result | {"verdict": judge(result["evaluation"], result.get("warnings") or ()).to_dict()}


def archive_names(manifest_path: Path) -> ModelNames:
    """The files in the model archive are named as install names them on the device."""
    return ModelNames.for_manifest(Manifest.from_file(manifest_path), manifest_path)


def esphome_snippet(job: Job, manifest_path: Path) -> str:
    """The YAML to paste (snippet's, the one writer), for the archive's layout."""

    def note(manifest: Manifest, names: ModelNames) -> str:
        return (
            f"# {manifest.wake_word}: trained with mww-trainer (job {job.id}).\n"
            f"# Unzip this archive into your ESPHome configuration folder as {names.folder}/,\n"
        )

    return snippet(manifest_path, files_note=note)


def model_zip(job: Job, job_dir: Path, tmp_dir: Path) -> Path:
    export = job_dir / EXPORT_DIR
    tflite = export / f"{job.project_slug}.tflite"
    manifest = export / "manifest.json"
    missing = [p.name for p in (tflite, manifest) if not p.is_file()]
    if missing:
        raise UserError(410, f"job {job.id}: {', '.join(missing)} no longer on disk")
    sidecar = export / SIDECAR_NAME
    result = {k: v for k, v in (job.result or {}).items() if k not in ("tflite", "manifest")}
    out = tmp_dir / f"model_{job.id}_{uuid.uuid4().hex}.zip"
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            names = archive_names(manifest)
            archive.write(tflite, names.tflite_file)
            archive.write(manifest, names.manifest_file)
            archive.writestr("esphome.yaml", esphome_snippet(job, manifest))
            if sidecar.is_file():
                archive.write(sidecar, SIDECAR_NAME)
            archive.writestr(jobfiles.RESULT_FILE, json.dumps(result, indent=1, default=str))
            if (job_dir / DET_NAME).is_file():
                archive.write(job_dir / DET_NAME, DET_NAME)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out
