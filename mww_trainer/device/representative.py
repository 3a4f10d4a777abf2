"""Real feature slices for quantisation calibration, taken from the user's own dataset."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from mww_trainer.config.types import PathsConfig
from mww_trainer.data.features import compute_features_file
from mww_trainer.device.export import DEFAULT_REPRESENTATIVE_SLICES, representative_slices
from mww_trainer.errors import ExportError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FILES_PER_FOLDER = 40


def _audio_files(folder: Path, limit: int, accepted: set[Path] | None) -> list[Path]:
    if not folder.is_dir():
        return []
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and (accepted is None or p.resolve() in accepted)
    )
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def representative_from_dataset(
    paths: PathsConfig,
    max_slices: int = DEFAULT_REPRESENTATIVE_SLICES,
    *,
    accepted: Collection[Path] | None = None,
) -> np.ndarray:
    """Whole positive clips (the wake word drives the output range) and negative stretches.

    The calibration runs the streaming model slice after slice, so each file contributes
    consecutive slices; positives come first and whole, or the head's output range is
    fitted to "no" only and saturates half-way on the device. ``accepted``: the files ingest
    accepted (Clip.path); any other file in the folders is left out, so a file ingest skipped
    as unreadable cannot fail the export after the whole training.
    """
    keep = None if accepted is None else {Path(p).resolve() for p in accepted}
    positives = _audio_files(Path(paths.positive_dir), FILES_PER_FOLDER, keep)
    others = _audio_files(Path(paths.negative_dir), FILES_PER_FOLDER // 2, keep)
    others += _audio_files(Path(paths.hard_negative_dir), FILES_PER_FOLDER // 2, keep)
    if not positives:
        raise ExportError(
            f"no audio found in {paths.positive_dir}: quantisation needs real wake-word "
            "features; point paths.positive_dir at the clips the model was trained on"
        )
    budget_per_negative = max(30, max_slices // (2 * max(1, len(others))) * 3)
    sequences = [compute_features_file(f) for f in positives]
    sequences += [compute_features_file(f)[:budget_per_negative] for f in others]
    half = max_slices // 2
    pos_slices = representative_slices(sequences[: len(positives)], max_slices=half)
    if len(others) == 0:
        return pos_slices
    rest = representative_slices(sequences[len(positives) :], max_slices=max_slices - half)
    return np.concatenate([pos_slices, rest])
