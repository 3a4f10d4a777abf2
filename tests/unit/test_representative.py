"""Quantisation calibration reads only the clips ingest accepted."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.config import load_preset
from mww_trainer.data.ingest import Limits, ingest
from mww_trainer.device.representative import representative_from_dataset
from mww_trainer.errors import AudioError
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

    slices = representative_from_dataset(paths, accepted=accepted)
    assert slices.ndim == 3 and len(slices) > 0
    with pytest.raises(AudioError, match=r"broken\.wav"):  # what the export met after training
        representative_from_dataset(paths)
