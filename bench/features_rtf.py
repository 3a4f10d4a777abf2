"""Realtime factor of the feature frontend on one CPU core.

    .venv/bin/python bench/features_rtf.py [--seconds 60] [--repeats 7]

Realtime factor = seconds of audio processed per second of wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from mww_trainer import constants
from mww_trainer.data.features import FeatureStream, compute_features


def make_audio(duration_s: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(duration_s * constants.SAMPLE_RATE_HZ)) / constants.SAMPLE_RATE_HZ
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    x += rng.normal(0, 0.05, t.size)
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def streamed(chunk: int) -> Callable[[np.ndarray], object]:
    def run(samples: np.ndarray) -> object:
        stream = FeatureStream()
        return [stream.push(samples[i : i + chunk]) for i in range(0, samples.size, chunk)]

    return run


def measure(name: str, fn: Callable[[np.ndarray], object], audio: np.ndarray, repeats: int) -> None:
    duration_s = audio.size / constants.SAMPLE_RATE_HZ
    fn(audio[: constants.SAMPLE_RATE_HZ])  # warm-up: imports, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(audio)
        times.append(time.perf_counter() - start)
    best, median = duration_s / min(times), duration_s / statistics.median(times)
    print(f"{name:<34} best {best:8.0f}x   median {median:8.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        # One core, as the target is stated: a figure not inflated by other cores.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    audio = make_audio(args.seconds)
    print(f"{args.seconds:g} s of audio, {args.repeats} repeats, realtime factor:")
    measure("compute_features", compute_features, audio, args.repeats)
    measure("FeatureStream, 1024-sample chunks", streamed(1024), audio, args.repeats)
    measure("FeatureStream, 160-sample chunks", streamed(160), audio, args.repeats)


if __name__ == "__main__":
    main()
