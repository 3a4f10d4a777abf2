"""The speech in Flight of the Amazon Queen's resource bundle (``queen.1c``).

Debian's ``flight-of-the-amazon-queen`` installs the game's freeware CD release as one file
that ScummVM reads: a table of entries ("QTBL" rebuilt format) followed by the entries. Its
.SB entries are the voice-acted dialogue, each line compressed on its own (MP3 in Debian's
copy; Ogg Vorbis or FLAC in other rebuilds): about 4.6 hours of English spoken by the hero
and the many characters he talks to. Only the table is read up front; a line is read and
decoded when it is used. The game's script lies beside the speech (queen_texts reads it to
tell what each line says).

Layout (big-endian): "QTBL", a 6-byte version, two reserved bytes, the compression of the
speech (0 none, 1 MP3, 2 Ogg Vorbis, 3 FLAC), the number of entries (uint16); then per
entry a 12-byte NUL-padded name, the bundle number (1 byte), offset and size (uint32 each).
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

MAGIC = b"QTBL"
_HEADER = struct.Struct(">4s6s2xBH")
_ENTRY = struct.Struct(">12sBII")
# Uncompressed speech is 8-bit PCM in a headered format of its own, which this reader
# does not decode; every rebuilt bundle with speech that ScummVM publishes is compressed.
COMPRESSED = {1: "MP3", 2: "Ogg Vorbis", 3: "FLAC"}
# A dialogue line is named for its conversation and who speaks it: "020006J1.SB" is Joe's
# first line in conversation 020006 and "020006P1.SB" the other person's reply.
_LINE = re.compile(r"^[0-9A-Z]*?([A-Z])(\d+)\.SB$")


@dataclass(frozen=True)
class Line:
    """One entry inside the bundle: a compressed line of dialogue (``.SB``) or another
    resource."""

    name: str
    offset: int
    size: int


class BundleError(ValueError):
    """The file is not a rebuilt Queen bundle with compressed speech."""


def read_entries(path: Path) -> list[Line]:
    """Every entry of the bundle that lies inside the file, in table order: the speech lines
    and the game's other resources (its text among them, which queen_texts reads)."""
    with path.open("rb") as f:
        header = f.read(_HEADER.size)
        if len(header) < _HEADER.size or not header.startswith(MAGIC):
            raise BundleError(f"{path} is not a rebuilt Queen resource bundle (no QTBL table)")
        _, _version, compression, count = _HEADER.unpack(header)
        if compression not in COMPRESSED:
            raise BundleError(f"{path} holds uncompressed speech ({compression}), not read here")
        table = f.read(count * _ENTRY.size)
    if len(table) < count * _ENTRY.size:
        raise BundleError(f"{path} is cut short: its table lists {count} entries")
    end = path.stat().st_size
    entries = []
    for raw_name, _bundle, offset, size in _ENTRY.iter_unpack(table):
        name = raw_name.rstrip(b"\0").decode("ascii", "replace")
        if offset + size <= end:
            entries.append(Line(name, offset, size))
    return entries


def read_lines(path: Path) -> list[Line]:
    """The bundle's speech lines, in table order."""
    return [e for e in read_entries(path) if e.name.endswith(".SB") and e.size > 0]


def speaker(line: Line) -> str:
    """The speaker of a line: "joe" for the hero, "others" for everyone he talks to (many
    actors, whom the names do not tell apart), "effects" for the sound effects the bundle
    files among the speech ("1001SSSS.SB": a number padded with S, no speaker letter)."""
    if line.name.removesuffix(".SB").endswith("SSSS"):
        return "effects"
    match = _LINE.match(line.name)
    return "joe" if match and match.group(1) == "J" else "others"


def read_line(path: Path, line: Line) -> bytes:
    with path.open("rb") as f:
        f.seek(line.offset)
        return f.read(line.size)


def seconds(path: Path, line: Line) -> float:
    info = soundfile.info(io.BytesIO(read_line(path, line)))
    return info.frames / info.samplerate


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """A line's samples (float32, channels averaged) and their rate."""
    audio, rate_hz = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate_hz
