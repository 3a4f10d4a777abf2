"""Sensitivity levels as an evaluation measures them, for tests that need a sidecar."""

from __future__ import annotations

from mww_trainer.device.sensitivity import MODERATELY, SLIGHTLY, VERY, Level, Sensitivity

NAMES = (VERY, MODERATELY, SLIGHTLY)  # increasing cutoffs


def measured_levels(
    model: str,
    cutoffs_u8: tuple[int, int, int],
    recalls: tuple[float, float, float] = (0.9, 0.9, 0.9),
    fa_per_hour: tuple[float, float, float] = (0.2, 0.2, 0.2),
) -> Sensitivity:
    """Very, Moderately (the default) and Slightly sensitive at these uint8 cutoffs."""
    levels = tuple(
        Level(name, None, round((c + 0.5) / 255, 4), c, recall, fa, 0.1)
        for name, c, recall, fa in zip(NAMES, cutoffs_u8, recalls, fa_per_hour, strict=True)
    )
    return Sensitivity(levels, MODERATELY, {"split": "val"}, model)
