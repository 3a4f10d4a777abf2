"""espeak-ng as a speech source: find it, list its voices, speak text at 16 kHz, phonemise.

A *speaker* is one espeak base voice (an accent, e.g. ``gmw/en-US``) combined with one voice
variant (a timbre, e.g. ``m3``). Everything is discovered from the installed espeak-ng and
sorted, so the same installation always yields the same speakers in the same order.

With ``accents``, the main voices of a few other languages also read the phrase, with their
own rules (German's "hey computer" is "hai kompjuta"), as people whose first language is
another may say it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr

from mww_trainer import constants
from mww_trainer.errors import MwwError
from mww_trainer.synth.engines import EngineNotFoundError

INSTALL_HINT = "sudo apt-get install -y espeak-ng"
VOICE_SPLITS = ("all", "even", "odd")
# Languages whose main voice reads a phrase of another language with its own rules: the large
# Latin-script languages of Europe (English for phrases of the others), whose speakers often
# say a wake word named in another language.
ACCENT_LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pl", "pt")
# An accent voice is crossed with every ACCENT_VARIANT_STEP-th variant (those of the split),
# so the phrase language's own readings stay about three quarters of espeak-ng's voices.
ACCENT_VARIANT_STEP = 3
_WAV_HEADER_BYTES = 44
_TIMEOUT_S = 60


class EspeakNotFoundError(EngineNotFoundError):
    """espeak-ng is needed to synthesise speech and is not installed."""


@dataclass(frozen=True, order=True)
class Speaker:
    """One synthetic speaker: an espeak base voice plus a variant."""

    language: str  # the voice's language tag, e.g. "en-us"
    voice_file: str  # espeak's voice file, e.g. "gmw/en-US"
    variant: str  # espeak's variant file name, e.g. "m3"

    family = "espeak"

    @property
    def name(self) -> str:
        """Folder-safe, human-readable speaker name, e.g. ``espeak-en-us+m3``."""
        return f"espeak-{self.language}+{self.variant}"

    @property
    def espeak_id(self) -> str:
        return f"{self.voice_file}+{self.variant}"


def find_espeak() -> str:
    """The espeak-ng executable's path, or a user error that says how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakNotFoundError(
            f"espeak-ng is not installed; it is needed to synthesise speech. "
            f"Install it with: {INSTALL_HINT}"
        )
    return path


def _run(binary: str, args: list[str], text: str | None = None) -> bytes:
    proc = subprocess.run(
        [binary, *args],
        input=None if text is None else text.encode("utf-8"),
        capture_output=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise MwwError(f"espeak-ng {' '.join(args)} failed (exit {proc.returncode}): {err}")
    return proc.stdout


@lru_cache(maxsize=8)
def espeak_version(binary: str) -> str:
    return _run(binary, ["--version"]).decode("utf-8", "replace").strip()


def data_path(binary: str) -> Path | None:
    """espeak-ng's data folder, as ``espeak-ng --version`` reports it; None if it says none."""
    _, sep, tail = espeak_version(binary).partition("Data at:")
    return Path(tail.strip()) if sep and tail.strip() else None


def _voice_rows(binary: str, query: str) -> list[list[str]]:
    text = _run(binary, [f"--voices={query}"]).decode("utf-8", "replace")
    return [line.split() for line in text.splitlines()[1:] if line.strip()]


@lru_cache(maxsize=8)
def base_voices(binary: str, language: str) -> tuple[tuple[str, str], ...]:
    """(language tag, voice file) of each espeak voice for ``language``; MBROLA voices left out."""
    found = set()
    for row in _voice_rows(binary, language):
        if len(row) < 5:
            continue
        lang, voice_file = row[1], row[4]
        if voice_file.startswith(("mb/", "!v/")) or lang == "variant":
            continue  # MBROLA voices need extra packages; variants are listed separately
        if lang == language or lang.startswith(language + "-"):
            found.add((lang, voice_file))
    return tuple(sorted(found))


@lru_cache(maxsize=2)
def variants(binary: str) -> tuple[str, ...]:
    """Variant names usable as ``voice+variant`` (names with spaces are left out)."""
    text = _run(binary, ["--voices=variant"]).decode("utf-8", "replace")
    names = set()
    for line in text.splitlines()[1:]:
        _, sep, tail = line.partition("!v/")
        name = tail.split("  ")[0].strip() if sep else ""
        if name and " " not in name:
            names.add(name)
    return tuple(sorted(names, key=lambda n: (n.lower(), n)))


def split_variants(names: tuple[str, ...], split: str) -> tuple[str, ...]:
    """Half of the variants: ``even``/``odd`` positions in the sorted list, or ``all``."""
    if split not in VOICE_SPLITS:
        raise MwwError(f"voices split {split!r} is not allowed (one of {', '.join(VOICE_SPLITS)})")
    if split == "all":
        return names
    start = 0 if split == "even" else 1
    return names[start::2]


def accent_voices(binary: str, language: str) -> tuple[tuple[str, str], ...]:
    """(language tag, voice file) of the main voice of each accent language but ``language``."""
    found = []
    for accent in ACCENT_LANGUAGES:
        if accent == language or language.startswith(accent + "-"):
            continue
        voices = base_voices(binary, accent)
        # The main voice's file is named for the language (roa/fr, not roa/fr-BE).
        main = [v for v in voices if v[1].rsplit("/", 1)[-1].lower() == accent]
        found.extend(main[:1])
    return tuple(found)


def speakers(
    binary: str, language: str, split: str = "all", *, accents: bool = False
) -> tuple[Speaker, ...]:
    """Every base voice of ``language`` crossed with the variants of one split half, then
    (``accents``) each accent voice crossed with a third of those variants.

    The halves are split by variant (the timbre), so a training set built from ``even`` and a
    test set built from ``odd`` share no voice timbre at all.
    """
    voices = base_voices(binary, language)
    if not voices:
        raise MwwError(
            f"espeak-ng has no voice for language {language!r}; "
            "list the available ones with: espeak-ng --voices"
        )
    every = variants(binary)
    chosen = split_variants(every, split)
    own = tuple(Speaker(lang, vf, var) for lang, vf in voices for var in chosen)
    if not accents:
        return own
    # Every third of all the variants, then the split's half of those: the halves stay whole.
    few = tuple(v for v in every[::ACCENT_VARIANT_STEP] if v in chosen)
    return own + tuple(
        Speaker(lang, vf, var) for lang, vf in accent_voices(binary, language) for var in few
    )


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """espeak-ng's --stdout WAV: a 44-byte header (lengths unset) then 16-bit mono PCM."""
    if len(data) < _WAV_HEADER_BYTES or data[:4] != b"RIFF" or data[36:40] != b"data":
        raise MwwError("espeak-ng returned something that is not a 16-bit WAV stream")
    rate = int.from_bytes(data[24:28], "little")
    body = data[_WAV_HEADER_BYTES:]
    pcm = np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def speak(
    binary: str,
    text: str,
    speaker: Speaker,
    *,
    speed_wpm: int,
    pitch: int,
    variant: str | None = None,
    data_path: Path | None = None,
) -> np.ndarray:
    """``text`` spoken by ``speaker`` as float32 mono at the device's 16 kHz.

    ``variant`` replaces the speaker's own variant with one found under ``data_path`` (a
    folder holding an ``espeak-ng-data``), as derived voices are.
    """
    voice = speaker.espeak_id if variant is None else f"{speaker.voice_file}+{variant}"
    return speak_voice(binary, text, voice, speed_wpm=speed_wpm, pitch=pitch, data_path=data_path)


def speak_voice(
    binary: str, text: str, voice: str, *, speed_wpm: int, pitch: int, data_path: Path | None = None
) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``voice`` (any -v argument) as float32 mono at 16 kHz."""
    args = ["-b", "1", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "--stdout"]
    if data_path is not None:
        args.insert(0, f"--path={data_path}")
    audio, rate = _parse_wav(_run(binary, args, text))
    if rate != constants.SAMPLE_RATE_HZ and audio.size:
        audio = soxr.resample(audio, rate, constants.SAMPLE_RATE_HZ, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def phonemes(binary: str, texts: list[str], voice_file: str) -> list[str]:
    """espeak's phoneme transcription of each text (one line of input per text)."""
    if not texts:
        return []
    out = _run(binary, ["-q", "-x", "-b", "1", "-v", voice_file], "\n".join(texts) + "\n")
    lines = [line.strip() for line in out.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) == len(texts):
        return lines
    # espeak split some text into several clauses: transcribe one at a time instead.
    return [
        " ".join(_run(binary, ["-q", "-x", "-b", "1", "-v", voice_file], t).decode().split())
        for t in texts
    ]


def trim_silence(audio: np.ndarray, threshold_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``threshold_db`` below the peak."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0.0:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) >= peak * 10 ** (threshold_db / 20))
    return audio[loud[0] : loud[-1] + 1]
