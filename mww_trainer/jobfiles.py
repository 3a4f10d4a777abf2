"""Names the worker, the add-on and the CLIs share: a job folder's files and a dataset folder's
layout. Plain strings and paths only, so the web process can import it without the library.

A job folder:                          A dataset folder (the user guide's layout):
    job.json        the spec               positive/       wake words, <speaker>/ folders
    progress.jsonl  one event a line       negative/       other speech and sounds
    result.json     the worker's answer    hard_negative/  sound-alikes
    worker.log      its readable log       background/     noise mixed under clips
    det.png/.json   the DET curve          rirs/           room impulse responses
    checkpoints/  export/  logs/  profiles/
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

JOB_FILE = "job.json"
PROGRESS_FILE = "progress.jsonl"
RESULT_FILE = "result.json"
LOG_FILE = "worker.log"
DET_PNG = "det.png"
DET_JSON = "det.json"
CHECKPOINT_DIR = "checkpoints"
EXPORT_DIR = "export"
TENSORBOARD_DIR = "logs"
PROFILE_DIR = "profiles"


class Label(StrEnum):
    """What a sample is for: its label in the add-on, its role in training (ingest's Role)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    HARD_NEGATIVE = "hard_negative"
    BACKGROUND = "background"
    RIR = "rir"


# A label's folder in a dataset.
LABEL_DIRS = {str(label): "rirs" if label is Label.RIR else str(label) for label in Label}
LABELS = tuple(str(label) for label in Label)


def dataset_paths(dataset: Path) -> dict[str, str]:
    """The `paths` keys of the configuration for a dataset folder in this layout."""
    return {f"{label}_dir": str(dataset / folder) for label, folder in LABEL_DIRS.items()}


def job_paths(job_dir: Path) -> dict[str, str]:
    """The `paths` keys a job's own outputs go to (checkpoints, the exported model)."""
    return {
        "checkpoint_dir": str(job_dir / CHECKPOINT_DIR),
        "export_dir": str(job_dir / EXPORT_DIR),
    }
