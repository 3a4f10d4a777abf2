"""Audio for the sample library: convert, trim, judge and file each clip; read zips safely.

Everything here is blocking (decoding, resampling, zip reading): callers run it in a thread.
Clips are stored the way the trainer ingests them, 16 kHz mono 16-bit WAV, under
`dataset/<label folder>/<speaker>/<source>_<id>.wav`.
"""

from __future__ import annotations

import hashlib
import re
import stat
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from addon.errors import bad_request
from addon.store import LABELS, NewSample, ProjectLayout
from mww_trainer import constants
from mww_trainer.data.audio import probe_audio, read_audio, trim_silence, write_wav
from mww_trainer.data.ingest.model import Limits
from mww_trainer.errors import AudioError

SPEECH_LABELS = ("positive", "hard_negative")  # one utterance per clip
LONG_LABELS = ("negative", "background")  # long recordings, cut into windows by the trainer
SILENT_PEAK = 10 ** (-60 / 20)  # -60 dBFS, as the trainer's ingest judges it
CLIPPED_FRACTION = 0.001  # of samples at full scale
MAX_ZIP_MEMBERS = 20000
ZIP_EXPANSION = 4  # a zip may unpack to this many times the upload limit
# Letters and digits of any script (Jürgen, Zoë, 李), then also spaces, '_', '.', '+', '-'.
SPEAKER_PATTERN = re.compile(r"[^\W_][\w .+\-]{0,63}")
_IGNORED_MEMBERS = ("__MACOSX/",)
_LIMITS = Limits()
# The longest file each label accepts (s): one utterance or room response, or long recordings.
# Decoding stops there, so a small compressed file cannot unpack into gigabytes of samples.
MAX_DURATION_S = {
    "positive": 60.0,
    "hard_negative": 60.0,
    "rir": 60.0,
    "negative": 3600.0,
    "background": 3600.0,
}


@dataclass(frozen=True)
class Clip:
    """A decoded clip ready to be filed: 16 kHz mono int16, with what we noticed about it."""

    samples: np.ndarray
    flags: tuple[str, ...]
    sha256: str

    @property
    def duration_s(self) -> float:
        return len(self.samples) / constants.SAMPLE_RATE_HZ


def check_label(label: str) -> str:
    if label not in LABELS:
        raise bad_request(f"label: {label!r} is not one of {', '.join(LABELS)}")
    return label


def check_speaker(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not SPEAKER_PATTERN.fullmatch(name):
        raise bad_request(
            f"speaker: {name!r} is not allowed; use up to 64 letters, digits, spaces, '_', '-',"
            " '.' or '+', starting with a letter or digit"
        )
    return name


def speaker_folder(name: str) -> str:
    return check_speaker(name).replace(" ", "_").lower()


def prepare_clip(path: Path, label: str, *, trim: bool = False) -> Clip:
    """Decode any readable audio file to the device's format; trim speech if asked."""
    info = probe_audio(path)
    samples = read_audio(path, max_duration_s=MAX_DURATION_S[label])
    if trim and label in SPEECH_LABELS:
        samples = trim_silence(samples)
    flags = quality_flags(samples, label)
    if info.rate_hz < constants.SAMPLE_RATE_HZ:  # converting is routine; this loses sound
        flags = (*flags, "low_rate")
    return Clip(samples, flags, hashlib.sha256(np.ascontiguousarray(samples).data).hexdigest())


def quality_flags(samples: np.ndarray, label: str) -> tuple[str, ...]:
    """Warnings the panel shows: clipped, silent, too_short, too_long.

    A room response (rir) is an echo a fraction of a second long: never too short.
    """
    flags = []
    # No widened copies: an hour of background is 115 MB as int16 and four times that as int64.
    peak = max(int(samples.max()), -int(samples.min())) if len(samples) else 0
    at_full_scale = np.count_nonzero(samples >= 32767) + np.count_nonzero(samples <= -32767)
    if len(samples) and at_full_scale / len(samples) > CLIPPED_FRACTION:
        flags.append("clipped")
    if peak < SILENT_PEAK * 32768:
        flags.append("silent")
    duration_s = len(samples) / constants.SAMPLE_RATE_HZ
    shortest = _LIMITS.min_long_s if label in LONG_LABELS else _LIMITS.min_clip_s
    if duration_s < shortest and label != "rir":
        flags.append("too_short")
    if label not in LONG_LABELS and duration_s > _LIMITS.max_clip_s:
        flags.append("too_long")
    return tuple(flags)


def file_clip(
    layout: ProjectLayout, clip: Clip, *, label: str, speaker: str, source: str, user: str | None
) -> NewSample:
    """Writes the clip atomically into the dataset; returns the row that describes it."""
    folder = layout.label_dir(label) / speaker_folder(speaker)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source}_{uuid.uuid4().hex[:12]}.wav"
    write_wav(path, clip.samples)
    return NewSample(
        label=label,
        speaker=check_speaker(speaker),
        source=source,
        duration_s=round(clip.duration_s, 3),
        flags=clip.flags,
        path=path.relative_to(layout.root).as_posix(),
        sha256=clip.sha256,
        created_by=user,
    )


# --- zips --------------------------------------------------------------------------------------


def unsafe_member_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be extracted (path traversal, absolute path, link), or None."""
    name = info.filename
    if "\x00" in name or "\\" in name:
        return "has a backslash or NUL in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the folder with '..'"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def open_checked_zip(path: Path, max_bytes: int) -> zipfile.ZipFile:
    """Opens a zip only when every member is safe; otherwise refuses it whole, naming why."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise bad_request(f"the upload is not a readable zip file ({exc})") from None
    members = archive.infolist()
    problems = [f"{i.filename!r} {r}" for i in members if (r := unsafe_member_reason(i))]
    if len(members) > MAX_ZIP_MEMBERS:
        problems.append(f"it holds {len(members)} files; at most {MAX_ZIP_MEMBERS} are accepted")
    unpacked = sum(i.file_size for i in members)
    if unpacked > max_bytes * ZIP_EXPANSION:
        problems.append(
            f"it unpacks to {unpacked / 2**20:.0f} MiB, more than "
            f"{max_bytes * ZIP_EXPANSION / 2**20:.0f} MiB"
        )
    if problems:
        archive.close()
        shown = "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
        raise bad_request(f"zip refused, nothing was extracted: {shown}")
    return archive


def audio_members(archive: zipfile.ZipFile) -> Iterator[zipfile.ZipInfo]:
    """Files worth trying as audio: no folders, hidden files or macOS resource forks."""
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if info.is_dir() or name.name.startswith(".") or info.filename.startswith(_IGNORED_MEMBERS):
            continue
        yield info


def extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, tmp_dir: Path) -> Path:
    """One member into tmp_dir under a name of our choosing (never the member's path).

    A member damaged inside the zip (bad CRC, broken compressed data, an unknown method) is a
    UserError naming it.
    """
    suffix = PurePosixPath(info.filename).suffix[:10]
    target = tmp_dir / f"member_{uuid.uuid4().hex}{suffix}"
    try:
        with archive.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        target.unlink(missing_ok=True)
        raise bad_request(
            f"{info.filename}: damaged inside the zip ({exc}); zip the file again"
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def clip_or_reason(path: Path, label: str, *, trim: bool, shown_as: str) -> Clip | str:
    """The prepared clip, or a line saying why the file is not usable audio.

    `path` is a temporary copy under a name of ours: the line names `shown_as` (the user's
    file name) instead, wherever the decoder's message mentions the copy.
    """
    try:
        return prepare_clip(path, label, trim=trim)
    except AudioError as exc:
        reason = str(exc).split(": ", 1)[-1].replace(path.name, shown_as)
        return f"{shown_as}: {reason}"
