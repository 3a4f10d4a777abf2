"""Find audio files under a role's folder and check each one, reading it only in bounded blocks.

Everything here only reads: the dataset folder is never written to.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mww_trainer import constants
from mww_trainer.data.audio import AudioInfo, probe_audio
from mww_trainer.data.ingest.model import (
    LONG_ROLES,
    ROOT_SPEAKER,
    SKIP,
    WARN,
    Limits,
    Problem,
    Role,
)
from mww_trainer.errors import AudioError

# Files we or other tools keep next to recordings (cluster lists, notes, caches): never audio,
# so they are not probed and not reported. Anything else is probed, whatever its name.
IGNORED_SUFFIXES = frozenset(
    {".json", ".jsonl", ".txt", ".csv", ".tsv", ".yaml", ".yml", ".md", ".log", ".npy", ".npz"}
    | {".partial", ".tmp", ".db", ".ini", ".pdf", ".jpg", ".png"}
)
# Texts that come with corpora and speech packs under names without an extension.
IGNORED_NAMES = frozenset({"LICENSE", "LICENCE", "COPYING", "README", "NOTICE", "AUTHORS"})
# Extensions that promise a container; content of another kind is read but flagged.
_EXPECTED_FORMATS = {
    ".wav": {"WAV", "WAVEX", "RF64"},
    ".flac": {"FLAC"},
    ".ogg": {"OGG"},
    ".oga": {"OGG"},
    ".opus": {"OGG"},
    ".mp3": {"MP3"},
    ".aif": {"AIFF"},
    ".aiff": {"AIFF"},
}
_BLOCK_FRAMES = 1 << 18  # 16 s at 16 kHz: 1 MiB of float32 per channel in memory at a time
_SILENT_PEAK = 10 ** (-60 / 20)  # -60 dBFS
# 16-bit full scale seen as float: 32767 / 32768 (positive) and -1.0 (negative).
_FULL_SCALE = 32767 / 32768
_CLIPPED_FRACTION = 0.001


@dataclass(frozen=True)
class Candidate:
    path: Path
    relpath: str
    role: Role


@dataclass(frozen=True)
class Inspection:
    candidate: Candidate
    sha256: str
    info: AudioInfo | None
    problems: tuple[Problem, ...]

    @property
    def usable(self) -> bool:
        return self.info is not None and all(p.severity != SKIP for p in self.problems)


def discover(root: Path, role: Role, prefix: str = "") -> list[Candidate]:
    """Every non-hidden, non-metadata file under root, recursively, in a stable order.

    ``prefix`` goes between the role and the path in each relpath (a folder outside the role's
    own, e.g. a speech pack's ``packs/<name>/``)."""
    found: list[Candidate] = []
    seen_dirs: set[str] = set()
    # followlinks: users link corpora into negative/; seen_dirs stops a link loop.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() in IGNORED_SUFFIXES:
                continue
            if name.upper() in IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            if not path.is_file():
                continue
            relpath = f"{role.value}/{prefix}{path.relative_to(root).as_posix()}"
            found.append(Candidate(path=path, relpath=relpath, role=role))
    return found


def speaker_of(candidate: Candidate, speaker_map: Mapping[str, str] | None) -> str:
    """The map's speaker, else the first sub-folder, else '_root' (positives) or the stem."""
    if speaker_map and candidate.relpath in speaker_map:
        return speaker_map[candidate.relpath]
    parts = candidate.relpath.split("/")[1:]
    if len(parts) > 1:
        return parts[0]
    return ROOT_SPEAKER if candidate.role == Role.POSITIVE else Path(parts[0]).stem


def inspect_file(candidate: Candidate, limits: Limits) -> Inspection:
    """Hash, probe and check one file; problems say what is wrong and whether it is skipped."""
    rel = candidate.relpath
    try:
        with candidate.path.open("rb") as handle:
            sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        info = probe_audio(candidate.path)
    except OSError as exc:
        return _rejected(candidate, "", f"{rel}: cannot be read ({exc.strerror or exc})")
    except AudioError as exc:
        return _rejected(candidate, sha256, f"{rel}: {_without_name(str(exc), candidate.path)}")
    if info.frames == 0:
        reason = f"{rel}: the file holds no audio samples; remove or replace it"
        return _rejected(candidate, sha256, reason)
    reason = _duration_problem(rel, candidate.role, info.duration_s, limits)
    if reason:
        return _rejected(candidate, sha256, reason)
    problems = [_level_problem(candidate, info)]
    problems += [_format_problem(candidate, info), _naming_problem(candidate, info)]
    found = tuple(p for p in problems if p is not None)
    usable_info = None if any(p.severity == SKIP for p in found) else info
    return Inspection(candidate, sha256, usable_info, found)


def _rejected(candidate: Candidate, sha256: str, reason: str) -> Inspection:
    return Inspection(candidate, sha256, None, (Problem(candidate.path, reason, SKIP),))


def _without_name(message: str, path: Path) -> str:
    # AudioError messages start with the file name; ours start with the longer relpath.
    prefix = f"{path.name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _duration_problem(rel: str, role: Role, duration_s: float, limits: Limits) -> str | None:
    if role == Role.NEGATIVE:
        # A negative shorter than a training clip is a word or two (e.g. a speech pack of
        # single words): it is trained on like a hard negative, in a window of its own.
        if duration_s < limits.min_clip_s:
            return (
                f"{rel}: {duration_s:.2f} s is too short for a negative (at least "
                f"{limits.min_clip_s:g} s); remove it or join it with other recordings"
            )
        return None
    if role in LONG_ROLES:
        if duration_s < limits.min_long_s:
            return (
                f"{rel}: {duration_s:.2f} s is shorter than one training clip "
                f"({limits.min_long_s:g} s); remove it or join it with other recordings"
            )
        return None
    if role != Role.RIR and duration_s < limits.min_clip_s:
        return (
            f"{rel}: {duration_s:.2f} s is too short for a {role.value} clip "
            f"(at least {limits.min_clip_s:g} s); remove it or record it again"
        )
    if duration_s > limits.max_clip_s:
        return (
            f"{rel}: {duration_s:.1f} s is too long for one {role.value} clip "
            f"(at most {limits.max_clip_s:g} s); cut it into single utterances"
        )
    return None


def _level_problem(candidate: Candidate, info: AudioInfo) -> Problem | None:
    rel = candidate.relpath
    try:
        peak, clipped = _scan_levels(candidate.path)
    except (sf.LibsndfileError, RuntimeError, OSError, AudioError) as exc:
        return Problem(candidate.path, f"{rel}: cannot be decoded ({exc}); re-export it", SKIP)
    if peak < _SILENT_PEAK:
        level = f"peak {20 * math.log10(peak):.0f} dBFS" if peak > 0 else "all samples zero"
        reason = f"{rel}: silent ({level}; below -60 dBFS); check the recording"
        return Problem(candidate.path, reason, SKIP)
    if clipped > _CLIPPED_FRACTION:
        reason = (
            f"{rel}: {clipped:.2%} of samples are at full scale (clipped); "
            "it is used, but record with less gain"
        )
        return Problem(candidate.path, reason, WARN)
    return None


def _scan_levels(path: Path) -> tuple[float, float]:
    """Peak magnitude and the fraction of samples at full scale, one block at a time."""
    peak, clipped, total = 0.0, 0, 0
    with sf.SoundFile(str(path)) as audio:
        for block in audio.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
            if not np.isfinite(block).all():
                raise AudioError("contains NaN or infinite samples")
            magnitude = np.abs(block)
            peak = max(peak, float(magnitude.max(initial=0.0)))
            clipped += int(np.count_nonzero(magnitude >= _FULL_SCALE))
            total += block.size
    if total == 0:
        raise AudioError("no samples could be decoded")
    return peak, clipped / total


def _format_problem(candidate: Candidate, info: AudioInfo) -> Problem | None:
    if info.rate_hz == constants.SAMPLE_RATE_HZ and info.channels == 1:
        return None
    layout = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels}-channel")
    reason = (
        f"{candidate.relpath}: {info.rate_hz / 1000:g} kHz {layout}; expected 16 kHz mono — "
        "it will be converted to 16 kHz mono"
    )
    return Problem(candidate.path, reason, WARN)


def _naming_problem(candidate: Candidate, info: AudioInfo) -> Problem | None:
    suffix = candidate.path.suffix.lower()
    expected = _EXPECTED_FORMATS.get(suffix)
    if expected is None or info.format in expected:
        return None
    # libsndfile reads by content, so the file is usable; the name just misleads other tools.
    reason = (
        f"{candidate.relpath}: holds {info.format} data although named {suffix}; "
        f"it is read as {info.format} (rename it to match)"
    )
    return Problem(candidate.path, reason, WARN)
