"""What ingestion produces: clips with their role, speaker and split, and the files it skipped."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from mww_trainer.config.types import HardwareConfig
from mww_trainer.data.ingest.origin import HUMAN
from mww_trainer.jobfiles import Label

Role = Label  # a sample's label is its role in training: one enum for both


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


# Roles whose files are people speaking: split by speaker so no voice is in two splits.
SPEAKER_ROLES = (Role.POSITIVE, Role.HARD_NEGATIVE)
# Long recordings: checked by header and block-wise scans only, never loaded whole.
LONG_ROLES = (Role.NEGATIVE, Role.BACKGROUND)
# Files directly under positive/: no folder tells their speakers apart.
ROOT_SPEAKER = "_root"

Severity = Literal["skip", "warn"]
SKIP: Severity = "skip"
WARN: Severity = "warn"


@dataclass(frozen=True)
class Limits:
    """Duration bounds per role; a file outside them is skipped with the reason."""

    min_clip_s: float = 0.3  # positives, hard negatives: shorter is a click, not a word
    max_clip_s: float = 10.0  # positives, hard negatives, RIRs: longer is not one utterance
    # Negatives and background must hold at least one training clip. Default: the standard
    # preset's clip_duration_ms; use from_hardware to follow the job's configuration.
    min_long_s: float = 1.6

    @classmethod
    def from_hardware(cls, hardware: HardwareConfig) -> Limits:
        return cls(min_long_s=hardware.clip_duration_ms / 1000)


@dataclass(frozen=True)
class Clip:
    path: Path
    relpath: str  # "<role>/<path inside the role's folder>", POSIX separators
    role: Role
    speaker: str
    split: Split
    duration_s: float
    sha256: str
    rate_hz: int
    channels: int
    # Who made it: an engine family ("festival"), "synthetic" (engine unknown) or "human".
    origin: str = HUMAN

    @property
    def human(self) -> bool:
        return self.origin == HUMAN


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str
    severity: Severity


@dataclass(frozen=True)
class Dataset:
    clips: tuple[Clip, ...]
    problems: tuple[Problem, ...] = ()
    # Dataset-wide warnings (speaker leakage, files without a speaker folder).
    notes: tuple[str, ...] = ()

    def select(self, role: Role | None = None, split: Split | None = None) -> list[Clip]:
        return [
            clip
            for clip in self.clips
            if (role is None or clip.role == role) and (split is None or clip.split == split)
        ]

    def counts(self) -> dict[str, dict[str, int]]:
        """Clips per role and split: {"positive": {"train": 80, "val": 10, "test": 10}, ...}."""
        tally = Counter((clip.role, clip.split) for clip in self.clips)
        return {role.value: {split.value: tally[role, split] for split in Split} for role in Role}

    def voice_warnings(self) -> list[str]:
        """What the model will lack for real people, in sentences a user can act on."""
        out = []
        if self.select(Role.POSITIVE) and not any(c.human for c in self.select(Role.POSITIVE)):
            out.append(
                "trained on synthetic wake words only: record the wake word yourself (30 takes "
                "or more, by two or more people) so that the model learns real voices"
            )
        if not any(c.human for c in self.select(Role.NEGATIVE)):
            out.append(
                "no real people talking in its negatives: expect false wakes around "
                "conversation and TV; fetch a speech pack (mww-packs) or record the room"
            )
        return out

    @property
    def skipped(self) -> int:
        return sum(problem.severity == SKIP for problem in self.problems)

    @property
    def warnings(self) -> int:
        return sum(problem.severity == WARN for problem in self.problems)

    def summary(self, max_problems: int = 20) -> str:
        return "\n".join(_summary_lines(self, max_problems))


def speaker_leakage(dataset: Dataset) -> list[str]:
    """One line per speaker found in more than one split (positives and hard negatives).

    Negatives, background and RIRs are split file by file, so their folder names are not
    speakers and are not checked.
    """
    splits: dict[str, set[Split]] = defaultdict(set)
    for clip in dataset.clips:
        if clip.role in SPEAKER_ROLES:
            splits[clip.speaker].add(clip.split)
    return [
        f"speaker {speaker!r} is in {' and '.join(s.value for s in Split if s in seen)}"
        for speaker, seen in sorted(splits.items())
        if len(seen) > 1
    ]


def _origin_line(dataset: Dataset) -> str:
    """Who speaks the wake word, and how many hours of people talking the negatives hold."""
    engines = Counter(c.origin for c in dataset.select(Role.POSITIVE))
    people = engines.pop(HUMAN, 0)
    voices = ", ".join(f"{name} {n}" for name, n in sorted(engines.items())) or "none"
    talk_s = sum(c.duration_s for c in dataset.select(Role.NEGATIVE) if c.human)
    return (
        f"wake words: {people} recorded by people; synthetic by engine: {voices}; "
        f"negatives: {talk_s / 3600:.2f} h of people talking"
    )


def _summary_lines(dataset: Dataset, max_problems: int) -> list[str]:
    counts = dataset.counts()
    seconds: Counter[Role] = Counter()
    for clip in dataset.clips:
        seconds[clip.role] += clip.duration_s
    lines = [f"{'role':<14}{'train':>7}{'val':>7}{'test':>7}{'duration':>11}"]
    for role in Role:
        row = counts[role.value]
        hours, rest = divmod(round(seconds[role]), 3600)
        lines.append(
            f"{role.value:<14}{row['train']:>7}{row['val']:>7}{row['test']:>7}"
            f"{hours:>5}:{rest // 60:02}:{rest % 60:02}"
        )
    speakers = {clip.speaker for clip in dataset.clips if clip.role == Role.POSITIVE}
    lines.append(_origin_line(dataset))
    lines.append(
        f"{len(dataset.clips)} clips used, {len(speakers)} positive speakers; "
        f"{dataset.skipped} file(s) skipped, {dataset.warnings} warning(s)"
    )
    lines.extend(f"note: {note}" for note in dataset.notes)
    lines.extend(f"warning: {warning}" for warning in dataset.voice_warnings())
    for problem in dataset.problems[:max_problems]:
        lines.append(f"{problem.severity}: {problem.reason}")
    if len(dataset.problems) > max_problems:
        lines.append(f"... and {len(dataset.problems) - max_problems} more problems")
    return lines
