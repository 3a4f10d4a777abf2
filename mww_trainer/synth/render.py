"""Render one planned file: a clip of speech, a stretch of ambient talk, noise or a room response.

Each renderer is a pure function of its job (which carries its own seed) and the shared,
read-only context, so jobs can run in any order on any thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from mww_trainer import constants
from mww_trainer.errors import ConfigError, MwwError
from mww_trainer.synth import music, noise, recorded
from mww_trainer.synth.cast import AnySpeaker, Cast
from mww_trainer.synth.engines import EngineSpeaker, Prosody, random_tract, shift_tract
from mww_trainer.synth.espeak import Speaker, speak, trim_silence
from mww_trainer.synth.options import SynthOptions
from mww_trainer.synth.phrases import contains_phrase, normalise
from mww_trainer.synth.piper_voices import PiperSpeaker
from mww_trainer.synth.timbre import VoiceWorkshop, random_timbre

RATE_HZ = constants.SAMPLE_RATE_HZ
MAX_SPEED_WPM = 450
BACKGROUND_KINDS = ("white", "pink", "brown", "babble", "hum")
MUSIC = "music"  # a background kind, and what may lie under ambient talk, when music is installed
RECORDED = "recorded"  # a negative's kind: people's recordings joined (synth/recorded.py)
WORD = "word"  # a negative's kind: one short word said alone, in a clip like a wake word's


@dataclass(frozen=True)
class Job:
    """One output file. ``seed`` alone decides every random choice made while rendering it."""

    role: str  # positive | hard_negative | negative | background | rir
    rel_path: str  # posix path under the dataset root
    seed: int
    text: str = ""
    speaker: AnySpeaker | None = None
    kind: str = ""  # background kind, or a negative's (RECORDED, WORD)
    duration_s: float = 0.0  # ambient and background length
    recordings: tuple[recorded.Recording, ...] = ()  # a RECORDED negative's recordings


@dataclass(frozen=True)
class RenderContext:
    options: SynthOptions
    cast: Cast | None  # who speaks; None when nothing needs speech
    sentences: tuple[str, ...]
    workshop: VoiceWorkshop | None = None  # where derived espeak voices are written; None: none
    music: tuple[music.Track, ...] = ()  # game-music tracks; none: no music

    @property
    def speaking(self) -> Cast:
        assert self.cast is not None, "a job that speaks was planned without speakers"
        return self.cast


@dataclass(frozen=True)
class Voice:
    """Who speaks: a speaker, possibly derived: espeak's with a new variant in place of its own,
    another engine's with its pitch and formants moved (``tract``)."""

    speaker: AnySpeaker
    variant: str | None = None
    timbre: dict[str, Any] | None = None  # what the manifest says about the derived variant
    seed: int | None = None  # a piper speaker's: the noise its model draws (see piper_voices)
    tract: float | None = None  # resampling factor of a derived non-espeak voice

    @property
    def name(self) -> str:
        derived = self.variant is not None or self.tract is not None
        return f"{self.speaker.name}~derived" if derived else self.speaker.name


Rendered = tuple[np.ndarray, dict[str, Any]]
T = TypeVar("T")


class DerivedVoiceFailed(MwwError):
    """espeak-ng failed on a derived variant (1.51 crashes on a rare few): use the plain one."""


def render(job: Job, ctx: RenderContext) -> Rendered:
    """The float32 16 kHz audio of ``job`` and what the manifest records about it."""
    if job.kind == RECORDED:
        return recorded.render_talk(
            job.recordings, ctx.options.ambient_gap_s, np.random.default_rng(job.seed)
        )
    if job.kind == WORD:
        return render_clip(job, ctx)
    renderers = {
        "positive": render_clip,
        "hard_negative": render_clip,
        "negative": render_ambient,
        "background": render_background,
        "rir": render_rir,
    }
    return renderers[job.role](job, ctx)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _integer(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _voice(rng: np.random.Generator, ctx: RenderContext, speaker: AnySpeaker, name: str) -> Voice:
    """The speaker as is, or (for ``timbre_fraction`` of the draws) a voice derived from it."""
    if not isinstance(speaker, Speaker):
        seed = int(rng.integers(2**31)) if isinstance(speaker, PiperSpeaker) else None
        derived = rng.random() < ctx.options.timbre_fraction
        return Voice(speaker, seed=seed, tract=random_tract(rng) if derived else None)
    if ctx.workshop is None or rng.random() >= ctx.options.timbre_fraction:
        return Voice(speaker)
    timbre = random_timbre(rng)
    return Voice(speaker, ctx.workshop.write(speaker.variant, timbre, name), timbre.summary())


def _say(ctx: RenderContext, text: str, voice: Voice, speed_wpm: int, pitch: int) -> np.ndarray:
    cast, speaker = ctx.speaking, voice.speaker
    if isinstance(speaker, PiperSpeaker):
        assert cast.piper is not None and voice.seed is not None
        audio = cast.piper.speak(text, speaker, speed_wpm=speed_wpm, seed=voice.seed)
    elif isinstance(speaker, EngineSpeaker):
        audio = cast.engines[speaker.family].speak(text, speaker, Prosody(speed_wpm, pitch))
    else:
        return _say_espeak(ctx, text, voice, speed_wpm, pitch)
    if voice.tract is not None:
        audio = shift_tract(audio, voice.tract)
    return trim_silence(audio)


def _say_espeak(
    ctx: RenderContext, text: str, voice: Voice, speed_wpm: int, pitch: int
) -> np.ndarray:
    assert isinstance(voice.speaker, Speaker) and ctx.speaking.espeak is not None
    data_path = None if voice.variant is None or ctx.workshop is None else ctx.workshop.path

    try:
        audio = speak(
            ctx.speaking.espeak,
            text,
            voice.speaker,
            speed_wpm=speed_wpm,
            pitch=pitch,
            variant=voice.variant,
            data_path=data_path,
        )
    except MwwError as exc:
        if voice.variant is None:
            raise
        raise DerivedVoiceFailed(str(exc)) from exc
    return trim_silence(audio)


def _spoken(ctx: RenderContext, voice: Voice, say: Callable[[Voice], T]) -> tuple[T, Voice]:
    """``say(voice)``, or ``say`` by the speaker's own voice if espeak-ng fails on the derived
    one; and the voice that spoke. The derived variant file is removed either way."""
    try:
        return say(voice), voice
    except DerivedVoiceFailed:
        plain = Voice(voice.speaker)
        return say(plain), plain
    finally:
        _forget(ctx, voice)


def _forget(ctx: RenderContext, voice: Voice) -> None:
    if voice.variant is not None and ctx.workshop is not None:
        ctx.workshop.remove(voice.variant)


def _speak_within(
    ctx: RenderContext, text: str, voice: Voice, speed_wpm: int, pitch: int, room_n: int
) -> tuple[np.ndarray, int]:
    """Speech trimmed of silence and no longer than ``room_n`` samples: faster if it must be."""
    for _ in range(6):
        audio = _say(ctx, text, voice, speed_wpm, pitch)
        if audio.size <= room_n or speed_wpm >= MAX_SPEED_WPM:
            break
        speed_wpm = min(MAX_SPEED_WPM, math.ceil(speed_wpm * audio.size / room_n * 1.05))
    if audio.size > room_n:
        raise ConfigError(
            f"synth.clip_duration_s: {text!r} spoken by {voice.name} at {speed_wpm} wpm lasts "
            f"{audio.size / RATE_HZ:.2f} s, longer than the {room_n / RATE_HZ:.2f} s a "
            f"{ctx.options.clip_duration_s} s clip leaves before its end silence; "
            "use a longer --clip-duration-s"
        )
    if audio.size == 0:
        engine = voice.speaker.family
        raise ConfigError(f"{engine} produced no sound for {text!r} with voice {voice.name}")
    return audio, speed_wpm


def _spoken_by(ctx: RenderContext, voice: Voice, speed_wpm: int, pitch: int) -> dict[str, Any]:
    """What the manifest records about how a text was spoken: engine (the family), voice, speed.

    speed_wpm and pitch are in espeak-ng's units; the other engines map them onto their own
    controls (see synth/engines.py ``Prosody``).
    """
    speaker = voice.speaker
    tract = {} if voice.tract is None else {"tract_scale": voice.tract}
    if isinstance(speaker, Speaker):
        return {"engine": "espeak", "speed_wpm": speed_wpm, "pitch": pitch}
    if isinstance(speaker, EngineSpeaker):
        return speaker.record() | {"speed_wpm": speed_wpm, "pitch": pitch} | tract
    piper = ctx.speaking.piper
    assert piper is not None
    length_scale = piper.length_scale(speaker, speed_wpm)
    # piper has no pitch control; speed_wpm is the tempo its length scale stands for.
    facts = {"speed_wpm": speed_wpm, "length_scale": length_scale, "pitch": None}
    return speaker.record() | facts | tract


def render_clip(job: Job, ctx: RenderContext) -> Rendered:
    """A clip of exactly ``clip_duration_s`` whose speech ends ``end_silence_s`` before its end."""
    opts, rng = ctx.options, np.random.default_rng(job.seed)
    assert job.speaker is not None
    clip_n = opts.clip_samples
    speed, pitch = _integer(rng, opts.speed_wpm), _integer(rng, opts.pitch)
    end_n = round(_uniform(rng, opts.end_silence_s) * RATE_HZ)
    voice = _voice(rng, ctx, job.speaker, f"mww_{job.seed}")
    (speech, speed), voice = _spoken(
        ctx, voice, lambda v: _speak_within(ctx, job.text, v, speed, pitch, clip_n - end_n)
    )
    speech = noise.scale_to_peak_dbfs(speech, _uniform(rng, opts.peak_dbfs))
    meta: dict[str, Any] = {"text": job.text, "voice": job.speaker.name}
    if voice.timbre is not None:
        meta["timbre"] = voice.timbre
    meta |= _spoken_by(ctx, voice, speed, pitch) | {"speech_end_s": (clip_n - end_n) / RATE_HZ}
    wet = speech
    if opts.rooms != "off" and rng.random() < opts.room_fraction:
        rir, rt60_s = noise.room_rir(opts.rooms, rng)
        wet = noise.reverberate(speech, rir)
        meta["room_rt60_s"] = round(rt60_s, 3)
    start = clip_n - end_n - speech.size
    clip = np.zeros(clip_n, dtype=np.float32)
    placed = wet[: clip_n - start]
    clip[start : start + placed.size] = placed
    if rng.random() < opts.noise_fraction:
        kind, snr_db = str(rng.choice(noise.NOISE_KINDS)), _uniform(rng, opts.noise_snr_db)
        clip = noise.add_noise(clip, noise.noise(kind, clip_n, rng), snr_db, noise.rms(speech))
        meta |= {"noise": kind, "snr_db": round(snr_db, 2)}
    return clip, meta


def _pick_sentence(rng: np.random.Generator, ctx: RenderContext, recent: list[str]) -> str:
    """A sentence that cannot form the phrase together with the words spoken just before it."""
    phrase = ctx.options.phrase
    sentence = ""
    for _ in range(100):
        sentence = ctx.sentences[int(rng.integers(len(ctx.sentences)))]
        if not contains_phrase(" ".join([*recent, sentence]), phrase):
            return sentence
    raise ConfigError(f"ambient text: cannot avoid the phrase {phrase!r} across sentences")


def _recent_words(recent: list[str], sentence: str, phrase: str) -> list[str]:
    words = [*recent, *normalise(sentence).split()]
    return words[-max(1, len(normalise(phrase).split()) - 1) :]


def _speak_sentence(
    rng: np.random.Generator, ctx: RenderContext, sentence: str, name: str
) -> tuple[np.ndarray, dict[str, Any]]:
    speaker = _pick_speaker(rng, ctx)
    speed, pitch = _integer(rng, ctx.options.speed_wpm), _integer(rng, ctx.options.pitch)
    voice = _voice(rng, ctx, speaker, name)
    audio, voice = _spoken(ctx, voice, lambda v: _say(ctx, sentence, v, speed, pitch))
    segment = {"text": sentence, "voice": voice.name} | _spoken_by(ctx, voice, speed, pitch)
    return audio, segment


def _pick_speaker(rng: np.random.Generator, ctx: RenderContext) -> AnySpeaker:
    """A family drawn with equal chances, then one of its voices."""
    return ctx.speaking.pick(rng)


def _talk(
    rng: np.random.Generator, ctx: RenderContext, n: int, gap_s: tuple[float, float], tag: str
):
    """``n`` samples of sentences by random voices with pauses; and the segments spoken.

    ``tag`` makes the names of derived voices unique to this stream of talk.
    """
    out = np.zeros(n, dtype=np.float32)
    pos = round(_uniform(rng, (0.0, gap_s[1])) * RATE_HZ)
    segments: list[dict[str, Any]] = []
    recent: list[str] = []
    while pos < n:
        sentence = _pick_sentence(rng, ctx, recent)
        audio, segment = _speak_sentence(rng, ctx, sentence, f"{tag}_{len(segments)}")
        audio = noise.scale_to_rms_dbfs(audio, _uniform(rng, (-28.0, -18.0)))
        out[pos : pos + audio.size] = audio[: n - pos]
        segments.append({**segment, "start_s": round(pos / RATE_HZ, 3)})
        recent = _recent_words(recent, sentence, ctx.options.phrase)
        pos += audio.size + round(_uniform(rng, gap_s) * RATE_HZ)
    return out, segments


def render_ambient(job: Job, ctx: RenderContext) -> Rendered:
    """Continuous non-wake-word talk by changing voices, with background noise under it."""
    opts, rng = ctx.options, np.random.default_rng(job.seed)
    n = round(job.duration_s * RATE_HZ)
    talk, segments = _talk(rng, ctx, n, opts.ambient_gap_s, f"mww_{job.seed}")
    kinds = noise.NOISE_KINDS + ((MUSIC,) if ctx.music else ())
    kind, snr_db = str(rng.choice(kinds)), _uniform(rng, opts.ambient_snr_db)
    meta: dict[str, Any] = {"text": " ".join(s["text"] for s in segments), "noise": kind}
    if kind == MUSIC:
        under, played = music.excerpt(ctx.music, n, rng)
        meta |= played
    else:
        under = noise.noise(kind, n, rng)
    audio = noise.add_noise(talk, under, snr_db)
    meta |= _families(segments)
    return audio, meta | {"snr_db": round(snr_db, 2), "segments": segments}


def _families(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """A stretch of talk's engine: the family when one spoke it all, else None; and all of them."""
    families = sorted({s["engine"] for s in segments})
    return {"engine": families[0] if len(families) == 1 else None, "engines": families}


def render_background(job: Job, ctx: RenderContext) -> Rendered:
    """Noise of ``job.kind``; ``babble`` is several talkers overlapped."""
    rng = np.random.default_rng(job.seed)
    n = round(job.duration_s * RATE_HZ)
    meta: dict[str, Any] = {"kind": job.kind}
    if job.kind == "babble":
        talkers = int(rng.integers(4, 8))
        audio = np.zeros(n, dtype=np.float32)
        spoken: list[dict[str, Any]] = []
        for talker in range(talkers):
            tag = f"mww_{job.seed}_{talker}"
            stream, segments = _talk(rng, ctx, n, (0.05, 0.6), tag)
            audio += noise.scale_to_rms_dbfs(stream, _uniform(rng, (-6.0, 0.0)))
            spoken += segments
        meta |= {"talkers": talkers, "engines": _families(spoken)["engines"]}
    elif job.kind == MUSIC:
        audio, played = music.excerpt(ctx.music, n, rng)
        meta |= played
    else:
        audio = noise.noise(job.kind, n, rng)
    return noise.scale_to_rms_dbfs(audio, _uniform(rng, (-30.0, -18.0))), meta


def render_rir(job: Job, ctx: RenderContext) -> Rendered:
    """A room impulse response (from pyroomacoustics when ``rooms`` asks for it)."""
    rng = np.random.default_rng(job.seed)
    engine = "pyroomacoustics" if ctx.options.rooms == "pyroomacoustics" else "synthetic"
    rir, rt60_s = noise.room_rir(engine, rng)
    return rir, {"engine": engine, "rt60_s": round(rt60_s, 3)}
