"""SVOX pico (``pico2wave``): one voice per language; every installed one reads the text.

The English voices (en-US, en-GB) read it natively; the German, Spanish, French and Italian
voices read English text with their own rules and sound, which is the point: more accents.
Tempo and pitch go in pico's own markup (``<speed level>``, ``<pitch level>``, percent of the
voice's own).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from mww_trainer.synth.engines import (
    EngineSpeaker,
    ProgramEngine,
    Prosody,
    not_found,
    require_program,
)

FAMILY = "pico"
LANG_DIR = Path("/usr/share/pico/lang")
# pico2wave's languages; a language speaks when its text-analysis file is installed.
_LANGUAGES = ("de-DE", "en-GB", "en-US", "es-ES", "fr-FR", "it-IT")
_LEVEL_RANGE = {"speed": (20, 500), "pitch": (50, 200)}


def installed_languages(lang_dir: Path = LANG_DIR) -> tuple[str, ...]:
    return tuple(lang for lang in _LANGUAGES if (lang_dir / f"{lang}_ta.bin").is_file())


def _level(kind: str, scale: float) -> int:
    low, high = _LEVEL_RANGE[kind]
    return min(high, max(low, round(100 * scale)))


def markup(text: str, prosody: Prosody) -> str:
    speed, pitch = _level("speed", prosody.tempo), _level("pitch", prosody.pitch_scale)
    return f"<speed level='{speed}'><pitch level='{pitch}'>{escape(text)}</pitch></speed>"


class Pico(ProgramEngine):
    family = FAMILY

    @classmethod
    def find(cls, language: str) -> Pico:
        pico2wave = require_program(FAMILY, "pico2wave")
        languages = installed_languages()
        if not languages:
            raise not_found(FAMILY, f"no pico voice in {LANG_DIR}")
        return cls(pico2wave, tuple(EngineSpeaker(FAMILY, lang, lang) for lang in languages))

    def command(self, text: str, speaker: EngineSpeaker, prosody: Prosody, wav: Path) -> list[str]:
        return [self.program, "-l", speaker.voice, "-w", str(wav), "--", markup(text, prosody)]
