"""A damaged last resume point falls back to the one before instead of failing the job."""

from __future__ import annotations

import pytest

from mww_trainer.errors import MwwError
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.training.fit import FitOptions, Trainer
from tests.unit.test_weight_average import ARCH, pool, schedule


def _validate(_net):
    return {"ambient_false_positives_per_hour": 0.0, "average_viable_recall": 0.5}


def _damage(folder, pattern: str) -> None:
    for path in folder.glob(pattern):
        data = bytearray(path.read_bytes())
        for i in range(0, len(data), 7):
            data[i] ^= 0x5A
        path.write_bytes(bytes(data))


def test_a_damaged_last_resume_point_falls_back_to_the_one_before(tmp_path):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    Trainer(MixedNet(ARCH), pool(), schedule(0.0, steps=40), FitOptions(tmp_path)).run(
        _validate, None
    )
    resume = tmp_path / "resume"
    assert sorted(p.name for p in resume.glob("train_state_*.json")) == [
        "train_state_20.json",
        "train_state_40.json",
    ]
    _damage(resume, "ckpt-40.data-*")
    events = []
    options = FitOptions(tmp_path, on_progress=events.append)
    again = Trainer(MixedNet(ARCH), pool(), schedule(0.0, steps=40), options)
    assert again.restore() == 20
    assert any("ckpt-40" in e.message and "damaged" in e.message for e in events)

    _damage(resume, "ckpt-20.data-*")
    with pytest.raises(MwwError, match=r"every resume point .* is damaged"):
        Trainer(MixedNet(ARCH), pool(), schedule(0.0, steps=40), FitOptions(tmp_path)).restore()
