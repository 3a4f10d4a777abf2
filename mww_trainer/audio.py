"""Read, convert and write audio in the one form the device hears: 16 kHz, 16-bit, mono."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from mww_trainer import constants
from mww_trainer.errors import AudioError

# int16 <-> float uses 2**15 in both directions, as libsndfile does, so a 16-bit file read
# as float and converted back gives the original samples exactly.
_INT16_SCALE = 32768.0
_RESAMPLE_QUALITY = "HQ"


@dataclass(frozen=True)
class AudioInfo:
    rate_hz: int
    channels: int
    format: str
    subtype: str
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate_hz if self.rate_hz else 0.0

    @property
    def is_device_format(self) -> bool:
        """True when the file is already 16 kHz mono 16-bit PCM: no conversion needed."""
        return (
            self.rate_hz == constants.SAMPLE_RATE_HZ
            and self.channels == 1
            and self.subtype == "PCM_16"
        )


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] (or int16, returned as is) to int16; out-of-range values clip."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(np.int16)
        if samples.size and (samples.min() < info.min or samples.max() > info.max):
            raise ValueError(f"integer samples of type {samples.dtype} exceed the int16 range")
        return samples.astype(np.int16)
    if not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"expected int16 or float samples, got {samples.dtype}")
    # Scaling by a power of two is exact in any float width: no need to widen to float64.
    scaled = np.rint(samples * samples.dtype.type(_INT16_SCALE))
    return np.clip(scaled, -_INT16_SCALE, _INT16_SCALE - 1).astype(np.int16)


def to_float32(samples: np.ndarray) -> np.ndarray:
    """int16 to float32 in [-1, 1); float input is returned as float32."""
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    return (samples.astype(np.float32) / _INT16_SCALE).astype(np.float32, copy=False)


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Header facts about an audio file, without decoding it."""
    path = Path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(_unreadable(path, exc)) from exc
    return AudioInfo(
        rate_hz=int(info.samplerate),
        channels=int(info.channels),
        format=str(info.format),
        subtype=str(info.subtype),
        frames=int(info.frames),
    )


def read_audio(path: str | os.PathLike) -> np.ndarray:
    """Decode any file libsndfile reads (WAV, FLAC, OGG, MP3...) to 16 kHz mono int16.

    libsndfile detects the format from the content, so a file whose extension lies is
    still read correctly when its content is audio.
    """
    path = Path(path)
    try:
        with sf.SoundFile(str(path)) as f:
            rate_hz = f.samplerate
            # 16-bit PCM is read as int16 directly: exact, and half the memory of float32
            # for the long background recordings.
            dtype = "int16" if f.subtype == "PCM_16" else "float32"
            data = f.read(dtype=dtype, always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(_unreadable(path, exc)) from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path.name}: the file holds no audio samples; remove or replace it")
    if data.shape[1] == 1 and rate_hz == constants.SAMPLE_RATE_HZ:
        return to_int16(_finite(np.ascontiguousarray(data[:, 0]), path))
    data = _finite(to_float32(data), path)
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if rate_hz != constants.SAMPLE_RATE_HZ:
        mono = soxr.resample(mono, rate_hz, constants.SAMPLE_RATE_HZ, quality=_RESAMPLE_QUALITY)
    return to_int16(mono)


def write_wav(
    path: str | os.PathLike, samples: np.ndarray, rate_hz: int = constants.SAMPLE_RATE_HZ
) -> None:
    """Write mono 16-bit PCM WAV atomically: readers see the old file or the whole new one."""
    path = Path(path)
    samples = to_int16(samples)
    if samples.ndim != 1:
        raise ValueError(f"write_wav takes mono samples (1-D), got shape {samples.shape}")
    # A temporary name in the same folder keeps os.replace on one filesystem (atomic); letting
    # soundfile create it keeps the usual umask-based permissions, unlike mkstemp's 0600.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        sf.write(str(tmp), samples, rate_hz, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finite(samples: np.ndarray, path: Path) -> np.ndarray:
    if np.issubdtype(samples.dtype, np.floating) and not np.isfinite(samples).all():
        raise AudioError(f"{path.name}: contains NaN or infinite samples; re-export the file")
    return samples


def _unreadable(path: Path, exc: BaseException) -> str:
    if path.exists() and path.stat().st_size == 0:
        return f"{path.name}: the file is empty (0 bytes); remove or replace it"
    reason = str(exc).replace(str(path), path.name)
    return f"{path.name}: not a readable audio file ({reason}); use WAV, FLAC, OGG or MP3"


TRIM_FRAME_SAMPLES = 320  # 20 ms
TRIM_BELOW_LOUDEST_DB = 35.0
TRIM_ABOVE_FLOOR_DB = 10.0


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """The span from the first to the last 20 ms frame that stands out as sound.

    A frame counts when its RMS is within 35 dB of the loudest frame and 10 dB above the
    quietest tenth of frames, so a clip recorded over steady noise is trimmed as well as
    one recorded over digital silence. Silence at both ends would move the word inside
    the training window, where the model learns when to fire.
    """
    n = len(samples) // TRIM_FRAME_SAMPLES
    if n < 3:
        return samples
    frames = samples[: n * TRIM_FRAME_SAMPLES].astype(np.float64).reshape(n, -1)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-3)
    floor_db = np.percentile(level_db, 10)
    threshold = max(level_db.max() - TRIM_BELOW_LOUDEST_DB, floor_db + TRIM_ABOVE_FLOOR_DB)
    loud = np.flatnonzero(level_db >= threshold)
    if len(loud) == 0:
        return samples
    return samples[loud[0] * TRIM_FRAME_SAMPLES : (loud[-1] + 1) * TRIM_FRAME_SAMPLES]
