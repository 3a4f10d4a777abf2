"""The device's detection rule, checked against streams worked out by hand."""

import numpy as np
import pytest

from mww_trainer.evaluation.detection import (
    cutoff_to_u8,
    detect,
    detect_reference,
    quantize_probabilities,
    window_sums,
)


def test_cutoff_is_truncated_like_the_device():
    assert cutoff_to_u8(0.97) == 247
    assert cutoff_to_u8(0.5) == 127
    assert cutoff_to_u8(0.999) == 254


def test_output_quantisation_matches_the_uint8_tensor():
    assert quantize_probabilities(np.array([0.0, 0.5, 0.99, 1.0])).tolist() == [0, 128, 253, 255]


def test_window_sums_start_from_an_empty_ring():
    assert window_sums(np.array([10, 20, 30, 40]), 3).tolist() == [10, 30, 60, 90]


# Window 3, cutoff 200: fires when the last three outputs sum to more than 600.
HAND_STREAM = [0, 250, 250, 250, 250, 250, 0, 0, 0, 250, 250, 250]


def test_fires_when_the_mean_is_strictly_above_the_cutoff():
    # Sums: slice 3 -> 750 > 600 fires (slices 1-2 sum to 500 and 750 is reached at index 3).
    assert detect(HAND_STREAM, cutoff_u8=200, window=3).tolist() == [3]


def test_equal_to_the_cutoff_does_not_fire():
    stream = [200, 200, 200, 200]
    assert detect(stream, cutoff_u8=200, window=3).tolist() == []
    assert detect(stream, cutoff_u8=199, window=3).tolist() == [2]


def test_cool_down_counts_only_outputs_below_the_cutoff():
    # After the hit at 3, a cool-down of 4 needs four below-cutoff outputs: slices 6, 7, 8
    # and then none until 12+; slices 9-11 are above the cutoff and do not count.
    stream = [*HAND_STREAM, 0, 250, 250, 250]
    fired = detect(stream, cutoff_u8=200, window=3, cooldown=4)
    assert fired.tolist() == [3, 15]
    assert detect_reference(stream, cutoff_u8=200, window=3, cooldown=4) == [3, 15]


def test_after_a_model_load_the_first_slices_are_ignored():
    stream = [250] * 5 + [0] * 3 + [250] * 3
    assert detect(stream, cutoff_u8=200, window=3, initial_cooldown=3).tolist() == [10]


@pytest.mark.parametrize("seed", range(20))
def test_fast_rule_equals_the_line_by_line_model(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    out = rng.integers(0, 180, n)
    bursts = rng.random(n) < 0.03
    out[bursts] = rng.integers(200, 256, int(bursts.sum()))
    cutoff, window = int(rng.integers(120, 250)), int(rng.integers(1, 8))
    initial = int(rng.choice([0, 100]))
    fast = detect(out, cutoff_u8=cutoff, window=window, initial_cooldown=initial).tolist()
    slow = detect_reference(out, cutoff_u8=cutoff, window=window, initial_cooldown=initial)
    assert fast == slow
