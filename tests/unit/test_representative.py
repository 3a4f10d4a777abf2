"""Quantisation calibration reads only the clips ingest accepted."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.config import load_preset
from mww_trainer.data.feature_cache import FeatureCache
from mww_trainer.data.ingest import Limits, Role, ingest
from mww_trainer.device.representative import representative_from_dataset
from mww_trainer.errors import ExportError
from tests.fakes.dataset_paths import paths_for

RATE = 16000


def _write(path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.3 * np.sin(2 * np.pi * (300 + 50 * seed) * t)
    noise = 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    sf.write(path, tone + noise, RATE, subtype="PCM_16")


def test_a_file_ingest_skipped_cannot_fail_the_export(tmp_path):
    config = load_preset("fast_test")
    data = tmp_path / "dataset"
    paths = paths_for(data)
    for n in range(6):
        _write(data / "positive" / f"speaker{n % 2}" / f"take{n}.wav", 1.0, n)
        _write(data / "negative" / f"talk{n}.wav", 3.0, 10 + n)
    broken = data / "positive" / "speaker0" / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64)))
    dataset = ingest(
        paths,
        split_file=tmp_path / "processed" / "split.json",
        limits=Limits.from_hardware(config.hardware),
    )
    accepted = [clip.path for clip in dataset.select(role=None)]
    assert broken not in accepted and len(accepted) == 12

    cache = FeatureCache(tmp_path / "processed" / "features")
    slices = representative_from_dataset(dataset, cache)  # the broken file is never read
    assert slices.ndim == 3 and slices.shape[1:] == (3, 40) and len(slices) > 0


def test_calibration_without_wake_words_says_what_is_missing(tmp_path):
    config = load_preset("fast_test")
    data = tmp_path / "dataset"
    for n in range(3):
        _write(data / "negative" / f"talk{n}.wav", 3.0, n)
    (data / "positive").mkdir()  # there, but empty
    dataset = ingest(
        paths_for(data),
        split_file=tmp_path / "split.json",
        limits=Limits.from_hardware(config.hardware),
    )
    assert not dataset.select(Role.POSITIVE)
    with pytest.raises(ExportError, match="no wake-word clips"):
        representative_from_dataset(dataset, FeatureCache(tmp_path / "features"))
