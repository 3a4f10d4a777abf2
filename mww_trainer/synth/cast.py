"""Who speaks: the engine families found on this machine, and the voices of each.

Every family asked for (``SynthOptions.engines``, or all of :data:`FAMILIES`, less
``exclude_engines``) is looked for. One asked for by name (or piper, when ``piper_voices`` is
given) must be there: its absence is an error naming the package to install. One simply not
installed is skipped, with a note saying which package brings it.
``voices_split`` keeps one of two disjoint halves of each family's sorted voices (espeak-ng's:
of its variants).

Families speak in equal shares (see ``dataset.py`` and ``render.py``); within a family, its
voices take turns (positives) or are drawn at random (everything else).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mww_trainer.synth import espeak
from mww_trainer.synth.engines import (
    FAMILIES,
    PACKAGES,
    Engine,
    EngineNotFoundError,
    EngineSpeaker,
    not_found,
    split_half,
)
from mww_trainer.synth.festival import Festival
from mww_trainer.synth.flite import Flite
from mww_trainer.synth.mbrola import Mbrola
from mww_trainer.synth.options import SynthOptions
from mww_trainer.synth.pico import Pico
from mww_trainer.synth.piper_voices import PiperSpeaker, PiperVoices

AnySpeaker = espeak.Speaker | PiperSpeaker | EngineSpeaker
_ENGINES: dict[str, Callable[[SynthOptions], Engine]] = {
    "mbrola": lambda opts: Mbrola.find(opts.language, accents=opts.accents),
    "festival": lambda opts: Festival.find(opts.language),
    "flite": lambda opts: Flite.find(opts.language),
    "pico": lambda opts: Pico.find(opts.language),
}


@dataclass(frozen=True)
class Cast:
    """The families that speak (in :data:`FAMILIES` order) and their voices."""

    speakers: Mapping[str, tuple[AnySpeaker, ...]]  # never empty for a family listed
    engines: Mapping[str, Engine] = field(default_factory=dict)  # mbrola, festival, flite, pico
    espeak: str | None = None  # the espeak-ng binary, when the espeak family speaks
    piper: PiperVoices | None = None
    notes: tuple[str, ...] = ()  # families skipped, and why

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self.speakers)

    def pick(self, rng: np.random.Generator) -> AnySpeaker:
        """A speaker of a family drawn with equal chances, then a voice of it at random."""
        family = self.families[int(rng.integers(len(self.families)))]
        voices = self.speakers[family]
        return voices[int(rng.integers(len(voices)))]

    def summary(self) -> dict[str, Any]:
        """What the manifest says about each engine, besides how many clips it spoke."""
        out: dict[str, Any] = {}
        for family, voices in self.speakers.items():
            out[family] = {"voices": len(voices)}
            if family in self.engines:
                out[family] |= self.engines[family].summary()
        return out


def wanted(opts: SynthOptions) -> tuple[tuple[str, ...], frozenset[str]]:
    """The families to look for, and those that must be found."""
    asked = FAMILIES if opts.engines is None else opts.engines
    families = tuple(f for f in FAMILIES if f in asked and f not in opts.exclude_engines)
    required = set(opts.engines or ())
    if opts.piper_voices is not None:  # not voice_pack_dirs: a pack may speak another language
        required.add("piper")
    return families, frozenset(required & set(families))


def find_cast(opts: SynthOptions) -> Cast:
    """Every wanted family's voices, the engines that speak them, and notes on those skipped."""
    families, required = wanted(opts)
    speakers: dict[str, tuple[AnySpeaker, ...]] = {}
    engines: dict[str, Engine] = {}
    binary, piper, notes = None, None, []
    for family in families:
        try:
            if family == "espeak":
                binary = espeak.find_espeak()
                voices: tuple[AnySpeaker, ...] = espeak.speakers(
                    binary, opts.language, opts.voices_split, accents=opts.accents
                )
            elif family == "piper":
                piper = _piper(opts)
                voices = split_half(piper.speakers, opts.voices_split)
            else:
                engines[family] = _ENGINES[family](opts)
                voices = split_half(engines[family].speakers(), opts.voices_split)
            if not voices:
                raise not_found(family, f"no voice in the {opts.voices_split} half of its voices")
        except EngineNotFoundError as exc:
            if family in required:
                raise
            detail = getattr(exc, "detail", "") or "not installed"
            notes.append(f"{family}: skipped ({detail}); it comes with {PACKAGES[family]}")
            continue
        speakers[family] = voices
    if not speakers:
        raise EngineNotFoundError(
            "no speech engine is installed (looked for "
            f"{', '.join(families) or 'none: every engine is excluded'}); install at least "
            f"{PACKAGES['espeak']} (apt-get install -y espeak-ng)"
        )
    return Cast(speakers, engines, binary if "espeak" in speakers else None, piper, tuple(notes))


def _piper(opts: SynthOptions) -> PiperVoices:
    """piper's voices: ``piper_voices``', the voice packs' and the installed voice packages'."""
    found = PiperVoices.find(opts.piper_voices, opts.language, opts.voice_pack_dirs)
    if found is None:
        raise not_found("piper", f"no piper voice for {opts.language!r}")
    return found
