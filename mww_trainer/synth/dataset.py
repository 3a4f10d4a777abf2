"""Plan, render in parallel and write a synthetic dataset in the user guide's layout.

    positive/<speaker>/pos_00000.wav   the phrase, one folder per speaker, named
                                       <family>-<voice>: espeak-en-us+m3, mbrola-us1,
                                       festival-kal_diphone, flite-slt, pico-en-US,
                                       piper-<model>[-<speaker id>]
    hard_negative/<speaker>/hneg_00000.wav   phonetic neighbours of the phrase, same folders
    negative/words/<speaker>/word_00000.wav   short words of the ambient text, each said alone
    negative/speech/ambient_0000.wav   long non-wake-word talk with background noise
    negative/people-<speaker>/talk_0000.wav   people talking: recordings Debian packages
                                       install, joined per speaker (see synth/recorded.py)
    background/noise_0000_<kind>.wav   white, pink, brown, babble, hum
    background/music_0005.wav          excerpts of game music, when a package of it is installed
                                       (the sixth kind then; see synth/music.py)
    rirs/rir_0000.wav                  room impulse responses
    synth_manifest.json                every file: path, role, text, voice, engine (its
                                       family; piper's model, speaker id, length scale), speed,
                                       pitch, seed...; "engines": voices and clips per family

Engine families (espeak, mbrola, festival, flite, pico, piper) speak in equal shares: positives
and hard negatives in turn, one family after another; sentences of ambient talk and babble
by a family drawn with equal chances (see synth/cast.py).

Every random choice comes from the options' seed: the plan from one stream, and each file from
its own seed derived from (seed, role, index), so worker count and scheduling never change
the output.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from mww_trainer import constants
from mww_trainer.errors import ConfigError, MwwError
from mww_trainer.synth import espeak, music, phrases, recorded, timbre
from mww_trainer.synth.cast import AnySpeaker, Cast, find_cast
from mww_trainer.synth.engines import FAMILIES
from mww_trainer.synth.noise import to_pcm16
from mww_trainer.synth.options import SynthOptions
from mww_trainer.synth.render import (
    BACKGROUND_KINDS,
    MUSIC,
    RECORDED,
    WORD,
    Job,
    RenderContext,
    render,
)

MANIFEST_NAME = "synth_manifest.json"
MANIFEST_VERSION = 1
ROLES = ("positive", "hard_negative", "negative", "background", "rir")
_ROLE_STREAM = {role: i + 1 for i, role in enumerate((*ROLES, RECORDED, WORD))}
_PLAN_STREAM = 0
ProgressCallback = Callable[[int, int], None]
NoteCallback = Callable[[str], None]


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    manifest_path: Path
    counts: Mapping[str, int]  # files written per role
    paths: tuple[Path, ...]  # every audio file written, in manifest order
    audio_duration_s: float  # total length of the audio written
    elapsed_s: float
    engines: Mapping[str, int] = field(default_factory=dict)  # clips per family that spoke
    notes: tuple[str, ...] = ()  # engines skipped, and the package that brings each
    people: Mapping[str, Any] = field(default_factory=dict)  # people_record: recorded talk


def _seed(base: int, role: str, index: int) -> int:
    state = np.random.SeedSequence([base, _ROLE_STREAM[role], index]).generate_state(1)
    return int(state[0])


def _needs_sentences(opts: SynthOptions) -> bool:
    """Ambient talk, babble (the fourth noise kind) and single words draw on the sentences."""
    babble = opts.background > BACKGROUND_KINDS.index("babble")
    return bool(opts.ambient_minutes > 0 or babble or opts.single_words)


def _needs_speech(opts: SynthOptions) -> bool:
    return bool(opts.positives or opts.hard_negatives or _needs_sentences(opts))


def _ambient_durations(opts: SynthOptions, rng: np.random.Generator) -> list[float]:
    """File lengths that add up to ``ambient_minutes``, none longer than the longest allowed.

    A file is shorter than the shortest allowed only when the total leaves no other way.
    """
    remaining = round(opts.ambient_minutes * 60 * constants.SAMPLE_RATE_HZ)
    low, high = (round(s * constants.SAMPLE_RATE_HZ) for s in opts.ambient_file_s)
    out = []
    while remaining > 0:
        n = int(rng.integers(low, high + 1))
        if remaining <= high:
            n = remaining
        elif remaining - n < low:
            n = max(remaining - low, remaining // 2)
        out.append(n / constants.SAMPLE_RATE_HZ)
        remaining -= n
    return out


def _clip_speakers(
    opts: SynthOptions, rng: np.random.Generator, cast: Cast
) -> tuple[list[AnySpeaker], list[AnySpeaker]]:
    """The speaker of each positive and each hard negative.

    Families take turns (in an order drawn once), so each speaks an equal share, within one
    clip; within a family, positives go to its voices in turn, hard negatives at random.
    """
    families = [cast.families[i] for i in rng.permutation(len(cast.families))]
    turns = {
        f: [cast.speakers[f][i] for i in rng.permutation(len(cast.speakers[f]))] for f in families
    }
    positives = []
    for i in range(opts.positives):
        family = families[i % len(families)]
        voices = turns[family]
        positives.append(voices[(i // len(families)) % len(voices)])
    return positives, _any_voice_in_turn(cast, families, opts.hard_negatives, rng)


def _any_voice_in_turn(
    cast: Cast, families: list[str], count: int, rng: np.random.Generator
) -> list[AnySpeaker]:
    """``count`` speakers: the families in turn, within each a voice at random."""
    out = []
    for i in range(count):
        voices = cast.speakers[families[i % len(families)]]
        out.append(voices[int(rng.integers(len(voices)))])
    return out


def _word_jobs(opts: SynthOptions, cast: Cast, words: list[str]) -> list[Job]:
    """Single words, families in turn as for the clips, each word once before any repeats.

    Drawn from a stream of their own, so asking for words changes no other file.
    """
    rng = np.random.default_rng(np.random.SeedSequence([opts.seed, _PLAN_STREAM, 2]))
    families = [cast.families[i] for i in rng.permutation(len(cast.families))]
    order = [words[i] for i in rng.permutation(len(words))]
    jobs = []
    for i, spk in enumerate(_any_voice_in_turn(cast, families, opts.single_words, rng)):
        path = f"negative/words/{spk.name}/word_{i:05d}.wav"
        seed = _seed(opts.seed, WORD, i)
        jobs.append(Job("negative", path, seed, order[i % len(order)], spk, kind=WORD))
    return jobs


def plan_jobs(
    opts: SynthOptions,
    cast: Cast | None,
    neighbours: list[str],
    *,
    with_music: bool = False,
    people: recorded.Found | None = None,
    words: list[str] | None = None,
) -> list[Job]:
    """Every file to write, in manifest order, each with its own seed."""
    rng = np.random.default_rng(np.random.SeedSequence([opts.seed, _PLAN_STREAM]))
    positives, hard = _clip_speakers(opts, rng, cast) if cast else ([], [])
    jobs = []
    for i, spk in enumerate(positives):
        path = f"positive/{spk.name}/pos_{i:05d}.wav"
        jobs.append(Job("positive", path, _seed(opts.seed, "positive", i), opts.phrase, spk))
    for i, spk in enumerate(hard):
        text = neighbours[i % len(neighbours)]
        path = f"hard_negative/{spk.name}/hneg_{i:05d}.wav"
        jobs.append(Job("hard_negative", path, _seed(opts.seed, "hard_negative", i), text, spk))
    if cast and words:
        jobs += _word_jobs(opts, cast, words)
    for i, duration_s in enumerate(_ambient_durations(opts, rng)):
        path = f"negative/speech/ambient_{i:04d}.wav"
        jobs.append(Job("negative", path, _seed(opts.seed, "negative", i), duration_s=duration_s))
    if people is not None and opts.people_minutes > 0:
        talk = recorded.plan_talk(
            people, opts.people_minutes, opts.ambient_file_s, opts.ambient_gap_s, rng
        )
        for i, parts in enumerate(talk):
            path = f"negative/people-{parts[0].speaker}/talk_{i:04d}.wav"
            seed = _seed(opts.seed, RECORDED, i)
            jobs.append(Job("negative", path, seed, kind=RECORDED, recordings=parts))
    kinds = BACKGROUND_KINDS + ((MUSIC,) if with_music else ())
    for i in range(opts.background):
        kind = kinds[i % len(kinds)]
        path = (
            f"background/music_{i:04d}.wav"
            if kind == MUSIC
            else f"background/noise_{i:04d}_{kind}.wav"
        )
        seed = _seed(opts.seed, "background", i)
        jobs.append(Job("background", path, seed, kind=kind, duration_s=opts.background_duration_s))
    for i in range(opts.rirs):
        jobs.append(Job("rir", f"rirs/rir_{i:04d}.wav", _seed(opts.seed, "rir", i)))
    return jobs


def _phonemiser(language: str) -> Callable[[list[str]], list[str]] | None:
    """espeak-ng's phonemes in the language's main voice (gmw/en for "en"), if espeak-ng is
    installed (whether or not it speaks): one accent judges which neighbours sound the same."""
    binary = shutil.which("espeak-ng")
    files = sorted(f for _, f in espeak.base_voices(binary, language)) if binary else []
    if not binary or not files:
        return None
    voice_file = next((f for f in files if f.rsplit("/", 1)[-1] == language), files[0])
    return lambda texts: espeak.phonemes(binary, texts, voice_file)


def _neighbour_texts(opts: SynthOptions) -> list[str]:
    if not opts.hard_negatives:
        return []
    rng = np.random.default_rng(np.random.SeedSequence([opts.seed, _PLAN_STREAM, 1]))
    phonemise = _phonemiser(opts.language)
    texts = phrases.phonetic_neighbours(opts.phrase, opts.hard_negatives, rng, phonemise=phonemise)
    if not texts:
        raise ConfigError(
            f"phrase: no phonetic neighbour could be derived from {opts.phrase!r}; "
            "set --hard-negatives 0 or record hard negatives yourself"
        )
    return texts


def _word_texts(opts: SynthOptions, sentences: tuple[str, ...]) -> list[str]:
    if not opts.single_words:
        return []
    words = phrases.single_words(sentences, opts.phrase, phonemise=_phonemiser(opts.language))
    if not words:
        raise ConfigError(
            f"ambient text: no short word other than the phrase {opts.phrase!r} to say alone; "
            "give a text with other words, or set --single-words 0"
        )
    return words


def _music(opts: SynthOptions) -> tuple[tuple[music.Track, ...], list[str]]:
    """Game-music tracks when music can be used (background files or ambient talk)."""
    if not opts.background and opts.ambient_minutes <= 0:
        return (), []
    tracks = music.find_tracks()
    if tracks:
        return tracks, []
    return (), [f"music: skipped (no game music installed); it comes with {music.INSTALL_HINT}"]


def _people(opts: SynthOptions) -> tuple[recorded.Found | None, list[str]]:
    """People's recordings installed on this machine, when any are asked for."""
    if opts.people_minutes <= 0:
        return None, []
    found = recorded.find_recordings(opts.phrase, opts.recordings_root)
    note = found.note()
    return (found if found.recordings else None), [note] if note else []


def _context(opts: SynthOptions) -> tuple[RenderContext, list[str], tuple[str, ...]]:
    """What rendering needs, the hard negatives' texts, and notes on what was skipped."""
    tracks, notes = _music(opts)
    if not _needs_speech(opts):
        return RenderContext(opts, None, (), music=tracks), [], tuple(notes)
    cast = find_cast(opts)
    sentences: list[str] = []
    if _needs_sentences(opts):
        raw = phrases.load_sentences(opts.language, opts.ambient_text)
        sentences = phrases.safe_sentences(raw, opts.phrase)
    ctx = RenderContext(opts, cast, tuple(sentences), music=tracks)
    return ctx, _neighbour_texts(opts), (*cast.notes, *notes)


def _refuse_overwrite(opts: SynthOptions, jobs: list[Job]) -> None:
    if opts.force:
        return
    targets = [opts.out_dir / job.rel_path for job in jobs] + [opts.out_dir / MANIFEST_NAME]
    existing = [path for path in targets if path.exists()]
    if existing:
        raise MwwError(
            f"{opts.out_dir}: {len(existing)} file(s) would be replaced, e.g. {existing[0]}; "
            "choose an empty --out folder, or pass --force to replace them"
        )


def _write_wav(path: Path, audio: np.ndarray) -> None:
    """16-bit mono 16 kHz WAV, written under a temporary name and then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        soundfile.write(
            tmp, to_pcm16(audio), constants.SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV"
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _render_and_write(job: Job, ctx: RenderContext) -> dict[str, Any]:
    audio, meta = render(job, ctx)
    _write_wav(ctx.options.out_dir / job.rel_path, audio)
    entry = {"path": job.rel_path, "role": job.role, "text": None, "voice": None}
    entry |= {"speed_wpm": None, "pitch": None, "seed": job.seed}
    return entry | {"duration_s": round(audio.size / constants.SAMPLE_RATE_HZ, 4)} | meta


def _run_jobs(
    jobs: list[Job], ctx: RenderContext, workers: int, on_progress: ProgressCallback | None
) -> list[dict[str, Any]]:
    total = len(jobs)
    if on_progress:
        on_progress(0, total)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mww-synth") as pool:
        futures: dict[Future, int] = {
            pool.submit(_render_and_write, j, ctx): i for i, j in enumerate(jobs)
        }
        entries: list[dict[str, Any] | None] = [None] * total
        pending, done_count = set(futures), 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()  # type: ignore[misc]
                entries[futures[future]] = future.result()
                done_count += 1
                if on_progress:
                    on_progress(done_count, total)
    return [e for e in entries if e is not None]


def _options_record(opts: SynthOptions) -> dict[str, Any]:
    record = asdict(opts)
    for key in ("out_dir", "workers", "force"):
        record.pop(key)
    record["voice_pack_dirs"] = [str(p) for p in opts.voice_pack_dirs]
    return {k: str(v) if isinstance(v, Path) else v for k, v in record.items()}


def clips_per_engine(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Positive and hard-negative clips spoken by each family, in FAMILIES order."""
    spoken = Counter(e.get("engine") for e in entries if e["role"] in ("positive", "hard_negative"))
    return {family: spoken[family] for family in FAMILIES if spoken[family]}


def people_record(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """How much recorded people's talk the dataset holds: minutes, speakers, packages."""
    talk = [e for e in entries if e.get("engine") == recorded.HUMAN]
    return {
        "minutes": round(sum(e["duration_s"] for e in talk) / 60, 2),
        "speakers": len({e["voice"] for e in talk}),
        "packages": sorted({e["package"] for e in talk}),
    }


def _engines_record(cast: Cast | None, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """{family: {"voices": n, "clips": n, "sentences": n, ...}} of every family that spoke."""
    if cast is None:
        return {}
    clips = clips_per_engine(entries)
    segments = [s for e in entries if e["role"] == "negative" for s in e.get("segments", ())]
    sentences = Counter(s.get("engine") for s in segments)
    return {
        family: {"voices": facts.pop("voices"), "clips": clips.get(family, 0)}
        | {"sentences": sentences[family]}
        | facts
        for family, facts in cast.summary().items()
    }


def _write_manifest(opts: SynthOptions, cast: Cast | None, entries: list[dict]) -> Path:
    manifest = {
        "format": "mww-synth",
        "version": MANIFEST_VERSION,
        "phrase": opts.phrase,
        "espeak": espeak.espeak_version(cast.espeak) if cast and cast.espeak else None,
        "piper": cast.piper.summary() if cast and cast.piper else None,
        "engines": _engines_record(cast, entries),
        "engines_skipped": list(cast.notes) if cast else [],
        "music": sorted({e["track"].split("/")[0] for e in entries if "track" in e}),
        "people": people_record(entries),
        "options": _options_record(opts),
        "files": entries,
    }
    path = opts.out_dir / MANIFEST_NAME
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def synthesize_dataset(
    options: SynthOptions,
    on_progress: ProgressCallback | None = None,
    on_note: NoteCallback | None = None,
) -> SynthResult:
    """Write the dataset ``options`` describes; ``on_progress(done, total)`` counts files,
    ``on_note(line)`` hears of each engine skipped (before any file is written)."""
    started = time.monotonic()
    ctx, neighbours, notes = _context(options)
    cast = ctx.cast
    people, people_notes = _people(options)
    notes = (*notes, *people_notes)
    for note in notes if on_note else ():
        on_note(note)  # type: ignore[misc]
    words = _word_texts(options, ctx.sentences)
    jobs = plan_jobs(
        options, cast, neighbours, with_music=bool(ctx.music), people=people, words=words
    )
    _refuse_overwrite(options, jobs)
    workers = options.workers or os.cpu_count() or 1
    with ExitStack() as stack:
        if cast is not None and cast.espeak is not None and options.timbre_fraction > 0:
            workshop = stack.enter_context(timbre.voice_workshop(cast.espeak))
            ctx = replace(ctx, workshop=workshop)
        entries = _run_jobs(jobs, ctx, workers, on_progress)
    manifest_path = _write_manifest(options, cast, entries)
    roles = Counter(e["role"] for e in entries)
    return SynthResult(
        out_dir=options.out_dir,
        manifest_path=manifest_path,
        counts={role: roles[role] for role in ROLES},
        paths=tuple(options.out_dir / e["path"] for e in entries),
        audio_duration_s=sum(e["duration_s"] for e in entries),
        elapsed_s=time.monotonic() - started,
        engines=clips_per_engine(entries),
        notes=notes,
        people=people_record(entries),
    )
