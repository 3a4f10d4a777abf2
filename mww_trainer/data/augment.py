"""Waveform augmentation: place a clip in its training window and make it sound like a room.

One clip goes through, in this order:

    clip   PitchShift (resampling: pitch and speed together), SevenBandParametricEQ,
           TanhDistortion, BandStopFilter
    place  the clip's end lands `jitter` seconds before the window's end; silence in front
    window RIR (in-memory impulse responses), AddBackgroundNoise (in-memory clips at an SNR
           measured over the clip's own samples), AddColorNoise, Gain
    int16  rounded and clipped to the int16 range (never wrapped)

The configuration gives each transform's probability; a probability of 0 leaves the
transform out of the chain. Background clips and impulse responses are read once and kept in
memory: mixing and convolution are done here, because audiomentations' AddBackgroundNoise and
ApplyImpulseResponse read files from disk on every call.

audiomentations draws from Python's `random` and NumPy's global generator. Each call seeds
both from the Augmenter's own generator and restores them afterwards, so a seed gives the
same output every time and nothing outside is disturbed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import audiomentations as am
import numpy as np
import soxr
from audiomentations.core.transforms_interface import BaseWaveformTransform
from scipy.signal import oaconvolve

from mww_trainer import constants
from mww_trainer.config.types import AugmentationConfig
from mww_trainer.data.audio import read_audio, to_float32, to_int16
from mww_trainer.errors import AudioError, ConfigError

_RATE_HZ = constants.SAMPLE_RATE_HZ
_AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3"})
_MAX_IMPULSE_S = 1.0  # longer reverberation tails are cut
_SPEED_QUALITY = "HQ"  # soxr quality of the pitch/speed resampling (~0.2 ms a clip)

AudioSource = np.ndarray | str | os.PathLike


@dataclass(frozen=True)
class AugmentRanges:
    """Parameter ranges of the transforms; the configuration sets only their probabilities."""

    eq_gain_db: tuple[float, float] = (-6.0, 6.0)
    distortion: tuple[float, float] = (0.1, 0.5)  # TanhDistortion's amount, 0..1
    pitch_semitones: tuple[float, float] = (-4.0, 4.0)
    max_speed: float = 1.3  # pitch shifting changes speed too; capped both ways
    band_stop_center_hz: tuple[float, float] = (200.0, 4000.0)
    color_noise_snr_db: tuple[float, float] = (10.0, 40.0)
    # People talking under a wake word: quieter than the speaker, as a TV or a conversation
    # across the room is. Louder talk would teach that talk itself is the wake word.
    talk_snr_db: tuple[float, float] = (5.0, 20.0)
    gain_db: tuple[float, float] = (-12.0, 6.0)


# Every transform the config can switch on, in the order `augment` applies them.
TRANSFORMS = (
    "PitchShift",
    "SevenBandParametricEQ",
    "TanhDistortion",
    "BandStopFilter",
    "RIR",
    "AddBackgroundNoise",
    "AddColorNoise",
    "Gain",
)


class Augmenter:
    """Augments int16 clips into fixed-length int16 training windows.

    Picklable (arrays, the configuration and audiomentations transforms; no open files), so
    it can be sent once to each worker of a process pool. Workers should pass their own
    generator, e.g. `rng=augmenter.rng_for(clip_index)`, or they would all repeat the
    stream pickled with the Augmenter.
    """

    def __init__(
        self,
        *,
        config: AugmentationConfig,
        background: Sequence[np.ndarray],
        impulses: Sequence[np.ndarray],
        seed: int,
        ranges: AugmentRanges,
        talk: Sequence[np.ndarray] = (),
    ) -> None:
        self.config = config
        self.ranges = ranges
        self.seed = seed
        self.background = tuple(background)
        self.talk = tuple(talk)  # recordings of people: half the background draws when given
        self.impulses = tuple(impulses)
        self.window_samples = round(config.augmentation_duration_s * _RATE_HZ)
        self._clip_chain = _compose(_clip_transforms(config, ranges))
        self._window_chain = _compose(_window_transforms(config, ranges))
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_config(
        cls,
        cfg: AugmentationConfig,
        *,
        background: Sequence[AudioSource],
        impulses: Sequence[AudioSource],
        seed: int,
        ranges: AugmentRanges | None = None,
        talk: Sequence[AudioSource] = (),
    ) -> Augmenter:
        """Build from the config; paths (files or folders) are read once into memory.

        ``talk``: recordings of people talking, mixed under clips as background at
        ``ranges.talk_snr_db`` for half the draws."""
        background_clips = load_clips(background)
        talk_clips = load_clips(talk)
        impulse_clips = tuple(_prepare_impulse(ir) for ir in load_clips(impulses))
        _require_sources(
            cfg.AddBackgroundNoise, background_clips + talk_clips, "AddBackgroundNoise", cfg
        )
        _require_sources(cfg.RIR, impulse_clips, "RIR", cfg)
        if cfg.background_min_snr_db > cfg.background_max_snr_db:
            raise ConfigError(
                f"augmentation.background_min_snr_db ({cfg.background_min_snr_db}) is above "
                f"background_max_snr_db ({cfg.background_max_snr_db}); swap them"
            )
        return cls(
            config=cfg,
            background=background_clips,
            impulses=impulse_clips,
            seed=seed,
            ranges=ranges or AugmentRanges(),
            talk=talk_clips,
        )

    @property
    def chain(self) -> tuple[str, ...]:
        """The transforms that may run, in order; those with probability 0 are absent."""
        cfg = self.config
        names = ["PitchShift"] if cfg.PitchShift > 0 else []
        names += _names(self._clip_chain)
        names += ["RIR"] if cfg.RIR > 0 else []
        names += ["AddBackgroundNoise"] if cfg.AddBackgroundNoise > 0 else []
        return (*names, *_names(self._window_chain))

    def rng_for(self, index: int) -> np.random.Generator:
        """An independent generator for one clip: reproducible in any worker, in any order."""
        return np.random.default_rng((self.seed, index))

    def augment(
        self,
        samples_int16: np.ndarray,
        rng: np.random.Generator | None = None,
        *,
        target_samples: int | None = None,
    ) -> np.ndarray:
        """One augmented int16 window of `target_samples` (default: augmentation_duration_s)."""
        rng = self._rng if rng is None else rng
        total = self.window_samples if target_samples is None else target_samples
        if total <= 0:
            raise ValueError(f"target_samples must be positive, got {total}")
        cfg = self.config
        clip = to_float32(samples_int16)
        uses_globals = self._clip_chain is not None or self._window_chain is not None
        with _seeded_globals(rng, active=uses_globals):
            if rng.random() < cfg.PitchShift:
                clip = change_speed(clip, rng.uniform(*self.ranges.pitch_semitones), self.ranges)
            if self._clip_chain is not None and clip.size:
                clip = self._clip_chain(clip, _RATE_HZ)
            jitter = _jitter_samples(cfg.min_jitter_s, cfg.max_jitter_s, rng)
            window, start, end = _place(clip, total, jitter)
            if rng.random() < cfg.RIR:
                window = reverberate(window, start, end, _pick(self.impulses, rng))
            if rng.random() < cfg.AddBackgroundNoise:
                pool, (low, high) = self._background_source(rng)
                snr_db = rng.uniform(low, high)
                noise = background_window(_pick(pool, rng), total, rng)
                window = mix_at_snr(window, noise, snr_db, region=slice(start, end))
            if self._window_chain is not None:
                window = self._window_chain(window, _RATE_HZ)
        return to_int16(window)

    def _background_source(
        self, rng: np.random.Generator
    ) -> tuple[tuple[np.ndarray, ...], tuple[float, float]]:
        """Noise at the configured SNR, or (half the time, when given) talk, quieter."""
        cfg = self.config
        noise = (self.background, (cfg.background_min_snr_db, cfg.background_max_snr_db))
        if not self.talk:
            return noise  # no draw: runs without talk augment exactly as before
        if not self.background or rng.random() < 0.5:
            return self.talk, self.ranges.talk_snr_db
        return noise


def place_clip(
    samples: np.ndarray,
    total_samples: int,
    min_jitter_s: float,
    max_jitter_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Put the clip in a window of silence so that it ends `jitter` seconds before the end.

    jitter is drawn uniformly from [min_jitter_s, max_jitter_s]. A clip longer than the room
    in front of that point loses its beginning: the trainer looks at the window's last frames.
    """
    jitter = _jitter_samples(min_jitter_s, max_jitter_s, rng)
    window, _, _ = _place(np.asarray(samples), total_samples, jitter)
    return window


def change_speed(clip: np.ndarray, semitones: float, ranges: AugmentRanges) -> np.ndarray:
    """Shift pitch by resampling: speed changes by the same factor (capped at max_speed)."""
    factor = float(np.clip(2.0 ** (semitones / 12.0), 1.0 / ranges.max_speed, ranges.max_speed))
    if clip.size < 2:
        return clip
    shifted = soxr.resample(clip, _RATE_HZ * factor, _RATE_HZ, quality=_SPEED_QUALITY)
    return shifted.astype(np.float32, copy=False)


def reverberate(window: np.ndarray, start: int, end: int, impulse: np.ndarray) -> np.ndarray:
    """Convolve the clip (window[start:end]) with an impulse response, tail kept to the end.

    The window keeps its length; the wet clip is scaled to the dry clip's peak so a long or
    loud impulse response cannot make it clip.
    """
    dry = window[start:end]
    peak_dry = float(np.max(np.abs(dry))) if dry.size else 0.0
    if peak_dry == 0.0:
        return window
    wet = oaconvolve(dry, impulse)[: window.size - start]
    wet *= peak_dry / max(float(np.max(np.abs(wet))), 1e-12)
    out = window.copy()
    out[start : start + wet.size] = wet
    return out


def background_window(
    clip_int16: np.ndarray, total_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """A random stretch of a background clip as float32; short clips loop."""
    n = clip_int16.size
    if n >= total_samples:
        offset = int(rng.integers(0, n - total_samples + 1))
        piece = clip_int16[offset : offset + total_samples]
    else:
        offset = int(rng.integers(0, n))
        piece = np.tile(clip_int16, total_samples // n + 2)[offset : offset + total_samples]
    return to_float32(piece)


def mix_at_snr(
    window: np.ndarray, noise: np.ndarray, snr_db: float, *, region: slice
) -> np.ndarray:
    """Add noise scaled so the signal-to-noise ratio over `region` (the clip) is snr_db.

    A silent clip gets no noise: there is no level to be relative to.
    """
    signal_rms = _rms(window[region])
    noise_rms = _rms(noise[region]) or _rms(noise)
    if signal_rms == 0.0 or noise_rms == 0.0:
        return window
    scale = signal_rms / (noise_rms * 10.0 ** (snr_db / 20.0))
    return (window + noise * np.float32(scale)).astype(np.float32, copy=False)


def load_clips(sources: Sequence[AudioSource]) -> tuple[np.ndarray, ...]:
    """int16 arrays from arrays, audio files or folders of audio files (searched recursively)."""
    clips: list[np.ndarray] = []
    for source in sources:
        if isinstance(source, np.ndarray):
            clips.append(to_int16(source))
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _AUDIO_SUFFIXES)
            clips.extend(read_audio(p) for p in files)
        elif path.exists():
            clips.append(read_audio(path))
        else:
            raise AudioError(f"{path}: no such file or folder; fix the path or remove it")
    return tuple(clip for clip in clips if clip.size)


def _prepare_impulse(impulse_int16: np.ndarray) -> np.ndarray:
    """float32, starting at the direct sound (no pre-delay shifting the clip), peak 1."""
    impulse = to_float32(impulse_int16)
    peak_at = int(np.argmax(np.abs(impulse)))
    peak = float(abs(impulse[peak_at]))
    if peak == 0.0:
        raise AudioError("an impulse response is silent (all zeros); remove it")
    trimmed = impulse[peak_at : peak_at + round(_MAX_IMPULSE_S * _RATE_HZ)]
    return (trimmed / peak).astype(np.float32)


def _require_sources(
    probability: float, clips: tuple[np.ndarray, ...], key: str, cfg: AugmentationConfig
) -> None:
    if probability > 0 and not clips:
        paths = cfg.background_paths if key == "AddBackgroundNoise" else cfg.impulse_paths
        where = "background_paths" if key == "AddBackgroundNoise" else "impulse_paths"
        raise ConfigError(
            f"augmentation.{key} is {probability} but no audio was found in {where} "
            f"({', '.join(paths) or 'none given'}); add WAV/FLAC files there or set {key}: 0"
        )


def _clip_transforms(cfg: AugmentationConfig, r: AugmentRanges) -> list[BaseWaveformTransform]:
    chain: list[BaseWaveformTransform] = []
    if cfg.SevenBandParametricEQ > 0:
        low, high = r.eq_gain_db
        chain.append(
            am.SevenBandParametricEQ(min_gain_db=low, max_gain_db=high, p=cfg.SevenBandParametricEQ)
        )
    if cfg.TanhDistortion > 0:
        low, high = r.distortion
        chain.append(
            am.TanhDistortion(min_distortion=low, max_distortion=high, p=cfg.TanhDistortion)
        )
    if cfg.BandStopFilter > 0:
        low, high = r.band_stop_center_hz
        chain.append(
            am.BandStopFilter(min_center_freq=low, max_center_freq=high, p=cfg.BandStopFilter)
        )
    return chain


def _window_transforms(cfg: AugmentationConfig, r: AugmentRanges) -> list[BaseWaveformTransform]:
    chain: list[BaseWaveformTransform] = []
    if cfg.AddColorNoise > 0:
        low, high = r.color_noise_snr_db
        chain.append(am.AddColorNoise(min_snr_db=low, max_snr_db=high, p=cfg.AddColorNoise))
    if cfg.Gain > 0:
        chain.append(am.Gain(min_gain_db=r.gain_db[0], max_gain_db=r.gain_db[1], p=cfg.Gain))
    return chain


def _compose(transforms: list[BaseWaveformTransform]) -> am.Compose | None:
    return am.Compose(transforms, p=1.0, shuffle=False) if transforms else None


def _names(chain: am.Compose | None) -> list[str]:
    return [type(t).__name__ for t in chain.transforms] if chain is not None else []


@contextmanager
def _seeded_globals(rng: np.random.Generator, *, active: bool) -> Iterator[None]:
    """Seed `random` and NumPy's global generator from rng for audiomentations; restore after."""
    seed = int(rng.integers(0, 2**32))
    if not active:
        yield
        return
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _jitter_samples(min_s: float, max_s: float, rng: np.random.Generator) -> int:
    if min_s > max_s or min_s < 0:
        raise ValueError(f"jitter range [{min_s}, {max_s}] s is not a valid non-negative range")
    return round(rng.uniform(min_s, max_s) * _RATE_HZ)


def _place(clip: np.ndarray, total: int, jitter: int) -> tuple[np.ndarray, int, int]:
    """The window, and where the clip's kept samples start and end in it."""
    end = max(total - jitter, 0)
    kept = clip[max(clip.size - end, 0) :]
    start = end - kept.size
    window = np.zeros(total, dtype=clip.dtype)
    window[start:end] = kept
    return window, start, end


def _pick(clips: tuple[np.ndarray, ...], rng: np.random.Generator) -> np.ndarray:
    return clips[int(rng.integers(0, len(clips)))]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
