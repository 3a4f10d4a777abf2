"""What each speech line of Flight of the Amazon Queen's bundle says, from the game's own text.

The bundle (queen_bundle) holds the script beside the speech, uncompressed, and the game
names each spoken line after the text it voices, so names and texts can be joined without
listening. Three kinds of entry hold text. Numbers are big-endian; a string is a length
byte and its characters, padded so the next field starts on an even offset (4-aligned in a
dialogue's string tables); offsets count from the end of an entry's 20-byte bank header:

- ``.DOG``, one conversation: at 0 the number of menu levels (negative when it cannot be
  left), at 4 its voice key, at 6 and 8 how many strings the hero and the other person
  have, at 22 and 26 where the other person's strings and the "met before" greetings are.
  The hero's strings follow the menu (32 + 96 bytes a level). Each string table entry is
  2 unused bytes, a 16-bit string number and the string. A line is named by the key in
  two digits, the number in four hex digits and J (the hero) or P (the other person),
  zero-padded: string 0x1E of key 2 said by the other person is ``02001EP``. The hero's
  string 0 is his opening line (``02SSSSJ``); the greetings are ``02XXXXP`` and
  ``02XXXXJ``; a "0" among these means the conversation has none.
- ``.CUT``, one cutscene: at 2 its number of steps (negative when it cannot be skipped),
  at 8 where its sentences are: an opening string, then one sentence a step, in order.
  Step 7 of C41B.CUT is named ``C41B_07`` (the name padded with ``_`` to five letters).
  A sentence of ``*`` says nothing and one starting ``#`` starts the credits.
- ``QUEEN.JAS`` counts the rooms, names, objects and descriptions (four 16-bit numbers
  at 0) for ``QUEEN2.JAS``: the game's strings, plain text without a bank header, a line
  each (CRLF). First the object descriptions, then names, rooms and twelve verbs, then the
  hero's forty stock replies. He says reply 7 as ``JOE0007`` and description 2 as
  ``JOE0042`` (40 + 2).

Within a sentence, ``*`` and two letters or digits (``*XY`` and eleven more: a walk to a
point) are stage directions. They cut it into pieces that are spoken one file each, the
piece's number in one hex digit ending the name: ``020006J1.SB``, ``020006J2.SB``.

On Debian's bundle this gives the text of 6,587 of its 6,745 speech lines. The other 158
stay unknown: 136 sound effects (``27SSSSSS``, ``105ASSSS``; recorded.py leaves them
out), and 22 recordings whose text
the script does not hold (``MIK_0019``, ``UNTITLED``, ``ROCKPAKS``, a third piece of
``570020P`` whose sentence has two). An entry it cannot read names nothing, so its lines
stay unknown too.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from mww_trainer.synth import queen_bundle

_BANK_HEADER = 20  # bytes before an entry's own data ("AmBk" and sizes)
_STOCK_REPLIES = 40  # the hero's stock replies in QUEEN2.JAS
_VERBS = 12
_MENU_LEVEL = 96  # bytes a dialogue menu level takes: 6 options of 16 bytes
_HERO_MENU_START = 32  # bytes of a dialogue's own header, before its menu
_TEXT = "latin-1"
_NOTHING = "0"  # an opening line or greeting that a conversation does not have


class _Damaged(ValueError):
    """An entry ends before what it says it holds."""


def read_texts(path: Path) -> dict[str, str]:
    """``{line name: what it says}`` for the speech lines of the bundle at ``path`` whose
    text the game holds (``"020006J1.SB": "At least I don't look like I need to wear
    one."``); see the module docstring. Reads only the text entries, never the speech."""
    entries = {e.name: e for e in queen_bundle.read_entries(path)}
    sentences: list[tuple[str, str]] = []
    with path.open("rb") as f:
        for name, entry in entries.items():
            stem, _, kind = name.rpartition(".")
            try:
                if kind == "DOG":
                    sentences += _dialogue(_read(f, entry))
                elif kind == "CUT":
                    sentences += _cutscene(stem, _read(f, entry))
                elif name == "QUEEN2.JAS" and "QUEEN.JAS" in entries:
                    counts = _read(f, entries["QUEEN.JAS"])
                    sentences += _remarks(counts, _read(f, entry, header=0))
            except (_Damaged, IndexError, struct.error):
                continue  # a damaged entry names nothing; its lines stay unknown
    texts: dict[str, str] = {}
    for prefix, sentence in sentences:
        for number, piece in enumerate(_pieces(sentence), start=1):
            name = _file_name(prefix, number)
            # The game plays the first sentence of a number (LARIS.DOG has two of 0x20).
            if name in entries and piece.strip() and name not in texts:
                texts[name] = piece
    return texts


def _read(f: BinaryIO, entry: queen_bundle.Line, header: int = _BANK_HEADER) -> bytes:
    f.seek(entry.offset + header)
    return f.read(max(entry.size - header, 0))


def _file_name(prefix: str, number: int) -> str:
    return f"{prefix}{number:X}.SB".upper()


def _string(data: bytes, at: int, align: int) -> tuple[str, int]:
    """The string at ``at`` and where the next field starts."""
    length = data[at]
    at += 1
    if not length:
        return "", at
    if at + length > len(data):
        raise _Damaged(f"a string of {length} bytes runs past the entry")
    text = data[at : at + length].decode(_TEXT)
    return text, (at + length + align - 1) & ~(align - 1)


def _int16(data: bytes, at: int) -> int:
    return struct.unpack_from(">h", data, at)[0]


def _uint16(data: bytes, at: int) -> int:
    return struct.unpack_from(">H", data, at)[0]


def _table(data: bytes, at: int, count: int) -> list[tuple[int, str]]:
    """A dialogue's strings: ``count`` of (number, string)."""
    out = []
    for _ in range(count):
        number = _int16(data, at + 2)
        text, at = _string(data, at + 4, 4)
        out.append((number, text))
    return out


def _dialogue(data: bytes) -> list[tuple[str, str]]:
    levels, key = abs(_int16(data, 0)), _int16(data, 4)
    hero_count, other_count = _int16(data, 6), _int16(data, 8)
    other_at, greeting_at = _uint16(data, 22), _uint16(data, 26)
    out = []
    for index, (number, text) in enumerate(
        _table(data, _HERO_MENU_START + levels * _MENU_LEVEL, hero_count)
    ):
        if index == 0 and number == 0:
            out.append((f"{key:02d}SSSSJ", text))
        elif number > 0:
            out.append((f"{key:02d}{number:04X}J", text))
    out += [(f"{key:02d}{n:04X}P", t) for n, t in _table(data, other_at, other_count) if n > 0]
    other, at = _string(data, greeting_at, 2)
    hero, _ = _string(data, at, 2)
    out += [(f"{key:02d}XXXXP", other), (f"{key:02d}XXXXJ", hero)]
    return [(prefix, said) for prefix, said in out if said != _NOTHING]


def _cutscene(stem: str, data: bytes) -> list[tuple[str, str]]:
    steps = abs(_int16(data, 2))
    _, at = _string(data, _uint16(data, 8), 2)  # the opening: a facing
    base = (stem + "_____")[:5]
    out = []
    for step in range(1, steps + 1):
        sentence, at = _string(data, at, 2)
        if sentence != "*" and not sentence.startswith("#"):
            out.append((f"{base}{step:02d}", sentence))
    return out


def _remarks(counts: bytes, strings: bytes) -> list[tuple[str, str]]:
    rooms, names, _objects, descriptions = struct.unpack_from(">4H", counts, 0)
    lines = strings.decode(_TEXT).split("\r\n")
    replies_at = descriptions + names + rooms + _VERBS
    if len(lines) < replies_at + _STOCK_REPLIES:
        raise _Damaged(f"QUEEN2.JAS has {len(lines)} lines, fewer than its counts need")
    out = [(f"JOE{n:04d}", lines[replies_at + n - 1]) for n in range(1, _STOCK_REPLIES + 1)]
    out += [(f"JOE{_STOCK_REPLIES + d:04d}", lines[d - 1]) for d in range(1, descriptions + 1)]
    return out


def _pieces(sentence: str) -> list[str]:
    """The sentence cut at its stage directions; piece n is spoken as file n."""
    pieces, start, at = [], 0, 0
    while at < len(sentence):
        if sentence[at] != "*":
            at += 1
            continue
        pieces.append(sentence[start:at])
        at += 1 + (13 if sentence[at + 1 : at + 3] == "XY" else 2)
        start = at
    if start < len(sentence):
        pieces.append(sentence[start:])
    return pieces
