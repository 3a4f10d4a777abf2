"""Training windows: fixed-length feature windows gathered from one array of raw frames.

Short clips (positives, hard negatives) contribute their last `length` frames, once per
augmented variant. Long recordings (negatives, ambient speech) contribute every window
start on a hop grid, so an hour of negatives costs its frames once, not once per window.
Frames are stored as the frontend's raw uint16 (half the memory of float32); the train
step converts them. Mining adds window starts with the hard-negative kind, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mww_trainer import constants

POSITIVE, NEGATIVE, HARD_NEGATIVE = 0, 1, 2
KIND_NAMES = {POSITIVE: "positive", NEGATIVE: "negative", HARD_NEGATIVE: "hard_negative"}


def last_frames(raw: np.ndarray, length: int) -> np.ndarray:
    """The last `length` frames; a shorter sequence is padded at the front with zeros."""
    if len(raw) >= length:
        return raw[len(raw) - length :]
    pad = np.zeros((length - len(raw), constants.MEL_BINS), dtype=raw.dtype)
    return np.concatenate([pad, raw])


@dataclass(frozen=True)
class WindowPool:
    frames: np.ndarray  # [total_frames, 40] uint16 raw features
    starts: np.ndarray  # [n] int64: first frame of each window
    kind: np.ndarray  # [n] uint8: POSITIVE, NEGATIVE or HARD_NEGATIVE
    length: int  # frames per window
    # [n] float32: how often a window is drawn relative to the others of its class (a
    # person's recording more often than a synthetic clip); None: all alike.
    weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def labels(self) -> np.ndarray:
        return (self.kind == POSITIVE).astype(np.float32)

    def gather(self, index: np.ndarray) -> np.ndarray:
        """Raw windows `[len(index), length, 40]` uint16."""
        offsets = self.starts[index][:, None] + np.arange(self.length)[None, :]
        return self.frames[offsets]

    def features(self, index: np.ndarray) -> np.ndarray:
        return self.gather(index).astype(np.float32) / constants.FEATURE_SCALE

    def counts(self) -> dict[str, int]:
        return {name: int(np.sum(self.kind == k)) for k, name in KIND_NAMES.items()}

    def with_kind(self, index: np.ndarray, kind: int) -> WindowPool:
        """A copy in which the windows at `index` are relabelled (mined hard negatives)."""
        new_kind = self.kind.copy()
        new_kind[index] = kind
        return replace(self, kind=new_kind)


class PoolBuilder:
    """Collects clips and long sequences, then freezes them into one WindowPool."""

    def __init__(self, length: int):
        self.length = length
        self._blocks: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        self._kinds: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self._size = 0

    def add_clips(self, raw_clips: list[np.ndarray], kind: int, weight: float = 1.0) -> None:
        """Each clip's last `length` frames become one window."""
        for raw in raw_clips:
            block = last_frames(np.asarray(raw, np.uint16), self.length)
            self._append(block, np.asarray([0]), kind, weight)

    def add_sequence(self, raw: np.ndarray, kind: int, hop: int, weight: float = 1.0) -> int:
        """Every window of a long sequence on a `hop`-frame grid; returns how many."""
        raw = np.asarray(raw, np.uint16)
        if len(raw) < self.length:
            return 0
        starts = np.arange(0, len(raw) - self.length + 1, hop, dtype=np.int64)
        self._append(raw, starts, kind, weight)
        return len(starts)

    def _append(self, block: np.ndarray, starts: np.ndarray, kind: int, weight: float) -> None:
        self._blocks.append(block)
        self._starts.append(starts + self._size)
        self._kinds.append(np.full(len(starts), kind, dtype=np.uint8))
        self._weights.append(np.full(len(starts), weight, dtype=np.float32))
        self._size += len(block)

    def build(self) -> WindowPool:
        empty = np.zeros((0, constants.MEL_BINS), np.uint16)
        return WindowPool(
            frames=np.concatenate(self._blocks) if self._blocks else empty,
            starts=np.concatenate(self._starts) if self._starts else np.zeros(0, np.int64),
            kind=np.concatenate(self._kinds) if self._kinds else np.zeros(0, np.uint8),
            length=self.length,
            weight=_weights_or_none(self._weights),
        )


def _weights_or_none(weights: list[np.ndarray]) -> np.ndarray | None:
    if not weights:
        return None
    joined = np.concatenate(weights)
    return None if np.all(joined == 1.0) else joined
