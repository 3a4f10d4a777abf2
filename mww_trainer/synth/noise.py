"""Synthetic signals that need no speech: coloured noise, mains hum, room impulse responses.

Every generator takes its ``numpy.random.Generator`` explicitly, so the output is a pure
function of the seed. Levels are float32 in [-1, 1] at the device's 16 kHz.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mww_trainer import constants
from mww_trainer.errors import MwwError

RATE_HZ = constants.SAMPLE_RATE_HZ
NOISE_KINDS = ("white", "pink", "brown", "hum")
ROOM_ENGINES = ("synthetic", "pyroomacoustics")
_EPS = 1e-12


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def scale_to_rms_dbfs(audio: np.ndarray, dbfs: float) -> np.ndarray:
    level = rms(audio)
    if level < _EPS:
        return audio
    return (audio * (10 ** (dbfs / 20) / level)).astype(np.float32)


def scale_to_peak_dbfs(audio: np.ndarray, dbfs: float) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < _EPS:
        return audio
    return (audio * (10 ** (dbfs / 20) / peak)).astype(np.float32)


def _spectral_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / RATE_HZ)
    freqs[0] = freqs[1] if n > 1 else 1.0
    spectrum *= freqs ** (-exponent / 2)
    spectrum[0] = 0.0  # no DC offset
    out = np.fft.irfft(spectrum, n)
    return (out / max(rms(out), _EPS)).astype(np.float32)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with decaying harmonics, a slow wobble and a little hiss."""
    t = np.arange(n) / RATE_HZ
    base_hz = float(rng.choice([50.0, 60.0]))
    wobble = 1 + 0.002 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t)
    out = np.zeros(n)
    for harmonic in range(1, 9):
        amp = rng.uniform(0.2, 1.0) / harmonic
        phase = rng.uniform(0, 2 * np.pi)
        out += amp * np.sin(2 * np.pi * base_hz * harmonic * wobble * t + phase)
    out += 0.05 * _spectral_noise(n, rng, 1.0) * rms(out)
    return (out / max(rms(out), _EPS)).astype(np.float32)


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of one of :data:`NOISE_KINDS` at unit RMS."""
    if kind == "hum":
        return hum(n, rng)
    exponents = {"white": 0.0, "pink": 1.0, "brown": 2.0}
    if kind not in exponents:
        raise MwwError(f"noise kind {kind!r} is unknown (one of {', '.join(NOISE_KINDS)})")
    return _spectral_noise(n, rng, exponents[kind])


def add_noise(
    audio: np.ndarray, noise_audio: np.ndarray, snr_db: float, ref_rms: float | None = None
) -> np.ndarray:
    """``audio`` plus ``noise_audio`` scaled to ``snr_db`` below ``ref_rms`` (audio's RMS)."""
    ref = rms(audio) if ref_rms is None else ref_rms
    level = rms(noise_audio)
    if ref < _EPS or level < _EPS:
        return audio
    gain = ref / level / 10 ** (snr_db / 20)
    return (audio + gain * noise_audio[: audio.size]).astype(np.float32)


def synthetic_rir(rng: np.random.Generator, *, rt60_s: float) -> np.ndarray:
    """A room impulse response: direct path, sparse early reflections, a decaying noise tail.

    The tail darkens as it decays (high frequencies die first), as in real rooms.
    """
    n = int(min(1.0, max(0.15, 1.2 * rt60_s)) * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    envelope = np.exp(-6.908 * t / rt60_s)  # -60 dB at rt60_s
    rir = np.zeros(n)
    direct = int(rng.integers(8, 48))
    rir[direct] = 1.0
    for _ in range(int(rng.integers(6, 14))):
        at = direct + int(rng.uniform(0.002, 0.04) * RATE_HZ)
        rir[at] += rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.7) * envelope[at - direct]
    tail = rng.standard_normal(n)
    dark = signal.lfilter([0.15], [1.0, -0.85], tail)
    weight = np.linspace(0.0, 1.0, n)
    tail = ((1 - weight) * tail + weight * dark / max(rms(dark), _EPS)) * envelope
    onset = direct + int(rng.uniform(0.005, 0.015) * RATE_HZ)
    tail[:onset] = 0.0
    drr_db = rng.uniform(-3.0, 10.0)  # direct-to-reverberant energy ratio
    tail *= np.sqrt(1.0 / (10 ** (drr_db / 10) * max(np.sum(tail**2), _EPS)))
    rir += tail
    return (rir / np.max(np.abs(rir)) * 0.95).astype(np.float32)


def pyroomacoustics_rir(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A small shoebox room simulated by pyroomacoustics' image-source model; (rir, rt60_s)."""
    try:
        import pyroomacoustics as pra
    except ImportError as exc:
        raise MwwError(
            "rooms 'pyroomacoustics' needs the pyroomacoustics package: "
            "pip install pyroomacoustics (or use --rooms synthetic)"
        ) from exc
    dims = rng.uniform([3.0, 2.5, 2.4], [7.0, 6.0, 3.2])
    rt60_s = float(rng.uniform(0.2, 0.7))
    absorption, max_order = pra.inverse_sabine(rt60_s, dims)
    room = pra.ShoeBox(
        dims, fs=RATE_HZ, materials=pra.Material(absorption), max_order=min(max_order, 20)
    )
    room.add_source(rng.uniform(0.5, dims - 0.5))
    room.add_microphone(rng.uniform(0.5, dims - 0.5))
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    return (rir / max(float(np.max(np.abs(rir))), _EPS) * 0.95).astype(np.float32), rt60_s


def room_rir(engine: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(rir, rt60_s) from ``engine``: ``synthetic`` or ``pyroomacoustics``."""
    if engine == "pyroomacoustics":
        return pyroomacoustics_rir(rng)
    if engine != "synthetic":
        raise MwwError(f"rooms {engine!r} is unknown (one of {', '.join(ROOM_ENGINES)})")
    rt60_s = float(rng.uniform(0.2, 0.8))
    return synthetic_rir(rng, rt60_s=rt60_s), rt60_s


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``audio`` convolved with ``rir``, aligned on the direct path, at ``audio``'s RMS.

    The result is longer than ``audio`` by the reverberant tail.
    """
    wet = signal.fftconvolve(audio.astype(np.float64), rir.astype(np.float64))
    wet = wet[int(np.argmax(np.abs(rir))) :]
    level = rms(wet[: audio.size])
    if level < _EPS:
        return audio
    return (wet * (rms(audio) / level)).astype(np.float32)


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] -> int16, clipped and rounded the same way every time."""
    return np.round(np.clip(audio, -1.0, 32767 / 32768) * 32768).astype(np.int16)
