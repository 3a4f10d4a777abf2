"""Three sensitivity levels measured on a sweep, in a sidecar beside the manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mww_trainer.device.sensitivity import (
    MODERATELY,
    SIDECAR_NAME,
    SLIGHTLY,
    VERY,
    Sensitivity,
    measure_levels,
    read_sidecar,
    write_sidecar,
)
from mww_trainer.errors import MwwError
from mww_trainer.evaluation.sweep import sweep


def stream(peaks: list[int], length: int = 400) -> np.ndarray:
    """Per-slice uint8 outputs: quiet, with a 10-slice bump of each height after the cooldown."""
    out = np.zeros(length, np.uint8)
    for i, peak in enumerate(peaks):
        start = 120 + i * 130
        out[start : start + 10] = peak
    return out


@pytest.fixture
def measured():
    # Wake words peak between 150 and 250; an hour of other speech holds bumps up to 230.
    positives = [stream([p]) for p in range(150, 250, 5)]
    hour = 3600 / 0.03  # slices
    ambient = [stream([230, 200, 180, 170]), np.zeros(int(hour) - 400, np.uint8)]
    hard = [stream([p]) for p in (120, 160, 210)]
    result = sweep(positives, ambient, window=5, hard_negatives=hard)
    on = {"split": "val", "positives": 20, "hard_negatives": 3, "ambient_hours": 1.0}
    return measure_levels(result, 0.85, on, model="hey_computer.tflite")


def test_three_levels_of_increasing_cutoff_around_the_models_own(measured: Sensitivity):
    very, moderately, slightly = measured.levels
    assert [lv.name for lv in measured.levels] == [VERY, MODERATELY, SLIGHTLY]
    assert very.cutoff_u8 < moderately.cutoff_u8 < slightly.cutoff_u8
    assert (moderately.cutoff, moderately.cutoff_u8, measured.default) == (0.85, 216, MODERATELY)
    # Each level keeps to its false-wake budget, and the more sensitive one hears more.
    assert slightly.fa_per_hour <= 0.1 and very.fa_per_hour <= 1.0
    assert very.recall > moderately.recall > slightly.recall
    assert slightly.cutoff_u8 >= 230  # above the loudest false wake


def test_the_sidecar_round_trips_and_belongs_to_its_model(measured: Sensitivity, tmp_path):
    path = write_sidecar(measured, tmp_path)
    assert path.name == SIDECAR_NAME
    data = json.loads(path.read_text())
    cutoffs = [level["cutoff"] for level in data["levels"]]
    assert cutoffs == sorted(cutoffs) and len(set(cutoffs)) == 3
    assert read_sidecar(tmp_path / "manifest.json", "hey_computer.tflite") == measured
    assert read_sidecar(tmp_path / "manifest.json", "other.tflite") is None
    assert read_sidecar(tmp_path / "elsewhere" / "manifest.json", "hey_computer.tflite") is None


def test_a_damaged_sidecar_is_an_error(measured: Sensitivity, tmp_path):
    data = measured.to_dict()
    data["levels"].reverse()
    (tmp_path / SIDECAR_NAME).write_text(json.dumps(data))
    with pytest.raises(MwwError, match="three levels of increasing cutoffs"):
        read_sidecar(tmp_path / "manifest.json", "hey_computer.tflite")
