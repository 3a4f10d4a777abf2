"""One measurement of a model on the validation split, as the device detects."""

from __future__ import annotations

from dataclasses import dataclass

from mww_trainer.config.types import Config
from mww_trainer.data.training_set import DeviceSet


@dataclass(frozen=True)
class Measurement:
    cutoff: float  # re-chosen for the FA/h target (or the configured one)
    fa_per_hour: float  # false accepts per hour of other speech at that cutoff
    recall: float  # share of wake words heard at that cutoff
    start_cutoff: float  # the cutoff the untuned checkpoint had
    fa_per_hour_at_start: float  # at start_cutoff: the same yardstick before and after
    recall_at_start: float
    ambient_hours: float


def measure(
    net, config: Config, device: DeviceSet, max_fah: float, *, start_cutoff: float | None
) -> Measurement:
    """The validation sweep read twice: at the cutoff for max_fah, and at start_cutoff (the
    same cutoff when None: the first measurement fixes it)."""
    from mww_trainer.evaluation import cutoff as cutoff_rule
    from mww_trainer.evaluation.scoring import outputs_for_all
    from mww_trainer.evaluation.sweep import hours, sweep

    ambient = outputs_for_all(net, device.ambient)
    result = sweep(
        outputs_for_all(net, device.positives),
        ambient,
        window=config.export.sliding_window_size,
        hard_negatives=outputs_for_all(net, device.hard_negatives),
    )
    cutoff = cutoff_rule.choose(
        config.export.probability_cutoff, result, max_fah, config.training.max_hard_negative_rate
    ).value
    fixed = cutoff if start_cutoff is None else start_cutoff
    point, start = result.at(cutoff), result.at(fixed)
    return Measurement(
        cutoff=float(cutoff),
        fa_per_hour=float(point.fa_per_hour),
        recall=float(point.recall),
        start_cutoff=float(fixed),
        fa_per_hour_at_start=float(start.fa_per_hour),
        recall_at_start=float(start.recall),
        ambient_hours=float(hours(ambient)),
    )
