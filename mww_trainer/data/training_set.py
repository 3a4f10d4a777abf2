"""From an ingested dataset to what training consumes: a WindowPool and a validation set.

Positives and hard negatives are short clips: trimmed, augmented into several variants
(each placed in an `augmentation_duration_s` window so the frontend's noise estimate
settles as it would on a listening device), turned into features, and cut to the
model's last `input_frames` frames. Negatives are long recordings whose cached
features are windowed on a hop grid. Work is spread over a process pool.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from mww_trainer import constants
from mww_trainer.config.types import Config
from mww_trainer.data.audio import read_audio, trim_silence
from mww_trainer.data.augment import Augmenter
from mww_trainer.data.feature_cache import FeatureCache
from mww_trainer.data.features import compute_features, raw_from_features
from mww_trainer.data.ingest import Clip, Dataset, Role, Split
from mww_trainer.data.windows import HARD_NEGATIVE, NEGATIVE, POSITIVE, PoolBuilder, WindowPool
from mww_trainer.progress import ProgressCallback, ProgressEvent, ignore_progress

# Variants per short clip when augmentation is on: enough that the model rarely sees the
# same waveform twice in the standard schedule, few enough to stay quick to prepare.
AUGMENTED_VARIANTS = 8
NEGATIVE_HOP_FRAMES = 9  # 90 ms between negative window starts
# Padding around a clip scored as the device hears it: the model needs a full window of
# history before its first output, plus some audio after the word.
SCORING_TAIL_S = 1.0
# Before a scored clip: the 3 s a device ignores after loading the model, and some more.
SCORING_LEAD_S = 3.5
# Before a training clip: time for the frontend's noise estimate to settle, so that no
# training window holds its start-up transient (a shortcut the model would learn).
WARMUP_S = 2.0
TRAIN_TAIL_S = 0.2  # the guide's jitter: the word ends about 0.2 s before the window's end
# Augmented variants of each stretch of a long negative recording (besides its plain windows).
TALK_VARIANTS = 2
# Stretches cut from a long negative recording per second of it, each a window long.
TALK_STRETCHES_PER_S = 0.5


# People talking mixed under training clips as background, at most this much (it is held in
# memory by every augmentation worker).
BACKGROUND_TALK_S = 20 * 60


def background_talk(dataset: Dataset) -> list:
    """Paths of people's long training recordings to mix under clips (the augmenter gives
    them half its background draws), at most BACKGROUND_TALK_S of them, chosen at random."""
    talk = [
        c for c in dataset.select(Role.NEGATIVE, Split.TRAIN) if c.human and c.duration_s >= 2.0
    ]
    rng = np.random.default_rng(len(talk))
    chosen, total = [], 0.0
    for index in rng.permutation(len(talk)):
        if total >= BACKGROUND_TALK_S:
            break
        chosen.append(talk[index].path)
        total += talk[index].duration_s
    return chosen


def is_long(clip: Clip, frames: int) -> bool:
    """Long enough to hold a whole model window: windowed on a grid, not placed as a clip."""
    return clip.duration_s * constants.SAMPLE_RATE_HZ >= _window_samples(frames)


def _segments(clip: Clip, frames: int, index: int) -> tuple[tuple[int, int], ...]:
    """Random window-long stretches of a long recording (the same ones on every run)."""
    length = _window_samples(frames)
    total = int(clip.duration_s * constants.SAMPLE_RATE_HZ)
    count = max(1, round(clip.duration_s * TALK_STRETCHES_PER_S))
    rng = np.random.default_rng([index, int(clip.sha256[:8], 16)])
    starts = np.sort(rng.integers(0, max(1, total - length), count))
    return tuple((int(s), length) for s in starts)


@dataclass(frozen=True)
class DeviceSet:
    """Feature sequences scored slice by slice as the device would (float features)."""

    positives: list[np.ndarray]
    ambient: list[np.ndarray]
    hard_negatives: list[np.ndarray]
    # Per ambient sequence: recorded by people (speech packs, household audio) or not.
    ambient_human: tuple[bool, ...] = ()
    ambient_names: tuple[str, ...] = ()  # what each ambient sequence is, for reports


@dataclass(frozen=True)
class TrainingSet:
    pool: WindowPool
    val_pool: WindowPool
    val_device: DeviceSet


# Set once per worker process by the pool initializer: the augmenter carries all the
# background audio, too much to pickle with every task.
_worker: dict[str, object] = {}


def _init_worker(augmenter: Augmenter | None, bed: np.ndarray | None) -> None:
    _worker.update(augmenter=augmenter, bed=bed)


Task = tuple[str, int, int, int, tuple[tuple[int, int], ...]]


def _augmented_windows(task: Task) -> list[np.ndarray]:
    """Worker: one clip -> `variants` raw feature windows of `frames` frames.

    With segments (start, length in samples) each segment of the file is a clip of its own
    and is not trimmed: stretches of a long recording of people talking.
    """
    path, index, variants, frames, segments = task
    audio = read_audio(path)
    if not segments:
        return _clip_variants(trim_silence(audio), index, variants, frames)
    out = []
    for number, (start, length) in enumerate(segments):
        piece = audio[start : start + length]
        out += _clip_variants(piece, index * 10_000 + number, variants, frames)
    return out


def _clip_variants(samples: np.ndarray, index: int, variants: int, frames: int) -> list:
    augmenter = _worker.get("augmenter")
    out = []
    for variant in range(variants):
        if augmenter is None:
            lead = _window_samples(frames) + _warmup_samples()
            audio = on_bed(samples, lead, TRAIN_TAIL_S, _worker.get("bed"))
        else:
            total = max(augmenter.window_samples, _window_samples(frames) + _warmup_samples())
            audio = augmenter.augment(
                samples, augmenter.rng_for(index * 1000 + variant), target_samples=total
            )
        out.append(raw_from_features(compute_features(audio))[-frames:])
    return out


def _warmup_samples() -> int:
    return int(WARMUP_S * constants.SAMPLE_RATE_HZ)


def _window_samples(frames: int) -> int:
    return constants.WINDOW_SIZE_SAMPLES + (frames - 1) * constants.WINDOW_STEP_SAMPLES


def on_bed(samples: np.ndarray, lead: int, tail_s: float, bed: np.ndarray | None) -> np.ndarray:
    """A clip as a listening device hears it: `lead` samples of quiet room before, `tail_s` after.

    The frontend adapts its noise estimate to what came before; training and scoring put
    every clip on the same bed so they see the same adaptation.
    """
    tail = int(tail_s * constants.SAMPLE_RATE_HZ)
    total = lead + len(samples) + tail
    out = np.zeros(total, np.float32)
    if bed is not None and len(bed):
        out += np.resize(bed, total)
    out[lead : lead + len(samples)] += samples
    return np.clip(out, -32768, 32767).astype(np.int16)


def clip_windows(
    clips: list[Clip],
    *,
    augmenter: Augmenter | None,
    bed: np.ndarray | None,
    variants: int,
    frames: int,
    workers: int,
    stage: str,
    on_progress: ProgressCallback,
    segments: dict[str, tuple[tuple[int, int], ...]] | None = None,
    first_index: int = 0,
) -> list[np.ndarray]:
    """Augmented feature windows of clips (or of the given segments of long recordings).

    ``first_index`` offsets each clip's random stream, so that two calls on different clips
    never draw the same augmentations."""
    segments = segments or {}
    tasks: list[Task] = [
        (str(c.path), first_index + i, variants, frames, segments.get(c.sha256, ()))
        for i, c in enumerate(clips)
    ]
    windows: list[np.ndarray] = []
    if not tasks:
        return windows
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(augmenter, bed)
    ) as pool:
        for done, result in enumerate(pool.map(_augmented_windows, tasks, chunksize=8), 1):
            windows.extend(result)
            if done % 20 == 0 or done == len(tasks):
                on_progress(ProgressEvent(stage, done, len(tasks), f"{len(windows)} windows"))
    return windows


def device_sequence(samples: np.ndarray, frames: int, bed: np.ndarray | None) -> np.ndarray:
    """Features of a short clip after seconds of room noise, as a listening device hears it."""
    lead = max(_window_samples(frames), int(SCORING_LEAD_S * constants.SAMPLE_RATE_HZ))
    return compute_features(on_bed(samples, lead, SCORING_TAIL_S, bed))


def build_training_set(
    config: Config,
    dataset: Dataset,
    cache: FeatureCache,
    *,
    augmenter: Augmenter | None,
    workers: int | None = None,
    on_progress: ProgressCallback = ignore_progress,
) -> TrainingSet:
    frames = config.model.input_frames
    workers = workers or config.performance.num_workers or os.cpu_count() or 1
    variants = AUGMENTED_VARIANTS if augmenter is not None else 1
    bed = quiet_bed(dataset)
    builder = PoolBuilder(frames)
    real_weight = config.training.real_voice_weight
    negatives = dataset.select(Role.NEGATIVE, Split.TRAIN)
    long_negatives = [c for c in negatives if is_long(c, frames)]
    short_negatives = [c for c in negatives if not is_long(c, frames)]
    stretched = long_negatives if augmenter is not None else []
    segments = {c.sha256: _segments(c, frames, index) for index, c in enumerate(stretched)}
    clip_sets = (
        (Role.POSITIVE, POSITIVE, dataset.select(Role.POSITIVE, Split.TRAIN), variants, {}),
        (
            Role.HARD_NEGATIVE,
            HARD_NEGATIVE,
            dataset.select(Role.HARD_NEGATIVE, Split.TRAIN),
            variants,
            {},
        ),
        (Role.NEGATIVE, NEGATIVE, short_negatives, variants, {}),
        # Long recordings also go through the augmentation chain (pitch, EQ, rooms, noise), a
        # stretch at a time: were only wake words augmented, an augmented sound (a new timbre,
        # an unheard engine's voice) would itself be the cue, and talk by any voice the model
        # never heard would wake it.
        (Role.NEGATIVE, NEGATIVE, stretched, TALK_VARIANTS, segments),
    )
    offset = 0
    for role, kind, clips, count, cuts in clip_sets:
        for human in (False, True):
            group = [c for c in clips if c.human == human]
            if not group:
                continue
            windows = clip_windows(
                group,
                augmenter=augmenter,
                bed=bed,
                variants=count,
                frames=frames,
                workers=workers,
                stage=f"{role.value} {'recordings' if human else 'clips'}"
                + (" (augmented talk)" if cuts else ""),
                on_progress=on_progress,
                segments=cuts,
                first_index=offset,
            )
            offset += len(group)
            builder.add_clips(windows, kind, real_weight if human else 1.0)
    for clip in long_negatives:
        weight = real_weight if clip.human else 1.0
        builder.add_sequence(cache.features(clip, raw=True), NEGATIVE, NEGATIVE_HOP_FRAMES, weight)
    pool = builder.build()
    val_pool, val_device = build_validation(
        config, dataset, cache, Split.VAL, workers=workers, on_progress=on_progress
    )
    return TrainingSet(pool, val_pool, val_device)


def build_validation(
    config: Config,
    dataset: Dataset,
    cache: FeatureCache,
    split: Split,
    *,
    workers: int,
    on_progress: ProgressCallback = ignore_progress,
) -> tuple[WindowPool, DeviceSet]:
    """Clip-level windows and device-style sequences for one held-out split."""
    frames = config.model.input_frames
    bed = quiet_bed(dataset)
    builder = PoolBuilder(frames)
    negatives = dataset.select(Role.NEGATIVE, split)
    short = (
        (Role.POSITIVE.value, dataset.select(Role.POSITIVE, split), POSITIVE),
        (Role.HARD_NEGATIVE.value, dataset.select(Role.HARD_NEGATIVE, split), HARD_NEGATIVE),
        ("short negatives", [c for c in negatives if not is_long(c, frames)], NEGATIVE),
    )
    for name, clips, kind in short:
        windows = clip_windows(
            clips,
            augmenter=None,
            bed=bed,
            variants=1,
            frames=frames,
            workers=workers,
            stage=f"{split.value} {name}",
            on_progress=on_progress,
        )
        builder.add_clips(windows, kind)
    for clip in negatives:
        if is_long(clip, frames):
            builder.add_sequence(cache.features(clip, raw=True), NEGATIVE, frames // 2)
    return builder.build(), device_set(config, dataset, cache, split)


def device_set(
    config: Config, dataset: Dataset, cache: FeatureCache, split: Split | None
) -> DeviceSet:
    """One split (None: all of it) as the device hears it: clips on a quiet bed, ambient whole."""
    frames = config.model.input_frames
    bed = quiet_bed(dataset)

    def heard(role: Role) -> list[np.ndarray]:
        # Whole clips: a stream needs no alignment, and trimming cut quiet onsets in noise.
        return [
            device_sequence(read_audio(c.path), frames, bed) for c in dataset.select(role, split)
        ]

    negatives = dataset.select(Role.NEGATIVE, split)
    ambient, human, names = [], [], []
    for clip in negatives:
        if is_long(clip, frames):
            ambient.append(cache.features(clip))
            human.append(clip.human)
            names.append(clip.relpath)
    for flag in (False, True):
        words = [c for c in negatives if c.human == flag and not is_long(c, frames)]
        for number, joined in enumerate(joined_talk(words, bed), 1):
            ambient.append(compute_features(joined))
            human.append(flag)
            who = "recorded" if flag else "synthetic"
            names.append(f"short negatives ({who}) joined, stream {number}")
    return DeviceSet(
        positives=heard(Role.POSITIVE),
        ambient=ambient,
        hard_negatives=heard(Role.HARD_NEGATIVE),
        ambient_human=tuple(human),
        ambient_names=tuple(names),
    )


JOINED_TALK_S = 300  # short negatives are scored joined into streams of at most this long
_JOIN_GAP_S = (0.2, 0.8)


def joined_talk(clips: list[Clip], bed: np.ndarray | None) -> list[np.ndarray]:
    """Short negatives (single words) one after the other with pauses, as a device hears talk.

    Returns int16 streams of at most JOINED_TALK_S, each opening with a lead of quiet room.
    """
    rate = constants.SAMPLE_RATE_HZ
    rng = np.random.default_rng(len(clips))
    streams: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    size = 0
    for clip in sorted(clips, key=lambda c: c.relpath):
        gap = np.zeros(int(rng.uniform(*_JOIN_GAP_S) * rate), np.int16)
        parts += [trim_silence(read_audio(clip.path), lead_s=0.0), gap]  # the gap is the pause
        size += len(parts[-2]) + len(gap)
        if size >= JOINED_TALK_S * rate:
            streams.append(_on_room(np.concatenate(parts), bed))
            parts, size = [], 0
    if parts:
        streams.append(_on_room(np.concatenate(parts), bed))
    return streams


def _on_room(talk: np.ndarray, bed: np.ndarray | None) -> np.ndarray:
    return on_bed(talk, int(SCORING_LEAD_S * constants.SAMPLE_RATE_HZ), SCORING_TAIL_S, bed)


def quiet_bed(dataset: Dataset) -> np.ndarray | None:
    """Quiet background to pad scored clips with (the same for every run: deterministic)."""
    clips = sorted(dataset.select(Role.BACKGROUND), key=lambda c: c.relpath)
    if not clips:
        return None
    noise = read_audio(clips[0].path)[: 10 * constants.SAMPLE_RATE_HZ].astype(np.float32)
    peak = float(np.abs(noise).max()) or 1.0
    return noise * (0.03 * 32767 / peak)  # about -30 dBFS: a quiet room
