"""SpecAugment: time and frequency masks over a feature batch [batch, frames, mel_bins].

Written once against an array namespace `xp`: NumPy on the CPU, CuPy on a GPU. Mask starts
and widths are drawn on the host with NumPy (a few hundred integers per batch) and built on
the device by broadcasting, so a seed gives the same masks on either backend and no Python
loop runs over the batch. Masked values become 0, the frontend's floor.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from mww_trainer.config.types import TrainingConfig


@dataclass(frozen=True)
class SpecAugmentSettings:
    """One training phase's mask sizes and counts (the config holds one value per phase)."""

    time_mask_max_size: int
    time_mask_count: int
    freq_mask_max_size: int
    freq_mask_count: int

    @classmethod
    def for_phase(cls, training: TrainingConfig, phase: int) -> SpecAugmentSettings:
        return cls(
            time_mask_max_size=training.time_mask_max_size[phase],
            time_mask_count=training.time_mask_count[phase],
            freq_mask_max_size=training.freq_mask_max_size[phase],
            freq_mask_count=training.freq_mask_count[phase],
        )

    @property
    def is_identity(self) -> bool:
        time_off = self.time_mask_max_size == 0 or self.time_mask_count == 0
        freq_off = self.freq_mask_max_size == 0 or self.freq_mask_count == 0
        return time_off and freq_off

    def apply(
        self, batch: Any, rng_or_seed: int | np.random.Generator, xp: ModuleType | None = None
    ) -> Any:
        return spec_augment(
            batch,
            time_mask_max_size=self.time_mask_max_size,
            time_mask_count=self.time_mask_count,
            freq_mask_max_size=self.freq_mask_max_size,
            freq_mask_count=self.freq_mask_count,
            rng_or_seed=rng_or_seed,
            xp=xp,
        )


def array_backend(prefer_gpu: bool = True) -> ModuleType:
    """CuPy when it is installed (the `gpu` extra) and sees a CUDA device, else NumPy."""
    if not prefer_gpu:
        return np
    try:
        import cupy
    except ImportError:
        return np
    try:
        has_device = cupy.cuda.runtime.getDeviceCount() > 0
    except RuntimeError:  # CUDARuntimeError: no driver or no device
        has_device = False
    return cupy if has_device else np


def spec_augment(
    batch: Any,
    *,
    time_mask_max_size: int,
    time_mask_count: int,
    freq_mask_max_size: int,
    freq_mask_count: int,
    rng_or_seed: int | np.random.Generator,
    xp: ModuleType | None = None,
) -> Any:
    """A masked copy of batch [batch, frames, bins]; the input itself when no mask is asked for.

    Each example gets `time_mask_count` masks over frames and `freq_mask_count` over bins,
    each of a width drawn uniformly from [0, max_size] at a uniform start; masks may overlap.
    `xp` defaults to the namespace of `batch` (CuPy for a CuPy array, else NumPy).
    """
    for name, value in (
        ("time_mask_max_size", time_mask_max_size),
        ("time_mask_count", time_mask_count),
        ("freq_mask_max_size", freq_mask_max_size),
        ("freq_mask_count", freq_mask_count),
    ):
        if value < 0:
            raise ValueError(f"{name}: {value} is not allowed (a non-negative integer)")
    if batch.ndim != 3:
        raise ValueError(f"spec_augment takes [batch, frames, bins], got shape {batch.shape}")
    time_on = time_mask_max_size > 0 and time_mask_count > 0
    freq_on = freq_mask_max_size > 0 and freq_mask_count > 0
    if not (time_on or freq_on):
        return batch
    xp = _namespace_of(batch) if xp is None else xp
    rng = np.random.default_rng(rng_or_seed)
    size, frames, bins = batch.shape
    masked = xp.zeros((size, frames, bins), dtype=bool)
    if time_on:
        masked |= _band_mask(xp, rng, size, frames, time_mask_max_size, time_mask_count)[:, :, None]
    if freq_on:
        masked |= _band_mask(xp, rng, size, bins, freq_mask_max_size, freq_mask_count)[:, None, :]
    return xp.where(masked, xp.zeros((), dtype=batch.dtype), batch)


def _band_mask(
    xp: ModuleType,
    rng: np.random.Generator,
    size: int,
    length: int,
    max_width: int,
    count: int,
) -> Any:
    """[size, length] booleans: `count` random runs of width 0..max_width per row."""
    widths = np.minimum(rng.integers(0, max_width + 1, size=(size, count)), length)
    starts = (rng.random((size, count)) * (length - widths + 1)).astype(np.int64)
    positions = xp.arange(length)[None, None, :]
    first = xp.asarray(starts)[:, :, None]
    stop = first + xp.asarray(widths)[:, :, None]
    return ((positions >= first) & (positions < stop)).any(axis=1)


def _namespace_of(batch: Any) -> ModuleType:
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(batch, cupy.ndarray):
        return cupy
    return np
