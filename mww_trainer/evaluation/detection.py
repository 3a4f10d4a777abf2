"""Wake-word detection exactly as ESPHome's micro_wake_word decides it (see the contract §2).

Per inference (one slice = 3 feature frames = 30 ms) the device stores the uint8
output in a ring of `window` values. An output below the cutoff moves a cool-down
counter towards zero; while the counter is negative nothing fires. It fires when
the ring's sum is strictly above `cutoff_u8 * window`, then clears the ring and
restarts the cool-down at -100 slices. Cutoffs are compared as `int(p * 255)`.
"""

from __future__ import annotations

import numpy as np

from mww_trainer import constants

SLICE_S = constants.STREAM_STRIDE_FRAMES * constants.WINDOW_STEP_MS / 1000.0
# The highest uint8 cutoff a manifest can hold: probability_cutoff must stay below 1, and
# (254 + 0.5) / 255 is the last value under it. 255 could never fire anyway (the ring's sum
# would have to exceed 255 * window).
MAX_CUTOFF_U8 = 254


def cutoff_to_u8(cutoff: float) -> int:
    """The device truncates: 0.97 -> 247."""
    return int(cutoff * 255)


def quantize_probabilities(p: np.ndarray) -> np.ndarray:
    """Float probabilities as the model's uint8 output (scale 1/256, zero point 0)."""
    return np.clip(np.round(np.asarray(p, dtype=np.float64) * 256.0), 0, 255).astype(np.uint8)


def window_sums(outputs_u8: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last `window` outputs at each slice; the ring starts as zeros."""
    values = np.asarray(outputs_u8, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(values)])
    start = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return csum[1:] - csum[start]


def detect(
    outputs_u8: np.ndarray,
    *,
    cutoff_u8: int,
    window: int,
    initial_cooldown: int = 0,
    cooldown: int = constants.IGNORE_SLICES_AFTER_DETECTION,
) -> np.ndarray:
    """Slice indices at which the device would fire.

    `initial_cooldown` is 100 right after a model load and 0 for a device that has
    been listening for a while (how an evaluation clip should be scored).
    """
    if window > cooldown:
        # The cleared ring would matter after a hit; only the slow model handles that.
        return np.asarray(
            detect_reference(
                outputs_u8,
                cutoff_u8=cutoff_u8,
                window=window,
                initial_cooldown=initial_cooldown,
                cooldown=cooldown,
            ),
            dtype=np.int64,
        )
    outputs = np.asarray(outputs_u8, dtype=np.int64)
    below = np.cumsum(outputs < cutoff_u8)
    candidates = np.flatnonzero(window_sums(outputs, window) > cutoff_u8 * window)
    found: list[int] = []
    need_below, after = initial_cooldown, -1
    while True:
        # The cool-down ends at the slice where `need_below` below-cutoff outputs have been
        # seen since `after`. The ring cleared at a hit holds only zeros and post-hit outputs,
        # but the cool-down (>= window slices) outlasts that, so plain window sums are exact.
        base = below[after] if after >= 0 else 0
        earliest = int(np.searchsorted(below, base + need_below)) if need_below else after + 1
        pos = int(np.searchsorted(candidates, max(earliest, after + 1)))
        if pos >= len(candidates):
            return np.asarray(found, dtype=np.int64)
        after = int(candidates[pos])
        found.append(after)
        need_below = cooldown


def detect_reference(
    outputs_u8,
    *,
    cutoff_u8: int,
    window: int,
    initial_cooldown: int = 0,
    cooldown: int = constants.IGNORE_SLICES_AFTER_DETECTION,
) -> list[int]:
    """A line-by-line model of the device loop: slow, obvious, and the test oracle for `detect`."""
    device = DeviceDetector(
        cutoff_u8=cutoff_u8, window=window, initial_cooldown=initial_cooldown, cooldown=cooldown
    )
    return [index for index, value in enumerate(outputs_u8) if device.step(int(value))]


class DeviceDetector:
    """The device's loop one output at a time: what a live stream is decided with."""

    def __init__(
        self,
        *,
        cutoff_u8: int,
        window: int,
        initial_cooldown: int = constants.IGNORE_SLICES_AFTER_DETECTION,
        cooldown: int = constants.IGNORE_SLICES_AFTER_DETECTION,
    ) -> None:
        self.cutoff_u8, self.window, self.cooldown = cutoff_u8, window, cooldown
        self._ring = [0] * window
        self._index = 0
        self._ignore = -initial_cooldown

    def step(self, value: int) -> bool:
        """Takes the next uint8 output; True when the device fires on it."""
        self._ring[self._index % self.window] = value
        self._index += 1
        if value < self.cutoff_u8:
            self._ignore = min(self._ignore + 1, 0)
        if self._ignore < 0:
            return False
        if sum(self._ring) > self.cutoff_u8 * self.window:
            self._ring = [0] * self.window
            self._ignore = -self.cooldown
            return True
        return False
