"""Real feature slices for quantisation calibration, taken from the user's own dataset.

They come from the clips ingest accepted, through the feature cache training filled: a file
ingest skipped (unreadable, too short) can never fail the export after the whole training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mww_trainer.data.feature_cache import FeatureCache
from mww_trainer.data.ingest import Clip, Dataset, Role
from mww_trainer.device.export import DEFAULT_REPRESENTATIVE_SLICES, representative_slices
from mww_trainer.errors import ExportError

CLIPS_PER_ROLE = 40


def _spread(clips: Sequence[Clip], limit: int) -> list[Clip]:
    """Up to ``limit`` clips spread evenly over the sorted list (every speaker, not the first)."""
    ordered = sorted(clips, key=lambda clip: clip.relpath)
    step = max(1, len(ordered) // limit)
    return ordered[::step][:limit]


def representative_from_dataset(
    dataset: Dataset, cache: FeatureCache, max_slices: int = DEFAULT_REPRESENTATIVE_SLICES
) -> np.ndarray:
    """Whole positive clips (the wake word drives the output range) and negative stretches.

    The calibration runs the streaming model slice after slice, so each file contributes
    consecutive slices; positives come first and whole, or the head's output range is
    fitted to "no" only and saturates half-way on the device.
    """
    positives = _spread(dataset.select(Role.POSITIVE), CLIPS_PER_ROLE)
    others = _spread(dataset.select(Role.NEGATIVE), CLIPS_PER_ROLE // 2)
    others += _spread(dataset.select(Role.HARD_NEGATIVE), CLIPS_PER_ROLE // 2)
    if not positives:
        raise ExportError(
            "no wake-word clips were accepted: quantisation needs real wake-word features; "
            "point paths.positive_dir at the clips the model was trained on"
        )
    budget_per_negative = max(30, max_slices // (2 * max(1, len(others))) * 3)
    half = max_slices // 2
    pos_slices = representative_slices(
        [cache.features(clip) for clip in positives], max_slices=half
    )
    if not others:
        return pos_slices
    sequences = [cache.features(clip)[:budget_per_negative] for clip in others]
    rest = representative_slices(sequences, max_slices=max_slices - half)
    return np.concatenate([pos_slices, rest])
