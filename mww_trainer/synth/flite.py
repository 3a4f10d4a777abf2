"""flite's built-in voices (``flite -lv``): CMU's diphone and clustergen voices, English only.

Tempo: ``--setf duration_stretch``; pitch: ``--setf int_f0_target_mean``, the voice's own mean
(measured once from each built-in voice) scaled.
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

FAMILY = "flite"
# Limited-domain voices say only what they were built for (awb_time: the time of day).
_LIMITED_DOMAIN = ("_time",)
# Each built-in voice's median pitch in Hz (flite 2.2, measured on a sentence); others: 120.
_OWN_F0_HZ = {"kal": 97, "kal16": 98, "awb": 113, "rms": 98, "slt": 167}
_DEFAULT_F0_HZ = 120


@lru_cache(maxsize=2)
def builtin_voices(flite: str) -> tuple[str, ...]:
    """``flite -lv``'s voices, limited-domain ones left out, sorted."""
    out = run_tool([flite, "-lv"], what="flite -lv").decode("utf-8", "replace")
    _, _, names = out.partition(":")
    return tuple(sorted(n for n in names.split() if not n.endswith(_LIMITED_DOMAIN)))


def settings(voice: str, prosody: Prosody) -> list[str]:
    stretch = round(1 / prosody.tempo, 4)
    f0_hz = round(_OWN_F0_HZ.get(voice, _DEFAULT_F0_HZ) * prosody.pitch_scale, 1)
    return ["--setf", f"duration_stretch={stretch}", "--setf", f"int_f0_target_mean={f0_hz}"]


class Flite(ProgramEngine):
    family = FAMILY

    @classmethod
    def find(cls, language: str) -> Flite:
        flite = require_program(FAMILY, "flite")
        if language.split("-")[0] != "en":
            raise not_found(FAMILY, f"flite's voices speak English, not {language!r}")
        names = builtin_voices(flite)
        if not names:
            raise not_found(FAMILY, "flite -lv lists no voice")
        return cls(flite, tuple(EngineSpeaker(FAMILY, n, folder_safe(n)) for n in names))

    def command(self, text: str, speaker: EngineSpeaker, prosody: Prosody, wav: Path) -> list[str]:
        args = [self.program, "-voice", speaker.voice, *settings(speaker.voice, prosody)]
        return [*args, "-t", text, "-o", str(wav)]
