"""mww-autotune on a deliberately under-trained tiny model: fewer false accepts, and a stop."""

from __future__ import annotations

import json

import pytest

from mww_trainer import jobfiles
from mww_trainer.config import deep_merge, load_config_dict, load_preset_dict
from mww_trainer.demo import TINY_MODEL
from tests.fakes.chirps import write_chirps

pytestmark = pytest.mark.integration


def _config(data, root, steps: int):
    override = {
        "paths": {
            **jobfiles.dataset_paths(data),
            "processed_dir": str(root / "processed"),
            **jobfiles.job_paths(root),
        },
        "training": {
            "training_steps": [steps],
            "learning_rates": [0.002],
            "batch_size": 16,
            "eval_step_interval": steps,
            "positive_class_weight": [1.0],
            "negative_class_weight": [1.0],
            "hard_negative_class_weight": [2.0],
            "time_mask_max_size": [0],
            "time_mask_count": [0],
            "freq_mask_max_size": [0],
            "freq_mask_count": [0],
        },
        "model": TINY_MODEL,
        "augmentation": {"background_paths": [], "impulse_paths": []},
        "performance": {"tensorboard_log_dir": str(root / "logs")},
        "export": {"wake_word": "Chirp", "author": "tests"},
    }
    return load_config_dict(deep_merge(load_preset_dict("fast_test"), override), source="test")


@pytest.fixture(scope="module")
def undertrained(tmp_path_factory):
    """A model that wakes on the sound-alike, tuned on rooms where it is a negative.

    The first model was taught the sound-alike among its wake words (half of the takes),
    so for most seeds it wakes on it at any cutoff that still hears the wake words: no cutoff
    alone meets the target, only training can. Training is not bit-for-bit repeatable on CPU
    threads, so the first seed whose model does is the one tuned (5 of 8 seeds did; a model
    merely trained without sound-alikes did for about 1 seed in 3, and CI once found none in 6).
    """
    from mww_trainer import pipeline
    from mww_trainer.evaluation import cutoff as cutoff_rule
    from mww_trainer.training.checkpoint import load_checkpoint
    from mww_trainer.tuning.measure import measure

    root = tmp_path_factory.mktemp("autotune")
    chirps = {"takes": 40, "people": 4, "pitches": 8, "rooms": 12, "room_s": 30}
    write_chirps(root / "plain", **chirps, sound_alike_takes=20)  # taught as a wake word
    write_chirps(root / "dataset", **chirps, sound_alikes=True)
    tuned = _config(root / "dataset", root / "tuned", steps=30)
    device = pipeline.prepare(tuned, seed=0, on_progress=lambda _: None).data.val_device
    for seed in range(12):
        first = _config(root / "plain", root / f"first{seed}", steps=120)
        best = pipeline.train(first, seed=seed).best_path
        shipped = cutoff_rule.for_checkpoint(None, best).value
        net = load_checkpoint(tuned.model, best)
        if measure(net, tuned, device, 0.0, start_cutoff=shipped).fa_per_hour > 0:
            return tuned, best, root
    pytest.fail("no seed gave a first model that wakes on the sound-alikes")


def test_tuning_lowers_false_accepts_in_a_few_iterations_and_can_continue(undertrained):
    from mww_trainer.tuning.autotune import TuneRequest, TuningTarget, autotune

    config, checkpoint, root = undertrained
    out = root / "tuning"
    target = TuningTarget(max_fah=0.0, min_recall=1.0, max_iterations=3, patience=3)
    request = TuneRequest(checkpoint, out, target, steps_per_iteration=60)
    result = autotune(config, request)
    before, after = result.before, result.after
    assert before.fa_per_hour > 0, "the first model should wake on sound-alikes"
    assert after.fa_per_hour < before.fa_per_hour
    if result.met:
        assert result.reason == "targets met" and result.iterations <= 3
    else:
        assert result.iterations == 3
    log = [json.loads(line) for line in (out / "tuning_log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log] == list(range(result.iterations + 1))
    assert any("hard negatives mined" in c for c in log[1]["changes"])
    point = json.loads((out / "operating_point.json").read_text())
    assert point["checkpoint"] == "best_weights.weights.h5"
    assert point["cutoff"] == result.after.cutoff
    # Run again with the same folder: it continues from its state, not from the start.
    stricter = TuningTarget(0.0, 1.0, result.iterations + 1, 3)
    more = autotune(config, TuneRequest(checkpoint, out, stricter, steps_per_iteration=60))
    assert more.before == result.before
    assert more.iterations == (result.iterations if result.met else result.iterations + 1)


def test_tuning_stops_as_soon_as_the_targets_hold(undertrained, tmp_path):
    from mww_trainer.cli.autotune import main

    config, checkpoint, root = undertrained
    override = root / "override.yaml"
    from ruamel.yaml import YAML

    from mww_trainer.config import config_to_dict

    YAML().dump(config_to_dict(config), override.open("w"))
    code = main(
        [
            "--checkpoint", str(checkpoint),
            "--config", str(override),
            "--target-fah", "100000",
            "--target-recall", "0",
            "--output-dir", str(tmp_path / "t"),
        ]
    )  # fmt: skip
    assert code == 0
    state = json.loads((tmp_path / "t" / "tuning_state.json").read_text())
    assert (state["iteration"], state["reason"]) == (0, "targets met")
