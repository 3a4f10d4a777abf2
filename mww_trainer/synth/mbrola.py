"""MBROLA voices through espeak-ng (``espeak-ng -v mb-us1``): diphones recorded from people.

espeak-ng lists every MBROLA voice it knows, installed or not; a voice speaks only when the
``mbrola`` program and the voice's diphone database (Debian's ``mbrola-us1`` and so on) are
installed, so only those are offered. espeak-ng's front end reads the text and its -s/-p set
the tempo and pitch, as for espeak-ng's own voices.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mww_trainer.synth import espeak
from mww_trainer.synth.engines import (
    EngineSpeaker,
    ProgramEngine,
    Prosody,
    not_found,
    require_program,
)

FAMILY = "mbrola"
# Where espeak-ng looks for a diphone database called NAME.
_DATABASE_PATHS = (
    "/usr/share/mbrola/{0}/{0}",
    "/usr/share/mbrola/{0}",
    "/usr/share/mbrola/voices/{0}",
)


def _database(voice_text: str) -> str | None:
    """The diphone database a voice file names (``mbrola us1 us_phtrans``), if any."""
    for line in voice_text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "mbrola":
            return words[1]
    return None


def _installed(database: str) -> bool:
    return any(Path(p.format(database)).is_file() for p in _DATABASE_PATHS)


@lru_cache(maxsize=8)
def installed_voices(binary: str, language: str) -> tuple[str, ...]:
    """espeak-ng's MBROLA voices (``mb-us1``...) for ``language`` whose database is installed."""
    data = espeak.data_path(binary)
    if data is None:
        return ()
    found = set()
    for row in espeak._voice_rows(binary, "mb"):
        if len(row) < 5 or not row[4].startswith("mb/"):
            continue
        lang, voice_file = row[1], row[4]
        if lang != language and not lang.startswith(language + "-"):
            continue
        try:
            text = (data / "voices" / voice_file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        database = _database(text)
        if database and _installed(database):
            found.add(voice_file.removeprefix("mb/"))
    return tuple(sorted(found))


def accented(voice: str) -> bool:
    """Whether an MBROLA voice reads one language with another's diphones: ``mb-de1-en`` is
    English in a German speaker's sounds, ``mb-us1`` a native voice."""
    return voice.count("-") >= 2


class Mbrola(ProgramEngine):
    """The installed MBROLA voices of one language, spoken through espeak-ng (``program``)."""

    family = FAMILY

    @classmethod
    def find(cls, language: str, *, accents: bool = False) -> Mbrola:
        """The installed voices of ``language``; those of speakers of other languages
        (``mb-de1-en``) only with ``accents``."""
        require_program(FAMILY, "mbrola")
        binary = espeak.find_espeak()
        names = [n for n in installed_voices(binary, language) if accents or not accented(n)]
        if not names:
            raise not_found(FAMILY, f"no MBROLA voice for {language!r} is installed")
        speakers = tuple(EngineSpeaker(FAMILY, n, n.removeprefix("mb-")) for n in names)
        return cls(binary, speakers)

    def speak(self, text: str, speaker: EngineSpeaker, prosody: Prosody) -> np.ndarray:
        return espeak.speak_voice(
            self.program, text, speaker.voice, speed_wpm=prosody.speed_wpm, pitch=prosody.pitch
        )

    def summary(self) -> dict[str, Any]:
        return {"via": espeak.espeak_version(self.program).split("  ")[0]}
