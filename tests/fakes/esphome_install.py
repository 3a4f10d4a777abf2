"""What the install-on-device tests share: an ESPHome folder, a trained job, no internet.

The trained job is a real record in the add-on's store whose job folder holds an official
model as export/manifest.json plus the .tflite beside it, as the worker leaves them: no
training. `no_internet` makes every download ESPHome or PlatformIO starts fail at once.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest
from aiohttp import web

from addon.jobspec import train_request
from addon.keys import LIBRARY, STORE
from addon.store import Job
from mww_trainer.device.sensitivity import Sensitivity, write_sidecar
from mww_trainer.evaluation.verdict import judge
from tests.fakes.esphome_folder import esphome_folder, official_models_dir
from tests.fakes.levels import measured_levels

__all__ = ["esphome_folder", "fake_trained_job", "no_internet", "official_models_dir"]

# PlatformIO retries a failed download with 2-16 s sleeps; capped in ESPHome's process only.
FAST_SLEEP = "import time\n_sleep = time.sleep\ntime.sleep = lambda s: _sleep(min(s, 0.01))\n"


async def fake_trained_job(app: web.Application, model: str = "hey_jarvis") -> Job:
    """A project named after `model` and a succeeded training job that exported it."""
    store = app[STORE]
    fields = {"slug": model, "phrase": model.replace("_", " "), "language": "en", "author": "t"}
    project = await store.create_project({**fields, "website": None})
    job = await store.create_job(project.id, "train", train_request({}, "fast_test"), None)
    export = app[LIBRARY].layout(project).job_dir(job.id) / "export"
    export.mkdir(parents=True)
    shutil.copy(official_models_dir() / f"{model}.json", export / "manifest.json")
    shutil.copy(official_models_dir() / f"{model}.tflite", export / f"{model}.tflite")
    evaluation = held_out_evaluation(f"{model}.tflite")
    write_sidecar(Sensitivity.from_dict(evaluation["sensitivity"]), export)
    result = {
        "verdict": judge(evaluation, ["trained on synthetic wake words only: record it"]).to_dict(),
        "evaluation": evaluation,
        "manifest": str(export / "manifest.json"),
        "tflite": str(export / f"{model}.tflite"),
        "compatible": True,
        "metrics": {"recall_at_cutoff": 0.95},
        "verify": {"checks": []},
        "cutoff": 0.97,
        "tensor_arena_size": 22860,
        "best_step": 100,
        "steps": 100,
    }
    now = time.time()
    return await store.update_job(
        job.id, state="succeeded", result=result, started_at=now - 60, finished_at=now
    )


def held_out_evaluation(model: str) -> dict:
    """What the worker's held-out evaluation reports, with its three sensitivity levels."""
    levels = measured_levels(model, (230, 247, 251), (0.97, 0.94, 0.9), (0.9, 0.4, 0.1))
    return {
        "split": "val", "positives": 200, "hard_negatives": 100, "ambient_hours": 3.1,
        "cutoff": 0.97, "sliding_window_size": 5,
        "at_cutoff": {"recall": 0.94, "fa_per_hour": 0.4, "hard_negative_rate": 0.1},
        "real_speech_hours": 1.2, "real_speech_false_accepts": 0,
        "real_speech_fa_per_hour": 0.0,
        "held_out_voices": {"engines": ["festival"], "people": 0},
        "sensitivity": levels.to_dict(),
    }  # fmt: skip


def no_internet(monkeypatch: pytest.MonkeyPatch, site_dir: Path, *, fast: bool) -> None:
    """Downloads go to a closed port, in this process's environment (workers inherit it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")
    if fast:
        site_dir.mkdir(parents=True, exist_ok=True)
        (site_dir / "sitecustomize.py").write_text(FAST_SLEEP)
        monkeypatch.setenv("PYTHONPATH", str(site_dir))
