"""training.ema_decay: validation and checkpoints see the moving average of the weights."""

from __future__ import annotations

import numpy as np
import pytest

from mww_trainer.config.types import ModelConfig, TrainingConfig
from mww_trainer.data.windows import NEGATIVE, POSITIVE, PoolBuilder
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.training.checkpoint import load_checkpoint
from mww_trainer.training.fit import FitOptions, Trainer

ARCH = ModelConfig("mixednet", 8, 5, 3, None, (8, 8), ((5,), (9,)), (1, 1), (False, False), 0, 0)


def schedule(ema_decay: float, steps: int = 40) -> TrainingConfig:
    return TrainingConfig(
        training_steps=(steps,),
        learning_rates=(0.01,),
        batch_size=12,
        eval_step_interval=20,
        positive_class_weight=(1.0,),
        negative_class_weight=(1.0,),
        hard_negative_class_weight=(1.0,),
        time_mask_max_size=(0,),
        time_mask_count=(0,),
        freq_mask_max_size=(0,),
        freq_mask_count=(0,),
        minimization_metric="ambient_false_positives_per_hour",
        target_minimization=0.5,
        maximization_metric="average_viable_recall",
        ema_decay=ema_decay,
    )


def pool():
    rng = np.random.default_rng(0)
    frames = ARCH.input_frames
    builder = PoolBuilder(length=frames)
    builder.add_clips([rng.integers(500, 700, (frames, 40), np.uint16) for _ in range(8)], POSITIVE)
    builder.add_sequence(rng.integers(0, 200, (400, 40), np.uint16), NEGATIVE, hop=7)
    return builder.build()


def weights(net: MixedNet) -> list[np.ndarray]:
    from mww_trainer.model.stream import Mode

    return [v.numpy() for v in net.model(Mode.TRAINING).trainable_variables]


@pytest.mark.parametrize("decay", [0.0, 0.9])
def test_validation_and_checkpoints_see_the_average_and_training_keeps_the_raw_weights(
    tmp_path, decay
):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    net = MixedNet(ARCH)
    trainer = Trainer(net, pool(), schedule(decay), FitOptions(tmp_path / "ckpt"))
    seen: list[list[np.ndarray]] = []

    def validate(judged: MixedNet) -> dict[str, float]:
        seen.append(weights(judged))
        return {"ambient_false_positives_per_hour": 0.0, "average_viable_recall": len(seen)}

    result = trainer.run(validate, None)

    raw = weights(net)
    saved = weights(load_checkpoint(ARCH, result.best_path))
    assert result.best_step == 40
    for judged, kept in zip(seen[-1], saved, strict=True):
        np.testing.assert_array_equal(judged, kept)  # what was validated is what was saved
    gap = max(float(np.abs(a - b).max()) for a, b in zip(raw, saved, strict=True))
    if decay == 0.0:
        assert gap == 0.0
        assert trainer.averaged is None
    else:
        assert gap > 1e-4  # the average lags the raw weights...
        averaged = [v.numpy() for v in trainer.averaged]
        for avg, kept in zip(averaged, saved, strict=True):
            np.testing.assert_array_equal(avg, kept)  # ...and is what the checkpoint holds


def test_the_average_survives_a_resume(tmp_path):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)

    def validate(_net):
        return {"ambient_false_positives_per_hour": 0.0, "average_viable_recall": 0.5}

    first = Trainer(MixedNet(ARCH), pool(), schedule(0.9, steps=20), FitOptions(tmp_path))
    first.run(validate, None)
    before = [v.numpy() for v in first.averaged]

    again = Trainer(MixedNet(ARCH), pool(), schedule(0.9, steps=20), FitOptions(tmp_path))
    assert again.restore() == 20
    for a, b in zip(before, [v.numpy() for v in again.averaged], strict=True):
        np.testing.assert_array_equal(a, b)
