"""festival's voices (``text2wave -eval "(voice_NAME)"``): diphone, HTS and other voices.

Every installed voice of the dataset's language is offered, except festival's MBROLA voices
(``us1_mbrola``...): they speak with the same diphones as the mbrola family, and a family held
out for validation must not be heard in training through another engine.

Tempo: ``Duration_Stretch`` (diphone voices) and hts_engine's ``-r`` (HTS voices); pitch: the
intonation model's target mean (``int_lr_params``), where the voice has one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from mww_trainer.synth.engines import (
    EngineSpeaker,
    ProgramEngine,
    Prosody,
    folder_safe,
    not_found,
    require_program,
    run_tool,
)

FAMILY = "festival"
# festival's language names, as voice descriptions give them, by the options' language codes.
_LANGUAGES = {
    "en": "english",
    "es": "spanish",
    "it": "italian",
    "cs": "czech",
    "fi": "finnish",
    "ru": "russian",
    "ca": "catalan",
    "hi": "hindi",
    "mr": "marathi",
    "te": "telugu",
}
_LIST_VOICES = (
    '(mapcar (lambda (v) (format t "%s %l\\n" v '
    "(cadr (assoc 'language (cadr (voice.description v)))))) (voice.list))"
)
_SKIPPED_SUFFIX = "_mbrola"


@lru_cache(maxsize=4)
def installed_voices(festival: str, language: str) -> tuple[str, ...]:
    """festival's voices that speak ``language`` (MBROLA ones left out), sorted."""
    out = run_tool([festival, "--pipe"], what="festival --pipe", stdin=_LIST_VOICES)
    wanted = _LANGUAGES.get(language.split("-")[0], language)
    found = set()
    for line in out.decode("utf-8", "replace").splitlines():
        words = line.split()
        mbrola = bool(words) and words[0].endswith(_SKIPPED_SUFFIX)
        if len(words) == 2 and words[1].lower() == wanted and not mbrola:
            found.add(words[0])
    return tuple(sorted(found))


def controls(prosody: Prosody) -> str:
    """Scheme that sets the tempo and pitch of whichever voice was just selected."""
    stretch, rate = round(1 / prosody.tempo, 4), round(prosody.tempo, 4)
    f0 = round(prosody.pitch_scale, 4)
    return (
        f"(begin (Parameter.set 'Duration_Stretch {stretch}) "
        "(if (symbol-bound? 'hts_engine_params) (set! hts_engine_params "
        f'(append hts_engine_params (list (list "-r" {rate}))))) '
        "(if (assoc 'target_f0_mean int_lr_params) (set! int_lr_params (cons (list "
        f"'target_f0_mean (* {f0} (cadr (assoc 'target_f0_mean int_lr_params)))) "
        "int_lr_params))))"
    )


class Festival(ProgramEngine):
    family = FAMILY

    @classmethod
    def find(cls, language: str) -> Festival:
        festival = require_program(FAMILY, "festival")
        text2wave = require_program(FAMILY, "text2wave")
        names = installed_voices(festival, language)
        if not names:
            raise not_found(FAMILY, f"festival has no voice for {language!r}")
        return cls(text2wave, tuple(EngineSpeaker(FAMILY, n, folder_safe(n)) for n in names))

    def command(self, text: str, speaker: EngineSpeaker, prosody: Prosody, wav: Path) -> list[str]:
        voice = f"(voice_{speaker.voice})"
        return [self.program, "-o", str(wav), "-eval", voice, "-eval", controls(prosody)]

    def stdin(self, text: str) -> str | None:
        return text + "\n"
