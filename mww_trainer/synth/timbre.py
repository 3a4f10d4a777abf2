"""New voices from espeak-ng's own: random formant, tone, pitch and breath changes to a variant.

espeak-ng ships a few dozen voice variants. A model trained on them learns those timbres and
misses a voice unlike any of them (its held-out variants include one with the first formant at
40 % of normal). So a share of the synthetic clips are spoken by a *derived* variant: the
speaker's own variant file with its formants moved and scaled, a different tone, pitch range,
breathiness, flutter or roughness. The derived file is written into a private mirror of
espeak-ng's data folder (symbolic links to the real one plus the new variant files), which
espeak-ng reads through ``--path``; the installation itself is never touched.

The changes are drawn from a clip's own random stream, so the same seed gives the same voice.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mww_trainer.errors import MwwError
from mww_trainer.synth.espeak import espeak_version

VARIANTS_DIR = "!v"
_N_FORMANTS = 9
# A shorter vocal tract (a child's) raises every formant by the same factor, a longer one
# lowers them all: one shared, log-uniform scale...
_TRACT_SCALE = (0.72, 1.5)
# ...times each formant's own (low, high) scale; the first ones decide the vowels' colour,
# so they move the most. The product stays within _FREQUENCY_LIMITS.
_FREQUENCY_SCALE = ((0.7, 1.35), (0.6, 1.5), (0.75, 1.3), (0.85, 1.15)) + ((0.8, 1.25),) * 5
_FREQUENCY_LIMITS = (0.4, 2.0)
# espeak-ng 1.51 crashes (SIGSEGV) on some sentences when a high formant is both moved far up
# and made much stronger (seen: formant 4 at 254 % with strength 361 %). Found by speaking
# hundreds of derived voices; these bounds keep every one of them speaking.
_MAX_STRENGTH = 250
_FIRST_HIGH_FORMANT = 4
_MAX_HIGH_FREQUENCY = 200
_STRENGTH_SCALE = (0.5, 1.6)
_WIDTH_SCALE = (0.6, 1.6)
_PITCH_BASE_HZ = (60, 260)
_PITCH_SPAN = (1.05, 1.9)  # top of the pitch range as a multiple of its base


@dataclass(frozen=True)
class Timbre:
    """One derived voice: how it differs from the variant it comes from."""

    frequency: tuple[float, ...]  # scale per formant 0-8, the tract's scale included
    strength: tuple[float, ...]
    width: tuple[float, ...]
    pitch_hz: tuple[int, int] | None  # the variant's base and top pitch, or unchanged
    tone: tuple[int, ...] | None  # bass/mid/treble frequency and level pairs, or unchanged
    breath: int  # 0: voiced as usual; else how breathy (whisper-like at the top)
    flutter: int | None
    roughness: int | None
    klatt: int | None  # espeak's Klatt synthesiser variant, or its default one

    def summary(self) -> dict:
        """What the manifest records: the first formants' scales and the switches used."""
        out: dict = {"formant_scale": [round(f, 3) for f in self.frequency[:4]]}
        out["mean_formant_scale"] = round(float(np.exp(np.mean(np.log(self.frequency)))), 3)
        for name in ("pitch_hz", "tone", "flutter", "roughness", "klatt"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        if self.breath:
            out["breath"] = self.breath
        return out


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


def random_timbre(rng: np.random.Generator) -> Timbre:
    """A derived voice; each change is drawn independently, most of them only sometimes."""
    tract = _log_uniform(rng, _TRACT_SCALE)
    low, high = _FREQUENCY_LIMITS
    frequency = tuple(min(high, max(low, tract * _log_uniform(rng, b))) for b in _FREQUENCY_SCALE)
    strength = tuple(_log_uniform(rng, _STRENGTH_SCALE) for _ in range(_N_FORMANTS))
    width = tuple(_log_uniform(rng, _WIDTH_SCALE) for _ in range(_N_FORMANTS))
    pitch = None
    if rng.random() < 0.5:
        base = int(rng.integers(_PITCH_BASE_HZ[0], _PITCH_BASE_HZ[1] + 1))
        pitch = (base, round(base * _log_uniform(rng, _PITCH_SPAN)))
    tone = None
    if rng.random() < 0.5:
        bands = (int(rng.integers(300, 900)), int(rng.integers(900, 1800)))
        bands += (int(rng.integers(1800, 5000)),)
        tone = tuple(x for f in bands for x in (f, int(rng.integers(40, 256))))
    breath = int(rng.integers(10, 80)) if rng.random() < 0.12 else 0
    flutter = int(rng.integers(0, 40)) if rng.random() < 0.3 else None
    roughness = int(rng.integers(0, 7)) if rng.random() < 0.25 else None
    klatt = int(rng.integers(1, 7)) if rng.random() < 0.15 else None
    return Timbre(frequency, strength, width, pitch, tone, breath, flutter, roughness, klatt)


_FORMANT = re.compile(r"^\s*formant\s+(\d+)((?:\s+-?\d+)+)\s*$")
_REPLACED = {"pitch", "tone", "breath", "breathw", "voicing", "flutter", "roughness", "klatt"}


def derive_variant(base_text: str, timbre: Timbre, name: str) -> str:
    """The text of a variant file: ``base_text`` with ``timbre`` applied, called ``name``."""
    formants = [[100, 100, 100] for _ in range(_N_FORMANTS)]
    extra: list[list[int]] = [[] for _ in range(_N_FORMANTS)]
    kept = []
    for line in base_text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] == "name":
            continue
        match = _FORMANT.match(line.split("#", 1)[0])
        if match and int(match.group(1)) < _N_FORMANTS:
            values = [int(v) for v in match.group(2).split()]
            index = int(match.group(1))
            formants[index][: min(3, len(values))] = values[:3]
            extra[index] = values[3:]
            continue
        if words[0] not in _REPLACED or _keeps(words[0], timbre):
            kept.append(line.strip())
    lines = [line for line in kept if not line.startswith("language")]
    out = ["language variant", f"name {name}", *lines]
    for i, (freq, strength, width) in enumerate(formants):
        values = [
            max(1, round(freq * timbre.frequency[i])),
            min(_MAX_STRENGTH, max(0, round(strength * timbre.strength[i]))),
            max(1, round(width * timbre.width[i])),
            *extra[i],
        ]
        if i >= _FIRST_HIGH_FORMANT:
            values[0] = min(values[0], _MAX_HIGH_FREQUENCY)
        out.append(f"formant {i} " + " ".join(str(v) for v in values))
    out.extend(_switch_lines(timbre))
    return "\n".join(out) + "\n"


def _keeps(keyword: str, timbre: Timbre) -> bool:
    """Whether the base variant's own ``keyword`` line survives (the timbre leaves it alone)."""
    if keyword == "pitch":
        return timbre.pitch_hz is None
    if keyword == "tone":
        return timbre.tone is None
    if keyword in ("breath", "breathw", "voicing"):
        return not timbre.breath
    return getattr(timbre, keyword) is None


def _switch_lines(timbre: Timbre) -> list[str]:
    out = []
    if timbre.pitch_hz is not None:
        out.append(f"pitch {timbre.pitch_hz[0]} {timbre.pitch_hz[1]}")
    if timbre.tone is not None:
        out.append("tone " + " ".join(str(v) for v in timbre.tone))
    if timbre.breath:
        # More breath and less voicing together: at the top it is close to a whisper.
        level = timbre.breath
        out.append("breath " + " ".join(str(round(level * f)) for f in (1, 1, 0.7, 0.5, 0.2, 0.1)))
        out.append("breathw 150 150 200 200 400 400")
        out.append(f"voicing {max(10, 100 - level)}")
    for name in ("flutter", "roughness", "klatt"):
        value = getattr(timbre, name)
        if value is not None:
            out.append(f"{name} {value}")
    return out


def data_dir(binary: str) -> Path:
    """espeak-ng's data folder, as ``espeak-ng --version`` reports it."""
    version = espeak_version(binary)
    _, sep, tail = version.partition("Data at:")
    path = Path(tail.strip()) if sep else Path()
    if not sep or not (path / "voices" / VARIANTS_DIR).is_dir():
        raise MwwError(
            f"cannot find espeak-ng's voice variants (it says {version!r}); "
            "derived voices need them: reinstall espeak-ng, or set --timbre-fraction 0"
        )
    return path


class VoiceWorkshop:
    """Private espeak-ng data folders in which derived variants can be written and spoken.

    ``path`` is what espeak-ng's ``--path`` takes. Every entry of the real data folder is a
    symbolic link, except ``voices/!v``, which holds links to the real variants and the
    derived ones. Each thread gets a folder of its own: espeak-ng reads the whole variant
    folder when it looks a voice up, so no thread should add or remove files in a folder
    another thread's espeak-ng may be scanning.
    """

    def __init__(self, source: Path, root: Path) -> None:
        self.source = source
        self.root = root
        self._local = threading.local()
        self._count = itertools.count()

    @property
    def path(self) -> Path:
        """This thread's folder, made on first use."""
        mine = getattr(self._local, "path", None)
        if mine is None:
            mine = self._local.path = self._mirror(self.root / f"t{next(self._count)}")
        return mine

    @property
    def variants(self) -> Path:
        return self.path / "espeak-ng-data" / "voices" / VARIANTS_DIR

    def _mirror(self, root: Path) -> Path:
        data = root / "espeak-ng-data"
        variants = data / "voices" / VARIANTS_DIR
        variants.mkdir(parents=True)
        for entry in self.source.iterdir():
            if entry.name != "voices":
                (data / entry.name).symlink_to(entry)
        for entry in (self.source / "voices").iterdir():
            if entry.name != VARIANTS_DIR:
                (data / "voices" / entry.name).symlink_to(entry)
        for entry in (self.source / "voices" / VARIANTS_DIR).iterdir():
            (variants / entry.name).symlink_to(entry)
        return root

    def base_text(self, variant: str) -> str:
        path = self.source / "voices" / VARIANTS_DIR / variant
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise MwwError(f"cannot read espeak-ng variant {path}: {exc}") from exc

    def write(self, base_variant: str, timbre: Timbre, name: str) -> str:
        """Write ``name`` derived from ``base_variant``; returns the name to speak it by."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"derived variant name {name!r}: letters, digits and _ only")
        text = derive_variant(self.base_text(base_variant), timbre, name)
        variants = self.variants
        tmp = variants / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, variants / name)
        return name

    def remove(self, name: str) -> None:
        (self.variants / name).unlink(missing_ok=True)


@contextmanager
def voice_workshop(binary: str) -> Iterator[VoiceWorkshop]:
    """A :class:`VoiceWorkshop` in a temporary folder, deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="mww-voices-"))
    try:
        yield VoiceWorkshop(data_dir(binary), root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
