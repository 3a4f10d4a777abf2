"""A tiny wake-word dataset a tiny model learns in seconds: rising chirps by a few "people" as
wake words; rooms of noise and hum as other sounds, with a slightly higher chirp every 4 s as a
sound-alike when asked (or, mislabelled, the sound-alike among the wake words)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
SOUND_ALIKE_HZ = 560  # the sound-alike's starting pitch; the wake words start at 300-440 Hz


def _write(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(samples, -1, 1), RATE, subtype="PCM_16")


def write_chirps(
    data: Path,
    *,
    takes: int,
    people: int,
    pitches: int,
    rooms: int,
    room_s: int,
    sound_alikes: bool = False,
    sound_alike_takes: int = 0,
) -> None:
    """``sound_alike_takes``: that many of the takes are the sound-alike, labelled as the wake
    word, for a model that certainly wakes on it."""
    rng = np.random.default_rng(0)
    t = np.arange(int(0.9 * RATE)) / RATE
    for n in range(takes):
        base = SOUND_ALIKE_HZ if n < sound_alike_takes else 300 + 20 * (n % pitches)
        chirp = 0.4 * np.sin(2 * np.pi * (base + 900 * t) * t)
        padded = np.concatenate([np.zeros(3000), chirp, np.zeros(3000)])
        _write(data / "positive" / f"person{n % people}" / f"take{n}.wav", padded)
    x = np.arange(room_s * RATE) / RATE
    for n in range(rooms):
        sound = 0.05 * rng.standard_normal(len(x))
        sound += 0.2 * np.sin(2 * np.pi * (120 + 40 * n) * x)
        for start in range(4, room_s - 2, 4) if sound_alikes else ():
            i = start * RATE
            sound[i : i + len(t)] += 0.4 * np.sin(2 * np.pi * (SOUND_ALIKE_HZ + 900 * t) * t)
        _write(data / "negative" / f"room{n}.wav", sound)
