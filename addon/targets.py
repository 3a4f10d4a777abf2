"""How much of each kind of sample a good model needs: the one home of these numbers.

The service serves them (`GET /api/info`, and each project's `targets`); the panel's tables,
its Record tab and its Train warning all read them from there. Wake words and sound-alikes
are counted in clips, other speech in hours of audio (the project's own, room recordings
included, plus the installed speech packs: training uses those too).

The other-speech hours follow from the held-out check: validation takes at most
MAX_VAL_NEGATIVE_SHARE of the negatives, and the verdict wants MIN_AMBIENT_HOURS of them to
judge false wakes at all, READY_AMBIENT_HOURS to call a model ready.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mww_trainer.data.ingest.split import MAX_VAL_NEGATIVE_SHARE, MIN_HUMAN_TAKES
from mww_trainer.evaluation.verdict import MIN_AMBIENT_HOURS, READY_AMBIENT_HOURS

CLIPS, HOURS = "clips", "hours"
RECORDED = "recorded"  # wake words people recorded (any source but synthetic)
GOOD, OK, LOW = "good", "ok", "low"


def _hours_for_held_out(held_out_h: float) -> float:
    """Hours of other speech whose validation share holds `held_out_h`, up to the half hour."""
    return math.ceil(2 * held_out_h / MAX_VAL_NEGATIVE_SHARE) / 2


@dataclass(frozen=True)
class Target:
    kind: str  # a sample label, or RECORDED
    name: str  # as the panel shows it
    unit: str  # CLIPS or HOURS
    minimum: float
    recommended: float
    why: str
    per_person: int | None = None  # takes each person records (the Record tab's default)

    def status(self, have: float) -> str:
        return GOOD if have >= self.recommended else OK if have >= self.minimum else LOW

    def amount(self, value: float) -> str:
        """'1,000 clips' or '2.5 h'."""
        if self.unit == HOURS:
            return f"{value:.1f} h"
        return f"{round(value):,} clip{'s' if round(value) != 1 else ''}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TARGETS = (
    Target(
        "positive",
        "Wake-word clips",
        CLIPS,
        100,
        1000,
        "the model learns the wake word from many voices; Generate's 2000 clips reach it",
    ),
    Target(
        RECORDED,
        "Wake word in people's voices",
        CLIPS,
        0,
        2 * MIN_HUMAN_TAKES,
        f"{MIN_HUMAN_TAKES} takes each by two people: one trains, the other is held out to "
        "show how the model does on a real voice",
        per_person=MIN_HUMAN_TAKES,
    ),
    Target(
        "hard_negative",
        "Sound-alikes",
        CLIPS,
        50,
        500,
        "phrases that sound close teach the model what not to wake on",
    ),
    Target(
        "negative",
        "Other speech",
        HOURS,
        _hours_for_held_out(MIN_AMBIENT_HOURS),
        _hours_for_held_out(READY_AMBIENT_HOURS),
        f"false wakes are measured on the held-out {MAX_VAL_NEGATIVE_SHARE:.0%} of it: at least "
        f"{MIN_AMBIENT_HOURS} h there to measure them, {READY_AMBIENT_HOURS:.0f} h to call a model "
        "ready; installed speech packs count",
    ),
)
BY_KIND = {t.kind: t for t in TARGETS}


@dataclass(frozen=True)
class Amounts:
    """What a project has, in each target's unit."""

    clips: Mapping[str, int]  # per sample label
    recorded_positives: int
    negative_s: float  # the project's own other speech
    pack_hours: float  # installed speech packs

    def have(self, target: Target) -> float:
        if target.kind == RECORDED:
            return self.recorded_positives
        if target.unit == HOURS:
            return self.negative_s / 3600 + self.pack_hours
        return self.clips.get(target.kind, 0)


def progress(amounts: Amounts) -> list[dict[str, Any]]:
    """Each target with what the project has, its status and what is missing (or None)."""
    rows = []
    for target in TARGETS:
        have = amounts.have(target)
        row = target.to_dict() | {"have": round(have, 2), "status": target.status(have)}
        if target.unit == HOURS:
            row["pack_hours"] = round(amounts.pack_hours, 2)
        row["missing"] = missing_line(target, have)
        rows.append(row)
    return rows


def missing_line(target: Target, have: float) -> str | None:
    """'Other speech: 0.3 h of the minimum 2.0 h (1.7 h more)' when below the minimum."""
    if have >= target.minimum:
        return None
    return (
        f"{target.name}: {target.amount(have)} of the minimum {target.amount(target.minimum)}"
        f" ({target.amount(target.minimum - have)} more)"
    )


def below_minimum(rows: list[dict[str, Any]]) -> list[str]:
    return [row["missing"] for row in rows if row["missing"]]


def served() -> list[dict[str, Any]]:
    """The targets as `GET /api/info` serves them."""
    return [t.to_dict() for t in TARGETS]
