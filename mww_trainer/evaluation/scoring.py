"""Per-slice model outputs over feature sequences, aligned with the device's slices.

The device invokes the streaming model once per 3 feature rows (slice j ends at row
3j + 2). The sequence model gives the same outputs in one pass once a full window of
history exists; for the first `input_frames - 1` rows it has none and reports 0.
Long sequences are scored in overlapping chunks so memory stays bounded.
"""

from __future__ import annotations

import numpy as np

from mww_trainer import constants
from mww_trainer.evaluation.detection import quantize_probabilities
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.model.stream import Mode

CHUNK_SLICES = 8192  # ~4 minutes of audio per model call


def slice_count(frames: int) -> int:
    return frames // constants.STREAM_STRIDE_FRAMES


def sequence_outputs(net: MixedNet, features: np.ndarray) -> np.ndarray:
    """uint8 output per device slice for one feature sequence `[frames, 40]`."""
    stride = constants.STREAM_STRIDE_FRAMES
    window = net.arch.input_frames
    n_slices = slice_count(len(features))
    out = np.zeros(n_slices, dtype=np.uint8)
    # The first slice whose window [end - window + 1, end] fits, with end = 3j + 2.
    first = max(0, -(-(window - stride) // stride))
    if first >= n_slices:
        return out
    model = net.model(Mode.SEQUENCE)
    for start in range(first, n_slices, CHUNK_SLICES):
        stop = min(start + CHUNK_SLICES, n_slices)
        lo = stride * start + stride - window
        hi = stride * (stop - 1) + stride
        probs = np.asarray(model(features[np.newaxis, lo:hi].astype(np.float32), training=False))
        out[start:stop] = quantize_probabilities(probs[0, : stop - start])
    return out


def outputs_for_all(net: MixedNet, sequences: list[np.ndarray]) -> list[np.ndarray]:
    return [sequence_outputs(net, seq) for seq in sequences]
