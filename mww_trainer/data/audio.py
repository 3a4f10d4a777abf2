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
# Sample rates a file may declare: below 8 kHz is not speech any more, and resampling from a
# rate like 1 Hz would multiply a few kilobytes into gigabytes of samples.
MIN_RATE_HZ = 8_000
MAX_RATE_HZ = 192_000
_BLOCK_SAMPLES = 1 << 18  # decoded samples (frames x channels) held at once while reading
_UNKNOWN_FRAMES = 2**62  # a header frame count this large means "not stated"
_WAV_HEADER_BYTES = 64 * 1024  # where a WAV's data chunk must start for the truncation check


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
    rate_hz = int(info.samplerate)
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise AudioError(
            f"{path.name}: declares a sample rate of {rate_hz} Hz; only "
            f"{MIN_RATE_HZ // 1000}-{MAX_RATE_HZ // 1000} kHz is accepted (re-export it at 16 kHz)"
        )
    if info.format == "WAV" and (cut := _wav_truncation(path)) is not None:
        promised_s, held_s = cut
        raise AudioError(
            f"{path.name}: truncated: its header promises {promised_s:.2f} s of audio but the "
            f"file holds {held_s:.2f} s; re-export or re-record it"
        )
    return AudioInfo(
        rate_hz=rate_hz,
        channels=int(info.channels),
        format=str(info.format),
        subtype=str(info.subtype),
        frames=int(info.frames),
    )


def _wav_truncation(path: Path) -> tuple[float, float] | None:
    """(promised, held) seconds when a RIFF WAV's data chunk runs past the end of the file.

    libsndfile quietly reads what is there; a file cut short in a copy or an upload would
    then pass for a shorter recording.
    """
    with path.open("rb") as f:
        head = f.read(_WAV_HEADER_BYTES)
        size = os.fstat(f.fileno()).st_size
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    byte_rate = block_align = 0
    at = 12
    while at + 8 <= len(head):
        chunk, length = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        if chunk == b"fmt " and at + 20 <= len(head):
            byte_rate = int.from_bytes(head[at + 16 : at + 20], "little")
            block_align = int.from_bytes(head[at + 20 : at + 22], "little")
        if chunk == b"data":
            if length in (0, 0xFFFFFFFF) or not byte_rate:  # streamed: the size is unknown
                return None
            held = size - (at + 8)
            if length - held <= max(block_align, 1):
                return None
            return length / byte_rate, max(held, 0) / byte_rate
        at += 8 + length + (length & 1)
    return None


def read_audio(path: str | os.PathLike, *, max_duration_s: float | None = None) -> np.ndarray:
    """Decode any file libsndfile reads (WAV, FLAC, OGG, MP3...) to 16 kHz mono int16.

    libsndfile detects the format from the content, so a file whose extension lies is
    still read correctly when its content is audio. The header is probed first (a rate
    outside 8-192 kHz is refused before a sample is decoded); the file is then decoded,
    mixed to mono and resampled block by block, so memory follows the 16 kHz result, and
    a file longer than ``max_duration_s`` is refused by its header or, when the header
    understates it, as soon as the decoded length passes the limit.
    """
    path = Path(path)
    info = probe_audio(path)
    limit = _DurationLimit(path, max_duration_s, info.rate_hz)
    if info.frames < _UNKNOWN_FRAMES:  # libsndfile's "unknown length" is SF_COUNT_MAX
        limit.check(info.frames)
    blocks, decoded = [], 0
    try:
        with sf.SoundFile(str(path)) as f:
            # 16-bit PCM is read as int16 directly: exact, and half the memory of float32.
            dtype = "int16" if f.subtype == "PCM_16" else "float32"
            resampler = None
            if info.rate_hz != constants.SAMPLE_RATE_HZ:
                resampler = soxr.ResampleStream(
                    info.rate_hz, constants.SAMPLE_RATE_HZ, 1, "float32", _RESAMPLE_QUALITY
                )
            size = max(1024, _BLOCK_SAMPLES // max(1, f.channels))
            for data in f.blocks(blocksize=size, dtype=dtype, always_2d=True):
                decoded += len(data)
                limit.check(decoded)
                blocks.append(_mono_16k(data, resampler, path))
            if resampler is not None and decoded:
                tail = resampler.resample_chunk(np.empty(0, np.float32), last=True)
                blocks.append(to_int16(tail))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(_unreadable(path, exc)) from exc
    if decoded == 0:
        raise AudioError(f"{path.name}: the file holds no audio samples; remove or replace it")
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


@dataclass(frozen=True)
class _DurationLimit:
    path: Path
    max_duration_s: float | None
    rate_hz: int

    def check(self, frames: int) -> None:
        if self.max_duration_s is None or frames <= self.max_duration_s * self.rate_hz:
            return
        raise AudioError(
            f"{self.path.name}: longer than the {self.max_duration_s:g} s accepted for it "
            f"(more than {frames / self.rate_hz:.0f} s); cut it into shorter files"
        )


def _mono_16k(data: np.ndarray, resampler: soxr.ResampleStream | None, path: Path) -> np.ndarray:
    """One decoded block (frames x channels) as 16 kHz mono int16."""
    if data.shape[1] == 1 and resampler is None:
        return to_int16(_finite(np.ascontiguousarray(data[:, 0]), path))
    data = _finite(to_float32(data), path)
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if resampler is not None:
        mono = resampler.resample_chunk(np.ascontiguousarray(mono))
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
# Kept before a word's loud part when a take or clip is trimmed: a quiet onset in noise
# (the "s" of "stop") falls under the threshold, and with it cut a model learns "top".
WORD_LEAD_S = 0.3


def trim_silence(samples: np.ndarray, lead_s: float = WORD_LEAD_S) -> np.ndarray:
    """The span from the first to the last 20 ms frame that stands out as sound, and up to
    ``lead_s`` of what comes before it.

    A frame counts when its RMS is within 35 dB of the loudest frame and 10 dB above the
    quietest tenth of frames, so a clip recorded over steady noise is trimmed as well as
    one recorded over digital silence. Silence at both ends would move the word inside
    the training window, where the model learns when to fire. A word's quiet onset can fall
    under that threshold in noise (the "s" of "stop" at 10 dB SNR), which ``lead_s`` keeps.
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
    first = max(0, loud[0] * TRIM_FRAME_SAMPLES - round(lead_s * constants.SAMPLE_RATE_HZ))
    return samples[first : (loud[-1] + 1) * TRIM_FRAME_SAMPLES]
