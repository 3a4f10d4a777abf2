"""Features computed once per file content and frontend, kept as memory-mappable .npy files.

Layout: <root>/<frontend key>/<sha256[:2]>/<sha256>.npy, each uint16 [frames, 40] (the
frontend's native values: half the size of float32, and exact). A change of file content
changes its sha256 and a change of frontend or extraction changes the key, so a stale entry
is never read. Extraction streams the file in blocks, so a two-hour recording needs no more
memory than a short clip.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import soxr

from mww_trainer import constants
from mww_trainer.config.types import frames_for_samples
from mww_trainer.data.audio import probe_audio, to_int16
from mww_trainer.data.features import FeatureStream, raw_from_features
from mww_trainer.errors import AudioError
from mww_trainer.fileio import atomic_write_text
from mww_trainer.progress import ProgressCallback, ProgressEvent, Stage, ignore_progress

if TYPE_CHECKING:
    from mww_trainer.data.ingest import Clip

# Bump when extraction changes in a way the frontend key below does not capture.
EXTRACTION_VERSION = 1
_RESAMPLE_QUALITY = "HQ"  # the same as audio.read_audio, so cached == computed features
_BLOCK_FRAMES = 1 << 18  # source frames decoded at a time: 1 MiB of float32 per channel
_PROGRESS_STEPS = 100


@dataclass(frozen=True)
class CacheStats:
    computed: int
    reused: int
    seconds: float


def frontend_description() -> dict[str, object]:
    """Everything the cached values depend on besides the audio itself."""
    return {
        "extraction_version": EXTRACTION_VERSION,
        "pymicro_features": metadata.version("pymicro-features"),
        "sample_rate_hz": constants.SAMPLE_RATE_HZ,
        "window_size_ms": constants.WINDOW_SIZE_MS,
        "window_step_ms": constants.WINDOW_STEP_MS,
        "mel_bins": constants.MEL_BINS,
        "resample_quality": _RESAMPLE_QUALITY,
        "dtype": "uint16",
    }


def frontend_key() -> str:
    text = json.dumps(frontend_description(), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class FeatureCache:
    """Read and fill the cache for clips from ingest (anything with .path and .sha256)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.folder = self.root / frontend_key()

    def path_for(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / f"{sha256}.npy"

    def contains(self, clip: Clip) -> bool:
        return self.path_for(clip.sha256).exists()

    def features(self, clip: Clip, *, raw: bool = False) -> np.ndarray:
        """float32 [frames, 40] as compute_features gives; raw=True: the uint16 values, mapped
        read-only from disk (nothing loaded until read). Extracts the clip first if missing."""
        path = self.path_for(clip.sha256)
        if not path.exists():
            self._describe()
            extract_to(clip.path, path)
        stored = np.load(path, mmap_mode="r")
        if raw:
            return stored
        values = stored.astype(np.float32)
        values /= np.float32(constants.FEATURE_SCALE)
        return values

    def ensure(
        self,
        clips: Iterable[Clip],
        *,
        workers: int | None = None,
        on_progress: ProgressCallback = ignore_progress,
    ) -> CacheStats:
        """Extract the clips not cached yet, in parallel processes (the work is CPU-bound)."""
        start = time.monotonic()
        unique = {clip.sha256: clip for clip in clips}
        missing = [clip for sha, clip in unique.items() if not self.path_for(sha).exists()]
        # Longest first, so one long recording does not start last and hold up the end.
        missing.sort(key=lambda clip: -clip.duration_s)
        if missing:
            self._describe()
        jobs = [(clip.path, self.path_for(clip.sha256)) for clip in missing]
        n_workers = min(workers or os.cpu_count() or 1, len(jobs))
        report = _Reporter(len(jobs), on_progress)
        if n_workers <= 1:
            for job in jobs:
                report.add(_extract_batch([job]))
        else:
            batches = _batches(jobs, [clip.duration_s for clip in missing], n_workers)
            _run_pool(batches, n_workers, report)
        seconds = time.monotonic() - start
        return CacheStats(computed=len(jobs), reused=len(unique) - len(jobs), seconds=seconds)

    def prune(self, keep: Iterable[Clip]) -> int:
        """Delete cached entries of this frontend not used by `keep`; returns how many."""
        wanted = {clip.sha256 for clip in keep}
        removed = 0
        for path in self.folder.glob("*/*.npy"):
            if path.stem not in wanted:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _describe(self) -> None:
        # A human-readable note of what the folder's key stands for.
        note = self.folder / "frontend.json"
        if not note.exists():
            atomic_write_text(note, json.dumps(frontend_description(), indent=1) + "\n")


def extract_to(source: Path, target: Path) -> int:
    """Features of `source` into `target` (.npy uint16), atomically; returns the frame count."""
    info = probe_audio(source)
    # soxr yields round(n * out / in) samples, halves up; the writer copes if the header's
    # frame count was only an estimate (some compressed formats).
    out_samples = (info.frames * constants.SAMPLE_RATE_HZ * 2 + info.rate_hz) // (2 * info.rate_hz)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        writer = _RowWriter(tmp, frames_for_samples(out_samples))
        _stream_features(source, info.rate_hz, writer)
        rows = writer.close()
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".resize").unlink(missing_ok=True)
        raise
    return rows


def _stream_features(source: Path, rate_hz: int, writer: _RowWriter) -> None:
    """Decode, mix to mono, resample and run the frontend block by block."""
    stream = FeatureStream()
    resampler = None
    if rate_hz != constants.SAMPLE_RATE_HZ:
        resampler = soxr.ResampleStream(
            rate_hz, constants.SAMPLE_RATE_HZ, 1, dtype="float32", quality=_RESAMPLE_QUALITY
        )
    try:
        with sf.SoundFile(str(source)) as audio:
            for block in audio.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
                # Channel mean in float32 and one resampler over the whole file: the same
                # samples audio.read_audio produces, so the features match it exactly.
                mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
                if resampler is not None:
                    mono = resampler.resample_chunk(mono)
                writer.append(raw_from_features(stream.push(to_int16(mono))))
        if resampler is not None:
            tail = resampler.resample_chunk(np.empty(0, dtype=np.float32), last=True)
            writer.append(raw_from_features(stream.push(to_int16(tail))))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{source}: cannot be decoded ({exc}); re-export it") from exc


class _RowWriter:
    """Rows appended into a preallocated .npy memmap; resized by copying if the guess was off."""

    def __init__(self, path: Path, capacity: int):
        self.path = path
        self.rows = 0
        self._out = self._open(path, capacity)

    @staticmethod
    def _open(path: Path, capacity: int) -> np.memmap:
        shape = (capacity, constants.MEL_BINS)
        return np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=shape)

    def append(self, rows: np.ndarray) -> None:
        end = self.rows + len(rows)
        if end > len(self._out):
            self._resize(max(end, 2 * len(self._out)))
        self._out[self.rows : end] = rows
        self.rows = end

    def close(self) -> int:
        if self.rows != len(self._out):
            self._resize(self.rows)
        # No msync here: extract_to fsyncs the file, which writes the mapped pages too (and
        # msync per file cost more than the frontend itself on short clips).
        del self._out
        return self.rows

    def _resize(self, capacity: int) -> None:
        # Copy in blocks through a second memmap, so memory stays bounded for long files.
        resized_path = self.path.with_name(self.path.name + ".resize")
        resized = self._open(resized_path, capacity)
        for begin in range(0, min(self.rows, capacity), _BLOCK_FRAMES):
            end = min(begin + _BLOCK_FRAMES, self.rows, capacity)
            resized[begin:end] = self._out[begin:end]
        del self._out
        os.replace(resized_path, self.path)
        self._out = resized


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _extract_batch(jobs: list[tuple[Path, Path]]) -> int:
    """Run in a worker: several short files per task, so the pool's messaging stays cheap."""
    for source, target in jobs:
        extract_to(source, target)
    return len(jobs)


def _batches(
    jobs: list[tuple[Path, Path]], durations_s: list[float], workers: int
) -> list[list[tuple[Path, Path]]]:
    """Consecutive jobs grouped to about 1/8 of a worker's share of audio (5 s to 2 min)."""
    target_s = min(max(sum(durations_s) / (8 * workers), 5.0), 120.0)
    batches: list[list[tuple[Path, Path]]] = []
    current: list[tuple[Path, Path]] = []
    current_s = 0.0
    for job, duration_s in zip(jobs, durations_s, strict=True):
        current.append(job)
        current_s += duration_s
        if current_s >= target_s:
            batches.append(current)
            current, current_s = [], 0.0
    if current:
        batches.append(current)
    return batches


def _run_pool(batches: list[list[tuple[Path, Path]]], workers: int, report: _Reporter) -> None:
    # spawn: the trainer process may hold TensorFlow's threads, which fork would copy broken.
    # Like any spawn pool, the calling script needs an `if __name__ == "__main__":` guard.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future[int]] = {pool.submit(_extract_batch, batch) for batch in batches}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                report.add(future.result())


class _Reporter:
    """Progress events as files finish, at most about _PROGRESS_STEPS of them."""

    def __init__(self, total: int, on_progress: ProgressCallback):
        self.total = total
        self.done = 0
        self._reported = 0
        self._step = max(1, total // _PROGRESS_STEPS)
        self._on_progress = on_progress

    def add(self, files: int) -> None:
        self.done += files
        if self.done - self._reported >= self._step or self.done == self.total:
            self._reported = self.done
            message = f"features of {self.done}/{self.total} files"
            event = ProgressEvent(Stage.FEATURES, done=self.done, total=self.total, message=message)
            self._on_progress(event)
