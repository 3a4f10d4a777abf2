"""How the model behaves on a device: recall on wake words, false accepts per hour on ambient audio.

Every figure comes from `detection.detect` applied to per-slice uint8 outputs, so a
cutoff chosen here is the cutoff the ESP32 will apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mww_trainer import constants
from mww_trainer.evaluation.detection import MAX_CUTOFF_U8, SLICE_S, cutoff_to_u8, detect

# Area under recall vs FA/h is taken from 0 to this many false accepts per hour.
VIABLE_FA_PER_HOUR = 2.0


@dataclass(frozen=True)
class OperatingPoint:
    cutoff_u8: int
    recall: float
    fa_per_hour: float
    hard_negative_rate: float

    @property
    def cutoff(self) -> float:
        """The smallest float cutoff the device truncates to this uint8 value."""
        return round((self.cutoff_u8 + 0.5) / 255.0, 4)


@dataclass(frozen=True)
class Sweep:
    window: int
    points: tuple[OperatingPoint, ...]  # one per uint8 cutoff, ascending

    def at(self, cutoff: float) -> OperatingPoint:
        return self.points[cutoff_to_u8(cutoff)]

    def offerable(self) -> list[OperatingPoint]:
        """The cutoffs a model may ship with: 0 fires on silence, and above MAX_CUTOFF_U8 a
        manifest cannot hold the cutoff (nor could the device fire)."""
        return list(self.points[1 : MAX_CUTOFF_U8 + 1])

    def strictest(self) -> OperatingPoint:
        return self.points[MAX_CUTOFF_U8]


def hours(outputs: list[np.ndarray]) -> float:
    return sum(len(o) for o in outputs) * SLICE_S / 3600.0


def heard(outputs: np.ndarray, cutoff_u8: int, window: int) -> np.ndarray:
    """Detections in one scored recording, which starts like a device that just loaded the
    model: the first 100 slices (3 s) cannot fire, as on the ESP32. It also keeps the
    frontend's start-up transient, which a listening device never shows, out of the counts."""
    return detect(
        outputs,
        cutoff_u8=cutoff_u8,
        window=window,
        initial_cooldown=constants.IGNORE_SLICES_AFTER_DETECTION,
    )


def count_detected(outputs: list[np.ndarray], cutoff_u8: int, window: int) -> int:
    """Clips in which the device fires at least once (each scored from a listening device)."""
    return sum(1 for o in outputs if len(heard(o, cutoff_u8, window)))


def count_false_accepts(outputs: list[np.ndarray], cutoff_u8: int, window: int) -> int:
    return sum(len(heard(o, cutoff_u8, window)) for o in outputs)


def sweep(
    positives: list[np.ndarray],
    ambient: list[np.ndarray],
    *,
    window: int,
    hard_negatives: list[np.ndarray] | None = None,
) -> Sweep:
    """Recall, FA/h and hard-negative trigger rate at every uint8 cutoff."""
    ambient_hours = hours(ambient)
    hard = hard_negatives or []
    points = []
    for c in range(256):
        recall = count_detected(positives, c, window) / len(positives) if positives else 0.0
        fa = count_false_accepts(ambient, c, window) / ambient_hours if ambient_hours else 0.0
        hard_rate = count_detected(hard, c, window) / len(hard) if hard else 0.0
        points.append(OperatingPoint(c, recall, fa, hard_rate))
    return Sweep(window, tuple(points))


def recall_at_fa(result: Sweep, max_fa_per_hour: float) -> float:
    """Best recall among cutoffs whose FA/h is at most `max_fa_per_hour`."""
    viable = [p.recall for p in result.points if p.fa_per_hour <= max_fa_per_hour]
    return max(viable, default=0.0)


def average_viable_recall(result: Sweep, limit: float = VIABLE_FA_PER_HOUR) -> float:
    """Area under recall(FA/h) for FA/h in [0, limit], divided by limit."""
    grid = np.linspace(0.0, limit, 201)
    curve = [recall_at_fa(result, x) for x in grid]
    return float(np.trapezoid(curve, grid) / limit)


def recommend(
    result: Sweep, target_fa_per_hour: float, max_hard_negative_rate: float = 1.0
) -> OperatingPoint:
    """The middle of the cutoffs that reach the best recall at or below the target FA/h and
    that wake on at most ``max_hard_negative_rate`` of the sound-alikes (hard negatives).

    Every cutoff in that range scored the same on validation; the middle keeps a margin
    both ways, for quieter wake words and for louder false alarms than the ones measured.
    The sound-alikes guard the cutoff because an hour or so of validation talk is too little
    to show how often people talking will wake the model, while a model that wakes on many
    words like its own wakes on people too. When no cutoff that wakes meets both, the guard
    is dropped before the FA/h target is (the verdict still reports the sound-alikes' rate).
    """
    for guard in (max_hard_negative_rate, 1.0):
        viable = [
            p
            for p in result.offerable()
            if p.fa_per_hour <= target_fa_per_hour and p.hard_negative_rate <= guard
        ]
        best = max((p.recall for p in viable), default=0.0)
        if best > 0.0:
            tied = [p.cutoff_u8 for p in viable if p.recall == best]
            return result.points[(min(tied) + max(tied)) // 2]
    return quietest_that_wakes(result)


def people_talking(
    ambient: list[np.ndarray], human: tuple[bool, ...], cutoff_u8: int, window: int
) -> tuple[int, float]:
    """False accepts in the ambient outputs recorded by people (``human`` flags each one),
    and the hours they rest on: where models trained on synthetic talk fail."""
    talk = [o for o, h in zip(ambient, human, strict=False) if h]
    return (count_false_accepts(talk, cutoff_u8, window) if talk else 0), hours(talk)


def quietest_that_wakes(result: Sweep) -> OperatingPoint:
    """When no cutoff meets the target and still wakes: the fewest false accepts among the
    cutoffs that wake at all (the best recall among those), never one that cannot fire.

    A cutoff above every output would ship a model that never wakes, and nobody could tell
    why; this one wakes, and its false accepts are reported for the verdict to judge. A model
    that woke on nothing gets the highest cutoff a manifest can hold, and a recall of 0 for the
    verdict to report.
    """
    waking = [p for p in result.offerable() if p.recall > 0]
    if not waking:
        return result.strictest()
    best = min(waking, key=lambda p: (p.fa_per_hour, -p.recall))
    tied = [
        p.cutoff_u8 for p in waking if (p.fa_per_hour, p.recall) == (best.fa_per_hour, best.recall)
    ]
    return result.points[(min(tied) + max(tied)) // 2]  # the middle, as recommend does


def summary_metrics(result: Sweep, cutoff: float) -> dict[str, float]:
    point = result.at(cutoff)
    return {
        "recall_at_cutoff": point.recall,
        "ambient_false_positives_per_hour": point.fa_per_hour,
        "hard_negative_trigger_rate": point.hard_negative_rate,
        "recall_at_no_faph": recall_at_fa(result, 0.0),
        "average_viable_recall": average_viable_recall(result),
    }
