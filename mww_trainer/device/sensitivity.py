"""Three sensitivity levels for the device, measured, in a sidecar beside the manifest.

The manifest holds one `probability_cutoff` (ESPHome's v2 format has no room for more, and
stays strict). `sensitivity.json` beside it holds three operating points that the ESPHome
package turns into a "Wake word sensitivity" select, as Voice PE's firmware does:

- "Slightly sensitive": about 0.1 false wakes per hour;
- "Moderately sensitive": the cutoff the model ships with (chosen for
  `training.target_minimization`, 0.5 false wakes per hour in every preset);
- "Very sensitive": about 1 false wake per hour.

Each is measured on one sweep of the exported model (recall, false wakes per hour and
sound-alike triggers at every uint8 cutoff). Among cutoffs with equal measured figures,
"Slightly" takes the highest and "Very" the lowest; their cutoffs never cross the default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mww_trainer.errors import MwwError
from mww_trainer.evaluation.detection import cutoff_to_u8
from mww_trainer.evaluation.sweep import OperatingPoint, Sweep
from mww_trainer.fileio import atomic_write_text

SIDECAR_NAME = "sensitivity.json"
SIDECAR_VERSION = 1
SLIGHTLY, MODERATELY, VERY = "Slightly sensitive", "Moderately sensitive", "Very sensitive"
SLIGHTLY_FA_PER_HOUR = 0.1
VERY_FA_PER_HOUR = 1.0


@dataclass(frozen=True)
class Level:
    name: str
    target_fa_per_hour: float | None  # None: the model's own cutoff
    cutoff: float
    cutoff_u8: int  # what the device compares with (ESPHome truncates cutoff * 255)
    recall: float
    fa_per_hour: float
    hard_negative_rate: float


@dataclass(frozen=True)
class Sensitivity:
    levels: tuple[Level, ...]  # increasing cutoffs: Very, Moderately, Slightly
    default: str  # the level the model ships with
    measured_on: dict[str, Any]  # split, positives, hard_negatives, ambient_hours, window
    model: str = ""  # the .tflite file the levels were measured on

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SIDECAR_VERSION,
            "model": self.model,
            "default": self.default,
            "measured_on": self.measured_on,
            "levels": [asdict(level) for level in self.levels],
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = SIDECAR_NAME) -> Sensitivity:
        try:
            levels = tuple(Level(**level) for level in data["levels"])
            result = cls(
                levels,
                str(data["default"]),
                dict(data.get("measured_on") or {}),
                str(data.get("model") or ""),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise MwwError(f"{source}: not a sensitivity file ({err})") from err
        cutoffs = [level.cutoff_u8 for level in levels]
        if len(levels) != 3 or cutoffs != sorted(cutoffs) or not 0 < cutoffs[0] <= 255:
            raise MwwError(f"{source}: expected three levels of increasing cutoffs, {cutoffs}")
        if result.default not in {level.name for level in levels}:
            raise MwwError(f"{source}: the default {result.default!r} is none of its levels")
        return result


def measure_levels(
    result: Sweep, default_cutoff: float, measured_on: dict[str, Any], *, model: str = ""
) -> Sensitivity:
    """The three levels on `result` (a sweep of the exported model `model` at its window)."""
    default = result.at(default_cutoff)
    slightly = _within(result, SLIGHTLY_FA_PER_HOUR, highest=True) or result.strictest()
    very = _within(result, VERY_FA_PER_HOUR, highest=False) or default
    slightly = max(slightly, default, key=lambda p: p.cutoff_u8)
    very = min(very, default, key=lambda p: p.cutoff_u8)
    levels = (
        _level(VERY, VERY_FA_PER_HOUR, very),
        _level(MODERATELY, None, default, cutoff=default_cutoff),
        _level(SLIGHTLY, SLIGHTLY_FA_PER_HOUR, slightly),
    )
    return Sensitivity(levels, MODERATELY, measured_on, model)


def _within(result: Sweep, target: float, *, highest: bool) -> OperatingPoint | None:
    """Among cutoffs at or below `target` FA/h, those with the best recall: the highest or
    the lowest of them, among the cutoffs a model may ship with."""
    viable = [p for p in result.offerable() if p.fa_per_hour <= target]
    if not viable:
        return None
    best = max(p.recall for p in viable)
    tied = [p for p in viable if p.recall == best]
    return max(tied, key=lambda p: p.cutoff_u8) if highest else min(tied, key=lambda p: p.cutoff_u8)


def _level(name: str, target: float | None, point: OperatingPoint, cutoff: float | None = None):
    cutoff = point.cutoff if cutoff is None else cutoff
    return Level(
        name=name,
        target_fa_per_hour=target,
        cutoff=cutoff,
        cutoff_u8=cutoff_to_u8(cutoff),
        recall=point.recall,
        fa_per_hour=point.fa_per_hour,
        hard_negative_rate=point.hard_negative_rate,
    )


def write_sidecar(sensitivity: Sensitivity, folder: Path) -> Path:
    """`sensitivity.json` in `folder` (beside manifest.json), written atomically."""
    text = json.dumps(sensitivity.to_dict(), indent=1) + "\n"
    return atomic_write_text(Path(folder) / SIDECAR_NAME, text)


def read_sidecar(manifest_path: Path, model_file: str) -> Sensitivity | None:
    """The levels beside a manifest, or None when it has none or they were measured on
    another model than `model_file` (the .tflite the manifest names)."""
    path = Path(manifest_path).parent / SIDECAR_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise MwwError(f"{path}: unreadable ({err})") from err
    found = Sensitivity.from_dict(data, source=str(path))
    return found if found.model == model_file else None
