"""One evaluation of a checkpoint or an exported file on a dataset split (mww-evaluate's body)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mww_trainer.config.types import Config
from mww_trainer.data.ingest import Dataset
from mww_trainer.data.training_set import DeviceSet
from mww_trainer.device.manifest import MANIFEST_NAME
from mww_trainer.device.sensitivity import measure_levels
from mww_trainer.evaluation import cutoff as cutoff_rule
from mww_trainer.evaluation.cutoff import CutoffSource
from mww_trainer.evaluation.detection import SLICE_S, cutoff_to_u8
from mww_trainer.evaluation.sweep import (
    OperatingPoint,
    Sweep,
    average_viable_recall,
    count_detected,
    heard,
    people_talking,
    recall_at_fa,
    recommend,
    sweep,
)
from mww_trainer.jobfiles import DET_JSON, DET_PNG

# Sliding windows tried when recommending one (the device accepts any window >= 1).
CANDIDATE_WINDOWS = (3, 5, 7, 10)
SWEEP_CUTOFFS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)


@dataclass(frozen=True)
class EvaluationRequest:
    model: Path
    is_tflite: bool
    split: str = "test"
    target_fa_per_hour: float | None = None
    analyze: bool = False
    output_dir: Path | None = None


@dataclass(frozen=True)
class Outputs:
    positives: list[np.ndarray]
    ambient: list[np.ndarray]
    hard_negatives: list[np.ndarray]


def tflite_sequence_outputs(model: bytes, seq: np.ndarray) -> np.ndarray:
    """One feature sequence [frames, 40] streamed through the int8 model: uint8 per slice."""
    from mww_trainer.data.features import features_to_device_int8
    from mww_trainer.device.runtime import run_stream_litert

    usable = len(seq) // 3 * 3
    if usable == 0:
        return np.zeros(0, np.uint8)
    slices = features_to_device_int8(seq[:usable]).reshape(-1, 3, 40)
    return np.asarray(run_stream_litert(model, slices), dtype=np.uint8)


def tflite_outputs(model: bytes, device: DeviceSet) -> Outputs:
    """Every sequence streamed through the int8 model with the device's int8 features."""

    def run(seq: np.ndarray) -> np.ndarray:
        return tflite_sequence_outputs(model, seq)

    return Outputs(
        [run(s) for s in device.positives],
        [run(s) for s in device.ambient],
        [run(s) for s in device.hard_negatives],
    )


def checkpoint_outputs(config: Config, path: Path, device: DeviceSet) -> Outputs:
    from mww_trainer.evaluation.scoring import outputs_for_all
    from mww_trainer.training.checkpoint import load_checkpoint

    net = load_checkpoint(config.model, path)
    return Outputs(
        outputs_for_all(net, device.positives),
        outputs_for_all(net, device.ambient),
        outputs_for_all(net, device.hard_negatives),
    )


def operating_point(config: Config, request: EvaluationRequest) -> tuple[float | None, int]:
    """The cutoff and window the model ships with: its manifest's, else what training measured
    for the checkpoint, else the config's (None: choose one on this split)."""
    window = config.export.sliding_window_size
    if request.is_tflite:
        manifest = request.model.parent / MANIFEST_NAME
        if manifest.is_file():
            micro = json.loads(manifest.read_text())["micro"]
            return micro["probability_cutoff"], micro["sliding_window_size"]
        return config.export.probability_cutoff, window
    point = cutoff_rule.for_checkpoint(config.export.probability_cutoff, request.model)
    return (None if point.source is CutoffSource.FALLBACK else point.value), window


def _sweep(outputs: Outputs, window: int) -> Sweep:
    return sweep(
        outputs.positives, outputs.ambient, window=window, hard_negatives=outputs.hard_negatives
    )


def best_window(
    outputs: Outputs, target: float, max_hard_negative_rate: float = 1.0
) -> tuple[int, OperatingPoint]:
    """The window and cutoff with the best recall at or below the target (smaller wins ties)."""
    best: tuple[int, OperatingPoint] | None = None
    for window in CANDIDATE_WINDOWS:
        point = recommend(_sweep(outputs, window), target, max_hard_negative_rate)
        ok = point.fa_per_hour <= target
        if best is None or (ok and point.recall > best[1].recall):
            best = (window, point)
    assert best is not None
    return best


def analysis(outputs: Outputs, clips, ambient_names, cutoff: float, window: int) -> dict:
    c = cutoff_to_u8(cutoff)
    missed = [
        clip.relpath
        for clip, out in zip(clips, outputs.positives, strict=True)
        if not len(heard(out, c, window))
    ]
    false_accepts = [
        f"{name} at {i * SLICE_S:.1f} s"
        for name, out in zip(ambient_names, outputs.ambient, strict=True)
        for i in heard(out, c, window)
    ]
    return {"missed": missed, "false_accepts": false_accepts}


def run_evaluation(config: Config, request: EvaluationRequest) -> dict:
    """Ingests the configured dataset and evaluates on it (mww-evaluate)."""
    from mww_trainer.data.feature_cache import FeatureCache
    from mww_trainer.data.ingest import Role, Split
    from mww_trainer.pipeline import load_dataset

    dataset = load_dataset(config)
    cache = FeatureCache(Path(config.paths.processed_dir) / "features")
    split = None if request.split == "all" else Split(request.split)
    cache.ensure(dataset.select(Role.NEGATIVE, split))  # in parallel, before one by one
    return evaluate(config, request, dataset, cache)


def evaluate(config: Config, request: EvaluationRequest, dataset: Dataset, cache) -> dict:
    """The model on ``request.split`` of an ingested dataset, its features from ``cache`` (a
    training job's cache holds them all already; a missing one is extracted when read)."""
    from mww_trainer.data.ingest import Role, Split
    from mww_trainer.data.training_set import device_set
    from mww_trainer.evaluation.det_curve import write_det_json, write_det_png

    split = None if request.split == "all" else Split(request.split)
    device = device_set(config, dataset, cache, split)
    outputs = (
        tflite_outputs(request.model.read_bytes(), device)
        if request.is_tflite
        else checkpoint_outputs(config, request.model, device)
    )
    cutoff, window = operating_point(config, request)
    target = (
        request.target_fa_per_hour
        if request.target_fa_per_hour is not None
        else config.training.target_minimization
    )
    result = _sweep(outputs, window)
    guard = config.training.max_hard_negative_rate
    if cutoff is None:
        cutoff = cutoff_rule.choose(None, result if outputs.ambient else None, target, guard).value
    rec_window, rec = best_window(outputs, target, guard)
    out_dir = request.output_dir or request.model.parent / "evaluation"
    report = _report(request, outputs, result, cutoff, window, target, (rec_window, rec))
    report["max_hard_negative_rate"] = guard
    report |= _real_speech(outputs, device.ambient_human, cutoff, window)
    held_out = dataset.select(Role.POSITIVE, split)
    report["held_out_voices"] = held_out_voices(held_out)
    report["people_wake_words"] = people_wake_words(outputs, held_out, cutoff, window)
    if outputs.positives and outputs.ambient:
        measured_on = {
            key: report[key] for key in ("split", "positives", "hard_negatives", "ambient_hours")
        } | {"sliding_window_size": window}
        levels = measure_levels(result, cutoff, measured_on, model=request.model.name)
        report["sensitivity"] = levels.to_dict()
    report["det_png"] = str(
        write_det_png(result, out_dir / DET_PNG, chosen=result.at(cutoff), title=request.model.name)
    )
    report["det_json"] = str(write_det_json(result, out_dir / DET_JSON))
    if request.analyze:
        report["analysis"] = analysis(
            outputs,
            dataset.select(Role.POSITIVE, split),
            device.ambient_names,
            cutoff,
            window,
        )
    return report


def _report(
    request: EvaluationRequest,
    outputs: Outputs,
    result: Sweep,
    cutoff: float,
    window: int,
    target: float,
    recommended: tuple[int, OperatingPoint],
) -> dict:
    at = result.at(cutoff)
    rec_window, rec = recommended
    return {
        "model": str(request.model),
        "split": request.split,
        "positives": len(outputs.positives),
        "hard_negatives": len(outputs.hard_negatives),
        "ambient_hours": sum(len(o) for o in outputs.ambient) * SLICE_S / 3600,
        "cutoff": cutoff,
        "sliding_window_size": window,
        "at_cutoff": _row(at),
        "average_viable_recall": average_viable_recall(result),
        "recall_at_no_faph": recall_at_fa(result, 0.0),
        "sweep": [{"cutoff": c, **_row(result.at(c))} for c in SWEEP_CUTOFFS],
        "target_fa_per_hour": target,
        "recommended": {
            "cutoff": rec.cutoff,
            "sliding_window_size": rec_window,
            "recall": rec.recall,
            "fa_per_hour": rec.fa_per_hour,
            "hard_negative_rate": rec.hard_negative_rate,
        },
    }


def held_out_voices(clips) -> dict:
    """Who spoke the held-out wake words: engine families, and how many people."""
    return {
        "engines": sorted({clip.origin for clip in clips if not clip.human}),
        "people": len({clip.speaker for clip in clips if clip.human}),
    }


def people_wake_words(outputs: Outputs, clips, cutoff: float, window: int) -> dict:
    """How many of the held-out takes people recorded woke the model at the cutoff: the
    figure a household cares about, which the engines' many clips would drown."""
    takes = [out for clip, out in zip(clips, outputs.positives, strict=True) if clip.human]
    woke = count_detected(takes, cutoff_to_u8(cutoff), window)
    people = len({clip.speaker for clip in clips if clip.human})
    return {"takes": len(takes), "woke": woke, "people": people}


def _real_speech(outputs: Outputs, human: tuple[bool, ...], cutoff: float, window: int) -> dict:
    """False accepts on the recordings of people alone, counted and per hour."""
    count, hours = people_talking(outputs.ambient, human, cutoff_to_u8(cutoff), window)
    return {
        "real_speech_hours": hours,
        "real_speech_false_accepts": count,
        "real_speech_fa_per_hour": count / hours if hours else 0.0,
    }


def _row(point: OperatingPoint) -> dict:
    return {
        "recall": point.recall,
        "fa_per_hour": point.fa_per_hour,
        "hard_negative_rate": point.hard_negative_rate,
    }
