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
from mww_trainer.audio import read_audio, trim_silence
from mww_trainer.augment import Augmenter
from mww_trainer.config.types import Config
from mww_trainer.examples import HARD_NEGATIVE, NEGATIVE, POSITIVE, PoolBuilder, WindowPool
from mww_trainer.feature_cache import FeatureCache
from mww_trainer.features import compute_features, raw_from_features
from mww_trainer.ingest import Clip, Dataset, Role, Split
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


@dataclass(frozen=True)
class DeviceSet:
    """Feature sequences scored slice by slice as the device would (float features)."""

    positives: list[np.ndarray]
    ambient: list[np.ndarray]
    hard_negatives: list[np.ndarray]


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


def _augmented_windows(task: tuple[str, int, int, int]) -> list[np.ndarray]:
    """Worker: one clip -> `variants` raw feature windows of `frames` frames."""
    path, index, variants, frames = task
    augmenter = _worker.get("augmenter")
    samples = trim_silence(read_audio(path))
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
) -> list[np.ndarray]:
    tasks = [(str(c.path), i, variants, frames) for i, c in enumerate(clips)]
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
    for role, kind in ((Role.POSITIVE, POSITIVE), (Role.HARD_NEGATIVE, HARD_NEGATIVE)):
        clips = dataset.select(role, Split.TRAIN)
        builder.add_clips(
            clip_windows(
                clips,
                augmenter=augmenter,
                bed=bed,
                variants=variants,
                frames=frames,
                workers=workers,
                stage=f"{role.value} clips",
                on_progress=on_progress,
            ),
            kind,
        )
    for clip in dataset.select(Role.NEGATIVE, Split.TRAIN):
        builder.add_sequence(cache.features(clip, raw=True), NEGATIVE, NEGATIVE_HOP_FRAMES)
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
    for role, kind in ((Role.POSITIVE, POSITIVE), (Role.HARD_NEGATIVE, HARD_NEGATIVE)):
        clips = dataset.select(role, split)
        builder.add_clips(
            clip_windows(
                clips,
                augmenter=None,
                bed=bed,
                variants=1,
                frames=frames,
                workers=workers,
                stage=f"{split.value} {role.value}",
                on_progress=on_progress,
            ),
            kind,
        )
    for clip in dataset.select(Role.NEGATIVE, split):
        builder.add_sequence(cache.features(clip, raw=True), NEGATIVE, frames // 2)
    return builder.build(), device_set(config, dataset, cache, split)


def device_set(
    config: Config, dataset: Dataset, cache: FeatureCache, split: Split | None
) -> DeviceSet:
    """One split (None: all of it) as the device hears it: clips on a quiet bed, ambient whole."""
    frames = config.model.input_frames
    bed = quiet_bed(dataset)

    def heard(role: Role) -> list[np.ndarray]:
        return [
            device_sequence(trim_silence(read_audio(c.path)), frames, bed)
            for c in dataset.select(role, split)
        ]

    return DeviceSet(
        positives=heard(Role.POSITIVE),
        ambient=[cache.features(c) for c in dataset.select(Role.NEGATIVE, split)],
        hard_negatives=heard(Role.HARD_NEGATIVE),
    )


def quiet_bed(dataset: Dataset) -> np.ndarray | None:
    """Quiet background to pad scored clips with (the same for every run: deterministic)."""
    clips = sorted(dataset.select(Role.BACKGROUND), key=lambda c: c.relpath)
    if not clips:
        return None
    noise = read_audio(clips[0].path)[: 10 * constants.SAMPLE_RATE_HZ].astype(np.float32)
    peak = float(np.abs(noise).max()) or 1.0
    return noise * (0.03 * 32767 / peak)  # about -30 dBFS: a quiet room
