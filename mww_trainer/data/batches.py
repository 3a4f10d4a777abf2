"""Training batches: class-balanced draws from a WindowPool, prepared one batch ahead.

Frames stay uint16 until the train step scales them, unless SpecAugment needs floats
here; class weights come from the phase. Preparation runs on a thread so it overlaps
the step (TensorFlow releases the GIL while it computes).
"""

from __future__ import annotations

import threading
from queue import Queue

import numpy as np

from mww_trainer.data.spec_augment import spec_augment
from mww_trainer.data.windows import POSITIVE, WindowPool

# Positives in each batch, at least: wake words are a small minority of the windows, and
# drawn in proportion a batch would barely hold one. The class weights then set the balance.
MIN_POSITIVE_SHARE = 1 / 3


class BatchSampler:
    """Random batches in which positives make up at least MIN_POSITIVE_SHARE."""

    def __init__(self, pool: WindowPool, batch_size: int, seed: int):
        self.pool = pool
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.positives = np.flatnonzero(pool.kind == POSITIVE)
        self.negatives = np.flatnonzero(pool.kind != POSITIVE)
        if len(self.positives) == 0 or len(self.negatives) == 0:
            raise ValueError("training needs both positive and negative windows")
        share = max(MIN_POSITIVE_SHARE, len(self.positives) / len(pool))
        self.n_pos = min(batch_size - 1, max(1, round(batch_size * share)))

        weight = pool.weight
        self._pos_cdf = None if weight is None else _cdf(weight[self.positives])
        self._neg_cdf = None if weight is None else _cdf(weight[self.negatives])

    def draw(self) -> np.ndarray:
        pos = self._pick(self.positives, self._pos_cdf, self.n_pos)
        neg = self._pick(self.negatives, self._neg_cdf, self.batch_size - self.n_pos)
        return np.concatenate([pos, neg])

    def _pick(self, index: np.ndarray, cdf: np.ndarray | None, n: int) -> np.ndarray:
        if cdf is None:
            return self.rng.choice(index, n)
        # Weighted draws by inverse CDF: O(n log N) a batch, where choice(p=...) is O(N).
        at = np.searchsorted(cdf, self.rng.random(n) * cdf[-1], side="right")
        return index[np.minimum(at, len(index) - 1)]


def _cdf(weights: np.ndarray) -> np.ndarray:
    return np.cumsum(weights, dtype=np.float64)


def batches(pool: WindowPool, sampler: BatchSampler, phase, count: int, seed: int):
    """Yields (x, y, w) for `count` steps, prepared one batch ahead on a thread."""
    weights = np.asarray(phase.weights, np.float32)
    rng = np.random.default_rng(seed)
    queue: Queue = Queue(maxsize=2)

    def prepare():
        idx = sampler.draw()
        t_size, t_count, f_size, f_count = phase.masks
        if t_count or f_count:
            x = spec_augment(
                pool.features(idx),
                time_mask_max_size=t_size,
                time_mask_count=t_count,
                freq_mask_max_size=f_size,
                freq_mask_count=f_count,
                rng_or_seed=rng,
            )
        else:
            x = pool.gather(idx)  # uint16 travels at half the size; the step scales it
        return x, pool.labels[idx], weights[pool.kind[idx]]

    def produce():
        try:
            for _ in range(count):
                queue.put(prepare())
        except BaseException as exc:  # re-raised in the training loop, never lost on a thread
            queue.put(exc)

    threading.Thread(target=produce, daemon=True).start()
    for _ in range(count):
        item = queue.get()
        if isinstance(item, BaseException):
            raise item
        yield item
