"""People talking, recorded: voice prompts and game dialogue that Debian packages install.

Synthetic talk in the negatives teaches a model to reject synthetic voices, so every real
voice then sounds like the wake word (hundreds of false wakes an hour around people). Only
people talking teach it to stay quiet around people. These packages hold hours of real voices
that need no network: Asterisk's voice prompts (read by five people in five languages), the
spoken dialogue of three games (Flight of the Amazon Queen's hours of English, Fish Fillets NG
in Czech and Dutch, Hedgewars' English voices), and KLettres' letters and syllables, read aloud
by a person for each of twenty languages.
mww-synth joins a speaker's recordings into stretches of talk in ``negative/people-<speaker>/``
and records them as spoken by a person, so training treats them as people talking.

The language does not matter much here: what the model must learn is that a human voice
saying anything else is not the wake word. Recordings are listed in sorted order and drawn
with the job's seed, so one installation always gives the same files for the same seed.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from mww_trainer import constants
from mww_trainer.data.ingest.origin import HUMAN  # the engine a manifest records for people
from mww_trainer.errors import MwwError
from mww_trainer.synth import queen_bundle, queen_texts
from mww_trainer.synth.engines import to_16k
from mww_trainer.synth.phrases import compact

G722_RATE_HZ = 16000  # G.722 at 64 kbit/s: 8000 bytes a second, two samples a byte
_G722_SAMPLES_PER_BYTE = 2
_MIN_RECORDING_S = 0.3
# A longer recording (some Asterisk prompts run a minute) is used as pieces of at most this
# length, so one prompt cannot make a talk file far longer than asked for.
_MAX_PIECE_S = 20.0


# en_US_f_Allison: language, region, gender, name; not the en and en_US links beside it
_ASTERISK_SPEAKERS = "{lang}_*_*_*"


def _asterisk_speaker(path: Path) -> str:
    # en_US_f_Allison/vm-deleted.g722 and es_MX_f_Allison/... are one person
    folder = next(p for p in path.parents if p.parent.name == "sounds")
    return "asterisk-" + folder.name.rsplit("_", 1)[-1].lower()


def _fillets_speaker(path: Path) -> str:
    # sound/<level>/<lang>/<level>-<character>-<line>.ogg: the big fish (v), the small fish
    # (m), and the other characters, each voiced by one actor per language
    parts = path.stem.split("-")
    character = parts[1] if len(parts) > 2 and parts[1] in ("v", "m") else "others"
    return f"fillets-{path.parent.name}-{character}"


def _hedgewars_speaker(path: Path) -> str:
    return "hedgewars-" + path.parent.name.lower().replace("_", "-")


def _klettres_speaker(path: Path) -> str:
    # klettres/<lang>/{alpha,syllab}/<letters>.ogg: one reader per language
    return "klettres-" + path.parents[1].name.lower().replace("_", "-")


def _no_texts(_root: Path) -> dict[Path, str]:
    return {}


def _said_by_name(pattern: str) -> Callable[[Path], dict[Path, str]]:
    """Files whose name is what they say ("Takecover.ogg", KLettres' "ba.ogg")."""

    def texts(folder: Path) -> dict[Path, str]:
        return {path: path.stem for path in folder.glob(pattern)}

    return texts


def _asterisk_texts(lang: str) -> Callable[[Path], dict[Path, str]]:
    """What each prompt says, from the transcript the package's -en/-fr... sibling installs
    ("agent-loginok: Agent logged in."); none when it is absent (docs left out of an image)."""

    def texts(folder: Path) -> dict[Path, str]:
        # /usr/share/asterisk/sounds -> /usr/share/doc/asterisk-core-sounds-<lang>
        doc = folder.parents[1] / "doc" / f"asterisk-core-sounds-{lang}"
        speakers = sorted(folder.glob(_ASTERISK_SPEAKERS.format(lang=lang)))
        out = {}
        for name in (f"core-sounds-{lang}.txt.gz", f"core-sounds-{lang}.txt"):
            try:
                raw = (doc / name).read_bytes()
            except OSError:
                continue
            text = gzip.decompress(raw) if name.endswith(".gz") else raw
            for line in text.decode("utf-8", "replace").splitlines():
                key, sep, said = line.partition(":")
                if sep and not key.startswith(";"):
                    for speaker in speakers:
                        out[speaker / f"{key.strip()}.g722"] = said
            break
        return out

    return texts


@dataclass(frozen=True)
class Source:
    """Recordings one Debian package installs, and who speaks in each file."""

    package: str
    folder: str  # absolute, under the root
    pattern: str  # glob under the folder
    licence: str
    speaker: Callable[[Path], str] | Callable[[queen_bundle.Line], str]
    exclude: tuple[str, ...] = ()  # speakers that are not plainly a person
    # A game's resource bundle, one file of many recorded lines (queen_bundle), not one
    # recording a file; ``speaker`` then names the speaker of a line's name, and ``texts``
    # is given the bundle and keys what its lines say by their names.
    bundle: bool = False
    # What each file says, where known: a recording that says the wake word is left out.
    texts: Callable[[Path], dict[Path, str]] | Callable[[Path], dict[str, str]] = _no_texts


SOURCES = (
    *(
        Source(
            f"asterisk-core-sounds-{lang}-g722",
            "/usr/share/asterisk/sounds",
            _ASTERISK_SPEAKERS.format(lang=lang) + "/**/*.g722",
            "CC BY-SA 3.0 (Digium, Inc.)",
            _asterisk_speaker,
            texts=_asterisk_texts(lang),
        )
        for lang in ("en", "es", "fr", "it", "ru")
    ),
    *(
        Source(
            f"fillets-ng-data-{lang}",
            "/usr/share/games/fillets-ng/sound",
            f"*/{lang}/*.ogg",
            "GPL-2+ (Fish Fillets NG)",
            _fillets_speaker,
        )
        for lang in ("cs", "nl")
    ),
    Source(
        "flight-of-the-amazon-queen",
        "/usr/share/scummvm/flight-of-the-amazon-queen",
        "queen.1c",
        "freeware (Flight of the Amazon Queen, John Passfield and Steven Stamatiadis)",
        lambda line: "fotaq-" + queen_bundle.speaker(line),
        exclude=("fotaq-effects",),  # 136 sound effects (4 min) are not people talking
        bundle=True,
        texts=queen_texts.read_texts,
    ),
    Source(
        "hedgewars-data",
        "/usr/share/games/hedgewars/Data/Sounds/voices",
        "*/*.ogg",
        "GPL-2 (Hedgewars)",
        _hedgewars_speaker,
        exclude=("hedgewars-robot",),
        texts=_said_by_name("*/*.ogg"),
    ),
    Source(
        "klettres-data",
        "/usr/share/klettres",
        "*/*/*.ogg",
        "GPL-2+ (KLettres, KDE)",
        _klettres_speaker,
        texts=_said_by_name("*/*/*.ogg"),
    ),
)
INSTALL_HINT = "the Debian packages " + ", ".join(s.package for s in SOURCES)


@dataclass(frozen=True)
class Recording:
    """One recording, or one piece of a long one (``start_s`` into the file)."""

    path: Path
    speaker: str
    package: str
    seconds: float
    start_s: float = 0.0
    partial: bool = False  # a piece of a longer file
    line: queen_bundle.Line | None = None  # the line in a bundle that ``path`` is

    def where(self) -> str:
        """The file (``queen.1c#020006J1.SB`` for a bundle's line), and for a piece the span
        in it as a media fragment (``#t=20.0,40.0``)."""
        where = f"{self.path}#{self.line.name}" if self.line else str(self.path)
        if not self.partial:
            return where
        span = f"t={self.start_s:.2f},{self.start_s + self.seconds:.2f}"
        return f"{where}{'&' if self.line else '#'}{span}"


def _pieces(
    path: Path, speaker: str, package: str, seconds: float, line: queen_bundle.Line | None = None
) -> list[Recording]:
    count = int(np.ceil(seconds / _MAX_PIECE_S))
    length = seconds / count
    return [
        Recording(path, speaker, package, length, i * length, partial=count > 1, line=line)
        for i in range(count)
    ]


@dataclass(frozen=True)
class Found:
    recordings: tuple[Recording, ...]
    missing: tuple[str, ...]  # packages of SOURCES with nothing installed

    def note(self) -> str | None:
        """One line on what is missing (None when every source is installed)."""
        if not self.recordings:
            return f"recorded people: skipped (none installed); they come with {INSTALL_HINT}"
        if self.missing:
            return "recorded people: not installed: " + ", ".join(self.missing)
        return None


def _seconds(path: Path) -> float:
    if path.suffix == ".g722":
        return path.stat().st_size * _G722_SAMPLES_PER_BYTE / G722_RATE_HZ
    info = soundfile.info(path)
    return info.frames / info.samplerate


def find_recordings(
    phrase: str, root: Path = Path("/"), sources: Sequence[Source] = SOURCES
) -> Found:
    """Every readable recording the installed packages hold, sorted by path, but those known
    to say ``phrase``."""
    found, missing = [], []
    needle = compact(phrase)
    for source in sources:
        folder = root / source.folder.lstrip("/")
        if source.pattern.endswith(".g722") and not g722_available():
            missing.append(f"{source.package} (needs the G722 Python package)")
            continue
        paths = sorted(folder.glob(source.pattern)) if folder.is_dir() else []
        texts = source.texts(folder) if paths and not source.bundle else {}
        before = len(found)
        for path in paths:
            if source.bundle:
                found.extend(_bundle_recordings(source, path, needle))
                continue
            speaker = source.speaker(path)
            if speaker in source.exclude or (needle and needle in compact(texts.get(path, ""))):
                continue
            try:
                seconds = _seconds(path)
            except (OSError, soundfile.LibsndfileError):
                continue  # a damaged file is simply not used
            if seconds >= _MIN_RECORDING_S:
                found.extend(_pieces(path, speaker, source.package, seconds))
        if len(found) == before:
            missing.append(source.package)
    return Found(tuple(found), tuple(missing))


def _bundle_recordings(source: Source, path: Path, needle: str) -> list[Recording]:
    """Every readable line of a bundle but those whose text (from the game's script, see
    queen_texts) contains ``needle``, and the sound effects filed among them. A line whose
    text is not found stays in, as for Fish Fillets: on Debian's bundle 22 of 6,745."""
    try:
        lines = queen_bundle.read_lines(path)
        texts = source.texts(path) if needle else {}
    except (OSError, queen_bundle.BundleError):
        return []  # a damaged or unknown bundle is simply not used
    found = []
    for line in lines:
        if needle and needle in compact(texts.get(line.name, "")):
            continue  # checked before its audio is probed: a left-out line costs nothing
        speaker = source.speaker(line)
        try:
            seconds = queen_bundle.seconds(path, line)
        except (OSError, soundfile.LibsndfileError):
            continue
        if speaker not in source.exclude and seconds >= _MIN_RECORDING_S:
            found.extend(_pieces(path, speaker, source.package, seconds, line))
    return found


def plan_talk(
    found: Found,
    minutes: float,
    file_s: tuple[float, float],
    gap_s: tuple[float, float],
    rng: np.random.Generator,
) -> list[tuple[Recording, ...]]:
    """Files of one speaker's recordings each, about ``file_s`` long, ``minutes`` in all
    (counting the pauses of ``gap_s`` that render_talk puts between recordings).

    Packages take turns, and within a package its speakers: each file goes to the package
    with the least talk so far, and in it to the speaker with the least. So neither a few
    prolific voices nor a package of many briefly heard ones (KLettres' twenty readers of
    syllables) can fill the budget; a speaker or package whose recordings run out drops out.
    """
    queues: dict[str, dict[str, list[Recording]]] = {}
    for rec in found.recordings:
        queues.setdefault(rec.package, {}).setdefault(rec.speaker, []).append(rec)
    for speakers in queues.values():
        for name, recs in speakers.items():
            speakers[name] = [recs[i] for i in rng.permutation(len(recs))]
    spoken = {p: dict.fromkeys(sorted(speakers), 0.0) for p, speakers in sorted(queues.items())}
    by_package = dict.fromkeys(sorted(queues), 0.0)
    budget, files = minutes * 60.0, []
    pause = (gap_s[0] + gap_s[1]) / 2
    while budget > 0 and by_package:
        package = min(by_package, key=lambda p: (by_package[p], p))
        speaker = min(spoken[package], key=lambda s: (spoken[package][s], s))
        target = min(float(rng.uniform(*file_s)), max(budget, _MIN_RECORDING_S))
        parts, length = [], 0.0
        queue = queues[package][speaker]
        while queue and length < target:
            parts.append(queue.pop())
            length += parts[-1].seconds + (pause if len(parts) > 1 else 0.0)
        if queue:
            spoken[package][speaker] += length
        else:
            del spoken[package][speaker]
        if spoken[package]:
            by_package[package] += length
        else:
            del by_package[package]
        if parts:
            files.append(tuple(parts))
            budget -= length
    return files


def read_recording(rec: Recording) -> np.ndarray:
    """One recording (or its piece) as float32 16 kHz mono; a piece reads no further than
    its end."""
    start = int(rec.start_s * constants.SAMPLE_RATE_HZ)
    stop = start + int(np.ceil(rec.seconds * constants.SAMPLE_RATE_HZ))
    try:
        if rec.line is not None:
            audio, rate_hz = queen_bundle.decode(queen_bundle.read_line(rec.path, rec.line))
            begin = int(rec.start_s * rate_hz)
            return to_16k(audio[begin : begin + int(np.ceil(rec.seconds * rate_hz))], rate_hz)
        if rec.path.suffix == ".g722":
            # The decoder adapts as it goes, so a piece is decoded from the file's start
            # (exactly what the whole file gives there), but only up to the piece's end.
            with rec.path.open("rb") as f:
                data = f.read(-(-stop // _G722_SAMPLES_PER_BYTE))
            return _decode_g722(data)[start:stop]
        with soundfile.SoundFile(rec.path) as f:
            rate_hz = f.samplerate
            f.seek(int(rec.start_s * rate_hz))
            stereo = f.read(int(np.ceil(rec.seconds * rate_hz)), dtype="float32", always_2d=True)
    except (OSError, soundfile.LibsndfileError) as exc:
        raise MwwError(f"cannot read the recording {rec.path}: {exc}") from exc
    return to_16k(stereo.mean(axis=1), rate_hz)


def _decode_g722(data: bytes) -> np.ndarray:
    try:
        import G722  # a small C decoder from PyPI; only these prompts need it
    except ImportError as exc:
        raise MwwError("the G722 package is needed to read Asterisk's .g722 prompts") from exc
    pcm = np.asarray(G722.G722(G722_RATE_HZ, 64000).decode(data), dtype=np.float32)
    return pcm / 32768.0


def g722_available() -> bool:
    try:
        import G722  # noqa: F401
    except ImportError:
        return False
    return True


def render_talk(
    parts: Sequence[Recording], gap_s: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """The recordings one after another with short pauses, at one level for the file."""
    pieces = []
    for rec in parts:
        audio = read_recording(rec)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        pieces.append(audio / peak if peak > 0 else audio)
        pieces.append(np.zeros(int(rng.uniform(*gap_s) * constants.SAMPLE_RATE_HZ), np.float32))
    audio = np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)
    audio *= 10 ** (rng.uniform(-20.0, -3.0) / 20)
    meta = {
        "engine": HUMAN,
        "voice": parts[0].speaker,
        "package": parts[0].package,
        "recordings": [rec.where() for rec in parts],
    }
    return audio.astype(np.float32), meta
