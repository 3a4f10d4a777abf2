"""Real feature slices for quantisation calibration, taken from the user's own dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mww_trainer.config.types import PathsConfig
from mww_trainer.errors import ExportError
from mww_trainer.export import DEFAULT_REPRESENTATIVE_SLICES, representative_slices
from mww_trainer.features import compute_features_file

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FILES_PER_FOLDER = 40


def _audio_files(folder: Path, limit: int) -> list[Path]:
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def representative_from_dataset(
    paths: PathsConfig, max_slices: int = DEFAULT_REPRESENTATIVE_SLICES
) -> np.ndarray:
    """Whole positive clips (the wake word drives the output range) and negative stretches.

    The calibration runs the streaming model slice after slice, so each file contributes
    consecutive slices; positives come first and whole, or the head's output range is
    fitted to "no" only and saturates half-way on the device.
    """
    positives = _audio_files(Path(paths.positive_dir), FILES_PER_FOLDER)
    others = _audio_files(Path(paths.negative_dir), FILES_PER_FOLDER // 2)
    others += _audio_files(Path(paths.hard_negative_dir), FILES_PER_FOLDER // 2)
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
