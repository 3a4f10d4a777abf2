"""Hard-negative mining: negative windows the current model scores above `fp_threshold`."""

from __future__ import annotations

import numpy as np

from mww_trainer.config.types import Config
from mww_trainer.data.windows import NEGATIVE, WindowPool
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.training.fit import Mine, predict

# Windows scored per round, drawn at random: bounds the pause on hours of negatives.
SCAN_WINDOWS = 20000
BATCH = 1024


def mine_windows(
    net: MixedNet,
    pool: WindowPool,
    *,
    threshold: float,
    max_samples: int,
    already: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices of plain negatives scoring above `threshold`, highest first, within the cap."""
    room = max_samples - already
    candidates = np.flatnonzero(pool.kind == NEGATIVE)
    if room <= 0 or len(candidates) == 0:
        return np.zeros(0, np.int64)
    if len(candidates) > SCAN_WINDOWS:
        candidates = np.sort(rng.choice(candidates, SCAN_WINDOWS, replace=False))
    scores = np.concatenate(
        [
            predict(net, pool.features(candidates[i : i + BATCH]))
            for i in range(0, len(candidates), BATCH)
        ]
    )
    hits = np.flatnonzero(scores > threshold)
    hits = hits[np.argsort(-scores[hits], kind="stable")][:room]
    return candidates[hits]


def make_miner(config: Config, seed: int = 0) -> Mine | None:
    mining = config.hard_negative_mining
    if not mining.enabled:
        return None
    rng = np.random.default_rng(seed)

    def mine(net: MixedNet, pool: WindowPool, already: int) -> np.ndarray:
        return mine_windows(
            net,
            pool,
            threshold=mining.fp_threshold,
            max_samples=mining.max_samples,
            already=already,
            rng=rng,
        )

    return mine
