"""The device's audio frontend and its int8 rule.

Features come from the TFLite-Micro audio frontend (window 30 ms, step 10 ms, 40 mel bins,
noise reduction, PCAN and log scale on) through pymicro-features, the same C code ESPHome
runs. The frontend keeps state (noise estimate, gain control), so a feature depends on all
the audio before it: every computation starts from a fresh frontend, as the device after boot.
"""

from __future__ import annotations

import os

import numpy as np
from micro_features_cpp import create_frontend, process_samples, reset_frontend

from mww_trainer import constants
from mww_trainer.data.audio import read_audio, to_int16

_HOP = constants.WINDOW_STEP_SAMPLES
# The wrapper feeds the frontend one hop per call; until a whole window has arrived the
# frontend returns nothing, so the first hops of a fresh frontend give no frame.
_WARMUP_HOPS = constants.WINDOW_SIZE_SAMPLES // _HOP - 1
_RAW_MAX = np.iinfo(np.uint16).max
_INT8_MIN, _INT8_MAX = -128, 127


class FeatureStream:
    """Incremental features: any split of the audio into chunks gives the same rows."""

    def __init__(self) -> None:
        self._frontend = create_frontend()
        self._pending = np.empty(0, dtype=np.int16)
        self._hops_done = 0

    def reset(self) -> None:
        """Back to a fresh frontend, as after a device boot."""
        reset_frontend(self._frontend)
        self._pending = np.empty(0, dtype=np.int16)
        self._hops_done = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed int16 (or float in [-1, 1]) samples; return the new rows, float32 [n, 40]."""
        new = _as_mono_int16(samples)
        buf = np.concatenate((self._pending, new)) if self._pending.size else new
        n_hops = buf.size // _HOP
        hops = np.ascontiguousarray(buf[: n_hops * _HOP]).reshape(n_hops, _HOP)
        # Copy: a view would pin the caller's whole array until the next push.
        self._pending = buf[n_hops * _HOP :].copy()
        return self._run_hops(hops)

    def _run_hops(self, hops: np.ndarray) -> np.ndarray:
        frontend = self._frontend
        warmup = min(len(hops), max(0, _WARMUP_HOPS - self._hops_done))
        for hop in hops[:warmup]:
            if process_samples(frontend, hop)[0]:
                raise RuntimeError("the audio frontend produced a frame before a full window")
        # Filling a preallocated array row by row is the fastest path measured (about 10 %
        # faster than collecting lists): the per-hop call into C dominates the cost.
        out = np.empty((len(hops) - warmup, constants.MEL_BINS), dtype=np.float32)
        for row, hop in enumerate(hops[warmup:]):
            out[row] = process_samples(frontend, hop)[0]
        self._hops_done += len(hops)
        return out


def compute_features(samples: np.ndarray) -> np.ndarray:
    """Features of a whole clip from a fresh frontend: float32 [frames, 40].

    frames = 1 + (N - 480) // 160 for N >= 480 samples, else 0. Values are the
    frontend's uint16 output divided by 25.6 (see raw_from_features).
    """
    return FeatureStream().push(samples)


def compute_features_file(path: str | os.PathLike) -> np.ndarray:
    """Features of an audio file in any format read_audio accepts."""
    return compute_features(read_audio(path))


def raw_from_features(features: np.ndarray) -> np.ndarray:
    """The frontend's uint16 values back from float features (exact inverse of the / 25.6)."""
    scaled = np.rint(np.asarray(features, dtype=np.float64) * constants.FEATURE_SCALE)
    return np.clip(scaled, 0, _RAW_MAX).astype(np.uint16)


def device_int8(raw: np.ndarray) -> np.ndarray:
    """The device's int8 model input from uint16 frontend values, in integer arithmetic.

    clamp((raw * 256 + 333) // 666 - 128, -128, 127); raw is never negative, so floor
    division equals the C code's truncating division.
    """
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.integer):
        raise TypeError(f"device_int8 takes integer frontend values, got {raw.dtype}")
    if raw.size and (raw.min() < 0 or raw.max() > _RAW_MAX):
        raise ValueError("frontend values must lie in the uint16 range")
    quantised = (raw.astype(np.int64) * 256 + 333) // 666 + constants.INPUT_ZERO_POINT
    return np.clip(quantised, _INT8_MIN, _INT8_MAX).astype(np.int8)


def features_to_device_int8(features: np.ndarray) -> np.ndarray:
    """int8 model input exactly as the device computes it from these float features."""
    return device_int8(raw_from_features(features))


def nominal_int8(features: np.ndarray) -> np.ndarray:
    """The model's nominal input quantisation (scale 26/255, zero point -128).

    It differs from device_int8 by one step on a few percent of values; evaluate with
    device_int8.
    """
    scaled = np.rint(np.asarray(features, dtype=np.float64) / constants.INPUT_SCALE)
    return np.clip(scaled + constants.INPUT_ZERO_POINT, _INT8_MIN, _INT8_MAX).astype(np.int8)


def _as_mono_int16(samples: np.ndarray) -> np.ndarray:
    samples = to_int16(samples)
    if samples.ndim != 1:
        raise ValueError(f"features need mono samples (1-D), got shape {samples.shape}")
    return samples
