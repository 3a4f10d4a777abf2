"""The device frontend wrapper: frame counts, input types, streaming and the int8 rules."""

from __future__ import annotations

import numpy as np
import pytest

from mww_trainer import constants
from mww_trainer.config.types import frames_for_samples
from mww_trainer.data.audio import write_wav
from mww_trainer.data.features import (
    FeatureStream,
    compute_features,
    compute_features_file,
    device_int8,
    features_to_device_int8,
    nominal_int8,
    raw_from_features,
)

RATE = constants.SAMPLE_RATE_HZ


def tones_and_noise(duration_s: float, seed: int = 0) -> np.ndarray:
    """Two tones with a slow swell over background noise: every channel has energy."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * RATE)) / RATE
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t)
    x = 0.3 * swell * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 2100 * t)
    x += rng.normal(0, 0.02, t.size)
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return tones_and_noise(3.0)


@pytest.mark.parametrize("n_samples", [0, 1, 479, 480, 481, 639, 640, 16000, 16159, 16160])
def test_frame_count_follows_the_device_formula(n_samples: int) -> None:
    samples = tones_and_noise(1.1)[:n_samples]
    features = compute_features(samples)
    expected = 1 + (n_samples - 480) // 160 if n_samples >= 480 else 0
    assert features.shape == (expected, constants.MEL_BINS)
    assert features.shape[0] == frames_for_samples(n_samples)
    assert features.dtype == np.float32


def test_one_second_gives_98_frames() -> None:
    assert compute_features(np.zeros(RATE, dtype=np.int16)).shape == (98, 40)


def test_features_are_the_frontend_uint16_over_25_6(clip: np.ndarray) -> None:
    features = compute_features(clip)
    raw = raw_from_features(features)
    assert np.array_equal((raw / constants.FEATURE_SCALE).astype(np.float32), features)
    # Noise at first lights every channel (later the noise reduction learns and removes
    # it): a frontend that silently produced zeros would pass the check above.
    assert (raw > 0).any(axis=0).all()
    assert raw.max() > 300


def test_float_input_equals_int16_input(clip: np.ndarray) -> None:
    as_float = clip.astype(np.float32) / 32768.0
    assert np.array_equal(compute_features(as_float), compute_features(clip))


def test_each_call_starts_from_a_fresh_frontend(clip: np.ndarray) -> None:
    first = compute_features(clip)
    assert np.array_equal(compute_features(clip), first)
    # The frontend's noise estimate and gain control carry history: the same second of
    # audio yields different features after two seconds of other audio than after boot.
    tail = clip[2 * RATE :]
    after_history = first[-frames_for_samples(tail.size) :]
    assert not np.array_equal(after_history, compute_features(tail))


def test_stream_in_random_chunks_equals_whole(clip: np.ndarray) -> None:
    expected = compute_features(clip)
    rng = np.random.default_rng(7)
    for _ in range(5):
        stream = FeatureStream()
        rows, pos = [], 0
        while pos < clip.size:
            size = int(rng.choice([0, 1, 7, 159, 160, 161, 479, 480, 1000, 4096]))
            rows.append(stream.push(clip[pos : pos + size]))
            pos += size
        got = np.concatenate(rows)
        assert np.array_equal(got, expected)


def test_stream_accepts_float_chunks_and_resets(clip: np.ndarray) -> None:
    stream = FeatureStream()
    as_float = clip.astype(np.float64) / 32768.0
    first = np.concatenate([stream.push(as_float[:1234]), stream.push(as_float[1234:])])
    assert np.array_equal(first, compute_features(clip))
    stream.reset()
    assert np.array_equal(stream.push(clip), compute_features(clip))


def test_stream_rejects_multichannel_input() -> None:
    with pytest.raises(ValueError, match="mono"):
        FeatureStream().push(np.zeros((800, 2), dtype=np.int16))


def test_compute_features_file_matches_array(tmp_path, clip: np.ndarray) -> None:
    path = tmp_path / "clip.wav"
    write_wav(path, clip)
    assert np.array_equal(compute_features_file(path), compute_features(clip))


# Each value worked out by hand from clamp((raw * 256 + 333) // 666 - 128, -128, 127):
#   0:     333 // 666 = 0                       -> -128
#   1:     589 // 666 = 0                       -> -128
#   2:     845 // 666 = 1                       -> -127
#   100:   25933 // 666 = 38  (666*38 = 25308)  -> -90
#   330:   84813 // 666 = 127 (666*127 = 84582) -> -1
#   333:   85581 // 666 = 128 (666*128 = 85248) -> 0
#   661:   169549 // 666 = 254 (666*254 = 169164) -> 126
#   663:   170061 // 666 = 255 (666*255 = 169830) -> 127
#   666:   170829 // 666 = 256                  -> 128, clamped to 127
#   65535: far above                            -> 127
HAND_COMPUTED = {0: -128, 1: -128, 2: -127, 100: -90, 330: -1, 333: 0, 661: 126, 663: 127}
HAND_COMPUTED |= {666: 127, 65535: 127}


def test_device_int8_matches_hand_computed_values() -> None:
    raw = np.array(list(HAND_COMPUTED), dtype=np.uint16)
    got = device_int8(raw)
    assert got.dtype == np.int8
    assert got.tolist() == list(HAND_COMPUTED.values())


def test_device_int8_rejects_floats_and_out_of_range() -> None:
    with pytest.raises(TypeError):
        device_int8(np.array([1.5]))
    with pytest.raises(ValueError):
        device_int8(np.array([-1, 5]))
    with pytest.raises(ValueError):
        device_int8(np.array([70000]))


def test_raw_from_features_inverts_the_division_for_every_uint16() -> None:
    raw = np.arange(2**16, dtype=np.uint16)
    features = (raw / constants.FEATURE_SCALE).astype(np.float32)
    assert np.array_equal(raw_from_features(features), raw)
    assert np.array_equal(features_to_device_int8(features), device_int8(raw))


def test_nominal_rule_differs_from_device_by_at_most_one_step() -> None:
    # 0..700 covers the whole int8 range (663 is the first raw value mapped to 127).
    raw = np.arange(701, dtype=np.uint16)
    device = device_int8(raw).astype(int)
    nominal = nominal_int8(raw / constants.FEATURE_SCALE).astype(int)
    diff = device - nominal
    assert (diff != 0).any()
    assert np.abs(diff).max() == 1
    # Hand check of one such value: raw 30 -> device (7680 + 333) // 666 = 12 -> -116;
    # nominal round(30 / 25.6 / (26 / 255)) = round(11.49) = 11 -> -117.
    assert device[30] == -116
    assert nominal[30] == -117


def test_nominal_and_device_agree_mostly_on_real_features(clip: np.ndarray) -> None:
    features = compute_features(clip)
    diff = features_to_device_int8(features).astype(int) - nominal_int8(features).astype(int)
    assert np.abs(diff).max() <= 1
    assert 0 < (diff != 0).mean() < 0.6
