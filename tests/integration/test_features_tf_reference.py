"""compute_features against an independent build of the same frontend: TensorFlow's op.

TensorFlow ships the TFLite-Micro frontend as the `audio_microfrontend` op, compiled
separately from pymicro-features (its own kissfft and compiler). With the device's
settings the two agree exactly on about 99.5-99.95 % of values depending on the clip;
the rest differ by rounding, which near silence is one step of the log table
(0 <-> 133, 133 <-> 177, ...). The thresholds below hold with margin on these clips.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from mww_trainer import constants
from mww_trainer.data.audio import read_audio
from mww_trainer.data.features import compute_features, device_int8, raw_from_features

pytestmark = pytest.mark.integration

RATE = constants.SAMPLE_RATE_HZ
# Raw values below this sit in the sparse low end of the log table, where a one-unit
# difference before the log becomes a jump of tens of raw units after it.
LOW_END_RAW = 400


def tf_reference(samples: np.ndarray) -> np.ndarray:
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op

    out = audio_microfrontend_op.audio_microfrontend(
        tf.constant(samples, dtype=tf.int16),
        sample_rate=RATE,
        window_size=constants.WINDOW_SIZE_MS,
        window_step=constants.WINDOW_STEP_MS,
        num_channels=constants.MEL_BINS,
        upper_band_limit=constants.UPPER_BAND_LIMIT_HZ,
        lower_band_limit=constants.LOWER_BAND_LIMIT_HZ,
        smoothing_bits=10,
        even_smoothing=0.025,
        odd_smoothing=0.06,
        min_signal_remaining=0.05,
        enable_pcan=True,
        pcan_strength=0.95,
        pcan_offset=80.0,
        gain_bits=21,
        enable_log=True,
        scale_shift=6,
        out_scale=1,
        out_type=tf.uint16,
    )
    return out.numpy().astype(np.int64)


def speech_like(duration_s: float, seed: int, level: float, noise: float) -> np.ndarray:
    """Syllables of gliding harmonics shaped by two formants, fricative bursts, pauses, noise."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(duration_s * RATE))
    start = RATE // 5
    while start < out.size - RATE // 10:
        n = min(int(rng.uniform(0.08, 0.3) * RATE), out.size - start)
        if rng.random() < 0.7:
            f0 = rng.uniform(90, 240) * (1 + rng.uniform(-0.2, 0.2) * np.linspace(0, 1, n))
            phase = 2 * np.pi * np.cumsum(f0) / RATE
            formants = rng.uniform([300, 900], [900, 2800])
            seg = np.zeros(n)
            for k in range(1, int(4000 / f0.max())):
                gain = np.exp(-(((k * f0.mean() - formants) / 150.0) ** 2)).sum() + 0.02
                seg += gain / np.sqrt(k) * np.sin(k * phase)
        else:
            seg = np.diff(rng.standard_normal(n + 1))
        seg *= np.hanning(n) * rng.uniform(0.2, 1.0) / (np.abs(seg).max() + 1e-9)
        out[start : start + n] += seg
        start += n + int(rng.uniform(0.0, 0.15) * RATE)
    out = out * level + rng.normal(0, noise, out.size)
    return np.clip(np.rint(out * 32768), -32768, 32767).astype(np.int16)


def agreement(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ours = raw_from_features(compute_features(samples)).astype(np.int64)
    theirs = tf_reference(samples)
    assert ours.shape == theirs.shape
    return ours, theirs


def check_agreement(ours: np.ndarray, theirs: np.ndarray) -> None:
    exact = (ours == theirs).mean()
    int8_exact = (device_int8(ours) == device_int8(theirs)).mean()
    above_low_end = np.minimum(ours, theirs) >= LOW_END_RAW
    max_diff_above = np.abs(ours - theirs)[above_low_end].max(initial=0)
    lit = (ours > 0) | (theirs > 0)
    print(
        f"exact {exact:.5f} (non-zero cells {(ours == theirs)[lit].mean():.5f}), "
        f"device int8 exact {int8_exact:.5f}, max diff at >= {LOW_END_RAW}: {max_diff_above}"
    )
    assert exact >= 0.995
    assert int8_exact >= 0.997
    # Away from the log table's low end, differences are rounding: a few raw units,
    # at most ~2 int8 steps.
    assert max_diff_above <= 8
    # Not a comparison of zeros: noise reduction silences steady noise, yet a good share
    # of the values carries signal.
    assert (theirs > 0).mean() > 0.2


def test_speech_like_audio_matches_tensorflow_frontend() -> None:
    pairs = [
        agreement(speech_like(5.0, seed, level, noise))
        for seed in range(4)
        for level, noise in [(0.3, 0.003), (0.8, 0.001), (0.3, 0.02)]
    ]
    ours = np.concatenate([p[0].ravel() for p in pairs])
    theirs = np.concatenate([p[1].ravel() for p in pairs])
    check_agreement(ours, theirs)


def test_espeak_speech_matches_tensorflow_frontend(tmp_path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "speech.wav"
    text = "Hey computer, turn on the kitchen lights and tell me the weather for tomorrow."
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    samples = read_audio(wav)
    noise = np.random.default_rng(0).normal(0, 60, samples.size)
    noisy = np.clip(samples * 0.8 + noise, -32768, 32767).astype(np.int16)
    check_agreement(*agreement(noisy))
