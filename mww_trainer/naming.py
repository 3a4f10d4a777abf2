"""One slug rule for every name made from a wake word: project folders, model files, ESPHome ids."""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG_CHARS = 40
_SILENT = re.compile(r"['’]")  # "don't" is "dont", not "don_t"
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slug(text: str, *, max_chars: int = MAX_SLUG_CHARS) -> str:
    """ "Hey Jürgen!" -> "hey_jurgen": lower-case ASCII letters, digits and underscores, accents
    dropped, never starting with a digit (it names C++ ids too); "" when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _NOT_WORD.sub("_", _SILENT.sub("", ascii_text.lower())).strip("_")
    result = words[:max_chars].strip("_")
    if result and result[0].isdigit():
        result = f"ww_{result}"[:max_chars].strip("_")
    return result
