"""An exported model listening to a stream, exactly as the device runs it.

PCM in any chunks → the device's frontend (pymicro-features, one 10 ms hop at a time) →
the device's int8 rule → one invoke of the streaming model per 3 feature rows (LiteRT with
the reference kernels, equal to TFLite-Micro) → the device's detection loop (sliding window,
cutoff, the 3 s cool-down after a model load and after each wake). Any split of the audio
into chunks gives the same outputs and wakes as scoring the whole recording at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mww_trainer import constants
from mww_trainer.data.features import FeatureStream, features_to_device_int8
from mww_trainer.device.manifest import Manifest
from mww_trainer.device.runtime import LiteRTStream
from mww_trainer.evaluation.detection import DeviceDetector, cutoff_to_u8

STRIDE = constants.STREAM_STRIDE_FRAMES


@dataclass(frozen=True)
class ModelPoint:
    """What the device needs besides the model: its cutoff and sliding window."""

    probability_cutoff: float
    sliding_window_size: int

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ModelPoint:
        return cls(manifest.probability_cutoff, manifest.sliding_window_size)


def slice_end_s(index: int) -> float:
    """Seconds of audio the device had heard when it scored slice `index` (from 0)."""
    last_row = index * STRIDE + STRIDE - 1
    samples = constants.WINDOW_SIZE_SAMPLES + last_row * constants.WINDOW_STEP_SAMPLES
    return samples / constants.SAMPLE_RATE_HZ


@dataclass(frozen=True)
class Scored:
    """The slices one push completed: their uint8 outputs and the wakes among them."""

    first: int  # index of the first slice in `outputs`, counted from the stream's start
    outputs: np.ndarray  # uint8, one per slice
    wakes: tuple[int, ...] = field(default=())  # slice indices at which the device fired

    def messages(self) -> list[dict]:
        """{t, p, wake} per slice: end time in seconds, probability, whether it woke."""
        woke = set(self.wakes)
        return [
            {
                "t": round(slice_end_s(self.first + i), 3),
                "p": round(int(u) * constants.OUTPUT_SCALE, 4),
                "wake": self.first + i in woke,
            }
            for i, u in enumerate(self.outputs)
        ]


class LiveScorer:
    """Takes 16 kHz mono PCM in chunks of any size; returns what each chunk completed."""

    def __init__(self, model_bytes: bytes, point: ModelPoint) -> None:
        self.point = point
        self._features = FeatureStream()
        self._model = LiteRTStream(model_bytes)
        self._detector = DeviceDetector(
            cutoff_u8=cutoff_to_u8(point.probability_cutoff),
            window=point.sliding_window_size,
            initial_cooldown=constants.IGNORE_SLICES_AFTER_DETECTION,  # just loaded
        )
        self._rows = np.empty((0, constants.MEL_BINS), dtype=np.float32)
        self._slices = 0

    @classmethod
    def from_manifest(cls, path: str | Path) -> LiveScorer:
        """The model a manifest names (beside it), at the manifest's cutoff and window."""
        manifest = Manifest.from_file(path)
        model = (Path(path).parent / manifest.model).read_bytes()
        return cls(model, ModelPoint.from_manifest(manifest))

    @property
    def slices(self) -> int:
        return self._slices

    def push(self, samples: np.ndarray) -> Scored:
        """Feed int16 (or float in [-1, 1]) samples at 16 kHz."""
        rows = self._features.push(samples)
        if self._rows.size:
            rows = np.concatenate((self._rows, rows))
        usable = len(rows) // STRIDE * STRIDE
        self._rows = rows[usable:].copy()
        first = self._slices
        if not usable:
            return Scored(first, np.zeros(0, np.uint8))
        slices = features_to_device_int8(rows[:usable]).reshape(-1, STRIDE, constants.MEL_BINS)
        outputs = self._model.run(slices)
        wakes = tuple(first + i for i, u in enumerate(outputs) if self._detector.step(int(u)))
        self._slices += len(outputs)
        return Scored(first, outputs, wakes)
