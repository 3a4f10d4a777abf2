"""Record the room: minutes of the household talking, cut into chunks, kept as negatives.

A model learns to stay quiet around talk from recordings of talk where the satellite stands.
`record_room` reads 16 kHz mono int16 blocks from a source (the microphone through `arecord`,
or a file for tests) and writes every `chunk_s` seconds a WAV into the output folder, each one
atomically (a temporary name, then a rename). When asked to stop, or when the source ends, the
unfinished chunk is written too, so an interruption loses nothing already heard.

Chunks are named `room_<start time>_<n>.wav` in a folder the trainer counts as people talking
(see `mww_trainer.data.ingest.origin`): folder names of speech engines are refused.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mww_trainer import constants
from mww_trainer.data.audio import read_audio, write_wav
from mww_trainer.data.ingest.model import Limits
from mww_trainer.data.ingest.origin import origin_of
from mww_trainer.errors import MwwError

RATE_HZ = constants.SAMPLE_RATE_HZ
BLOCK_S = 0.1  # a source's block: how soon a stop request is noticed
MIN_CHUNK_S, MAX_CHUNK_S = 1.0, 600.0
MIN_PARTIAL_S = Limits().min_clip_s  # the shortest negative the trainer uses (0.3 s)
SILENT_DBFS = -60.0  # a chunk whose peak stays below this: a muted or missing microphone
ARECORD_PACKAGE = "alsa-utils"


class RecorderMissing(MwwError):
    """No program to record with."""


@dataclass(frozen=True)
class RoomPlan:
    """Where the chunks go, how long each is, and when to stop (None: when asked to)."""

    out_dir: Path
    chunk_s: float = 30.0
    max_s: float | None = None

    @classmethod
    def checked(cls, out_dir: Path, *, chunk_s: float, max_s: float | None) -> RoomPlan:
        if not MIN_CHUNK_S <= chunk_s <= MAX_CHUNK_S:
            raise MwwError(
                f"--chunk-s: {chunk_s:g} is not allowed (from {MIN_CHUNK_S:g} to "
                f"{MAX_CHUNK_S:g} seconds)"
            )
        if max_s is not None and max_s <= 0:
            raise MwwError(f"--minutes: {max_s / 60:g} is not allowed (a positive number)")
        origin = origin_of(f"negative/{Path(out_dir).name}/room_000.wav")
        if not origin.human:
            raise MwwError(
                f"{out_dir}: the trainer reads a folder named {Path(out_dir).name!r} as "
                f"{origin.family} speech synthesis, not people talking; choose another name "
                "(for example dataset/negative/room)"
            )
        return cls(Path(out_dir), chunk_s, max_s)

    @property
    def chunk_samples(self) -> int:
        return round(self.chunk_s * RATE_HZ)

    @property
    def max_samples(self) -> int | None:
        return None if self.max_s is None else round(self.max_s * RATE_HZ)


@dataclass(frozen=True)
class Chunk:
    path: Path
    duration_s: float
    peak_dbfs: float

    @property
    def silent(self) -> bool:
        return self.peak_dbfs < SILENT_DBFS


# --- sources: iterators of 16 kHz mono int16 blocks ---------------------------------------------


def file_source(path: Path, *, realtime: bool) -> Iterator[np.ndarray]:
    """A file played as if it were the microphone: at its own pace, or as fast as it reads."""
    samples = read_audio(path)
    size = round(BLOCK_S * RATE_HZ)
    start = time.monotonic()
    for n, offset in enumerate(range(0, len(samples), size)):
        if realtime:
            time.sleep(max(0.0, start + n * BLOCK_S - time.monotonic()))
        yield samples[offset : offset + size]


def find_arecord() -> str:
    found = shutil.which("arecord")
    if found is None:
        raise RecorderMissing(
            f"arecord is not installed: install the Debian package {ARECORD_PACKAGE} "
            f"(sudo apt-get install {ARECORD_PACKAGE}), or give --input FILE to record from a file"
        )
    return found


def arecord_source(arecord: str, device: str | None = None) -> Iterator[np.ndarray]:
    """The microphone through ALSA's arecord: raw 16 kHz mono 16-bit little-endian on stdout.

    arecord runs in its own session, so the terminal's Ctrl-C reaches only us and we stop it
    between blocks; its complaints go to a file and into the error if it fails.
    """
    command = [arecord, "-q", "-t", "raw", "-f", "S16_LE", "-r", str(RATE_HZ), "-c", "1"]
    if device:
        command += ["-D", device]
    block_bytes = round(BLOCK_S * RATE_HZ) * constants.SAMPLE_WIDTH_BYTES
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, start_new_session=True
        )
        stopped_by_us = False
        try:
            while data := process.stdout.read(block_bytes):
                yield np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)
        except GeneratorExit:
            stopped_by_us = True
            raise
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait()
            process.stdout.close()
        if process.returncode != 0 and not stopped_by_us:
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip().splitlines()[-3:]
            raise MwwError(
                f"arecord stopped with exit status {process.returncode} "
                f"({' / '.join(said) or 'no message'}); list the devices with `arecord -L` "
                "and pass one with --device"
            )


# --- the recording ------------------------------------------------------------------------------


def record_room(
    source: Iterator[np.ndarray],
    plan: RoomPlan,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    on_chunk: Callable[[Chunk], None] = lambda chunk: None,
) -> list[Chunk]:
    """Chunks written from `source` until it ends, `plan.max_s` is reached or should_stop()."""
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    prefix = _free_prefix(plan.out_dir)
    written: list[Chunk] = []
    pending: list[np.ndarray] = []
    pending_samples = total = 0

    def write(samples: np.ndarray) -> None:
        path = plan.out_dir / f"{prefix}_{len(written) + 1:03d}.wav"
        write_wav(path, samples)
        chunk = Chunk(path, len(samples) / RATE_HZ, _peak_dbfs(samples))
        written.append(chunk)
        on_chunk(chunk)

    with contextlib.closing(source):
        try:
            for block in source:
                if plan.max_samples is not None:
                    block = block[: plan.max_samples - total]
                pending.append(block)
                pending_samples += len(block)
                total += len(block)
                while pending_samples >= plan.chunk_samples:
                    audio = np.concatenate(pending)
                    write(audio[: plan.chunk_samples])  # pending changes only once it is on disk
                    pending = [audio[plan.chunk_samples :]]
                    pending_samples = len(pending[0])
                if should_stop() or total == plan.max_samples:
                    break
        finally:  # stopped, ended or failed: keep what was heard since the last chunk
            if pending_samples >= MIN_PARTIAL_S * RATE_HZ:
                write(np.concatenate(pending))
    return written


def _free_prefix(folder: Path) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    prefix, n = f"room_{stamp}", 1
    while any(folder.glob(f"{prefix}_*.wav")):
        n += 1
        prefix = f"room_{stamp}-{n}"
    return prefix


def _peak_dbfs(samples: np.ndarray) -> float:
    peak = max(int(samples.max()), -int(samples.min())) if len(samples) else 0
    return 20 * np.log10(peak / 32768) if peak else -120.0
