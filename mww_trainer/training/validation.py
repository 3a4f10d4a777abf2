"""Validation during training: clip-level metrics plus detection as the device does it."""

from __future__ import annotations

import numpy as np

from mww_trainer.config.types import Config
from mww_trainer.data.training_set import DeviceSet
from mww_trainer.data.windows import WindowPool
from mww_trainer.evaluation import cutoff as cutoff_rule
from mww_trainer.evaluation.detection import cutoff_to_u8
from mww_trainer.evaluation.metrics import binary_metrics
from mww_trainer.evaluation.scoring import outputs_for_all
from mww_trainer.evaluation.sweep import hours, people_talking, summary_metrics, sweep
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.training.fit import predict


def validation_metrics(
    net: MixedNet, config: Config, val_pool: WindowPool, device: DeviceSet
) -> dict[str, float]:
    index = np.arange(len(val_pool))
    metrics: dict[str, float] = {}
    if len(index):
        scores = np.concatenate(
            [
                predict(net, val_pool.features(index[i : i + 2048]))
                for i in range(0, len(index), 2048)
            ]
        )
        metrics.update(binary_metrics(val_pool.labels, scores))
    if device.positives and device.ambient:
        window = config.export.sliding_window_size
        positives = outputs_for_all(net, device.positives)
        ambient = outputs_for_all(net, device.ambient)
        hard = outputs_for_all(net, device.hard_negatives)
        result = sweep(positives, ambient, window=window, hard_negatives=hard)
        cutoff = cutoff_rule.choose(
            config.export.probability_cutoff,
            result,
            config.training.target_minimization,
            config.training.max_hard_negative_rate,
        ).value
        metrics.update(summary_metrics(result, cutoff))
        metrics["cutoff"] = cutoff
        metrics["cutoff_u8"] = float(cutoff_to_u8(cutoff))
        metrics["ambient_hours"] = hours(ambient)
        count, talk_hours = people_talking(
            ambient, device.ambient_human, cutoff_to_u8(cutoff), window
        )
        metrics["real_speech_hours"] = talk_hours
        if talk_hours:
            metrics["real_speech_false_positives_per_hour"] = count / talk_hours
    return metrics
