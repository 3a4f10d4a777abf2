"""Waveform augmentation throughput on one CPU core, per preset.

    .venv/bin/python bench/augment_speed.py [--clips 1000] [--repeats 3]

Clips are 1.6-3.2 s of generated speech-like audio; background is 10 one-minute noise clips
and impulse responses are 20 decaying noise bursts of 0.2-0.8 s. A preset's probabilities
(standard, max_quality) decide which transforms run. Also prints each transform alone at
probability 1, to see where the time goes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import numpy as np

from mww_trainer import constants
from mww_trainer.config.loader import load_preset
from mww_trainer.config.types import AugmentationConfig
from mww_trainer.data.augment import TRANSFORMS, Augmenter

RATE = constants.SAMPLE_RATE_HZ


def int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def make_clips(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    clips = []
    for _ in range(count):
        t = np.arange(round(rng.uniform(1.6, 3.2) * RATE)) / RATE
        f0 = rng.uniform(100, 250)
        x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        x *= 0.15 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
        clips.append(int16(x + rng.normal(0, 0.01, t.size)))
    return clips


def make_impulses(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for _ in range(count):
        n = round(rng.uniform(0.2, 0.8) * RATE)
        decay = np.exp(-np.arange(n) / (rng.uniform(0.03, 0.15) * RATE))
        out.append(int16(0.5 * rng.standard_normal(n) * decay))
    return out


def measure(name: str, cfg: AugmentationConfig, data: dict, repeats: int) -> None:
    aug = Augmenter.from_config(cfg, background=data["bg"], impulses=data["ir"], seed=0)
    clips = data["clips"]
    for clip in clips[:20]:  # warm-up: imports, filter design caches, allocator
        aug.augment(clip)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for clip in clips:
            aug.augment(clip)
        times.append(time.perf_counter() - start)
    best = len(clips) / min(times)
    median = len(clips) / statistics.median(times)
    print(f"{name:<30} {median:8.0f} clips/s (best {best:6.0f})  {1e3 / median:6.2f} ms/clip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rng = np.random.default_rng(0)
    data = {
        "clips": make_clips(args.clips, rng),
        "bg": [int16(0.1 * rng.standard_normal(60 * RATE)) for _ in range(10)],
        "ir": make_impulses(20, rng),
    }
    print(f"{args.clips} clips of 1.6-3.2 s, 3.2 s windows, one core, median of {args.repeats}:")
    for preset in ("standard", "max_quality"):
        measure(preset, load_preset(preset).augmentation, data, args.repeats)
    off = dataclasses.replace(
        load_preset("standard").augmentation, **dict.fromkeys(TRANSFORMS, 0.0)
    )
    measure("placement only", off, data, args.repeats)
    for name in TRANSFORMS:
        measure(f"  {name} p=1", dataclasses.replace(off, **{name: 1.0}), data, args.repeats)


if __name__ == "__main__":
    main()
