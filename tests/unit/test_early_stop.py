"""training.early_stop_steps: training ends once that many steps bring no better checkpoint."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_weight_average import ARCH, pool, schedule  # tests/unit is on sys.path

from mww_trainer.config import load_config
from mww_trainer.errors import MwwError
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.progress import Stage, ignore_progress
from mww_trainer.training.fit import FitOptions, Trainer

FAH = "ambient_false_positives_per_hour"


def recall_peaks_at(step: int):
    """Validation whose recall rises until ``step`` and falls after it."""

    def validate(_net):
        validate.calls += 1
        now = validate.calls * 20
        return {FAH: 0.0, "average_viable_recall": 1.0 - abs(now - step) / 1000}

    validate.calls = 0
    return validate


def trainer(folder, patience: int, events=None) -> Trainer:
    options = FitOptions(
        folder, on_progress=events.append if events is not None else ignore_progress
    )
    plan = replace(schedule(0.0, steps=200), early_stop_steps=patience)
    return Trainer(MixedNet(ARCH), pool(), plan, options)


def test_training_stops_once_no_better_checkpoint_comes_and_stays_stopped(tmp_path):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(5)
    events = []
    result = trainer(tmp_path, 60, events).run(recall_peaks_at(40), None)
    assert (result.best_step, result.steps) == (40, 100)  # 60 steps past the best, of 200
    assert (tmp_path / "checkpoint_step_100.weights.h5").is_file()
    assert not (tmp_path / "checkpoint_step_120.weights.h5").exists()
    notice = [e for e in events if e.stage == Stage.STOPPED]
    assert len(notice) == 1 and (notice[0].done, notice[0].total) == (100, 100)
    assert "stopped early at step 100" in notice[0].message
    assert "since step 40" in notice[0].message
    # Run again on the same folder: it resumes stopped, training nothing more.
    validate = recall_peaks_at(40)
    again = trainer(tmp_path, 60).run(validate, None)
    assert (again.steps, again.best_step, validate.calls) == (100, 40, 0)


@pytest.mark.parametrize("patience", [0, 160, 200])  # 160: stale on the very last step
def test_without_a_stale_stretch_every_step_is_trained(tmp_path, patience):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(5)
    validate, events = recall_peaks_at(40), []
    result = trainer(tmp_path, patience, events).run(validate, None)
    assert (result.best_step, result.steps, validate.calls) == (40, 200, 10)
    assert not [e for e in events if "stopped early" in e.message]


def test_the_presets_and_a_wrong_value(tmp_path):
    assert load_config("standard").training.early_stop_steps == 4_000
    assert load_config("fast_test").training.early_stop_steps == 0
    override = tmp_path / "o.yaml"
    override.write_text("training:\n  early_stop_steps: -5\n")
    with pytest.raises(MwwError, match="early_stop_steps"):
        load_config("standard", override)


def test_a_replay_of_a_full_run_stops_where_the_trainer_stops(tmp_path):
    """bench/early_stop.py reads finished runs with the trainer's own rule: replaying a full
    run's history must give the step the trainer itself stops at, and the same best step."""
    import importlib.util
    from pathlib import Path

    import tensorflow as tf

    path = Path(__file__).parents[2] / "bench" / "early_stop.py"
    spec = importlib.util.spec_from_file_location("early_stop_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    tf.keras.utils.set_random_seed(5)
    full = trainer(tmp_path / "full", 0).run(recall_peaks_at(40), None)
    tf.keras.utils.set_random_seed(5)
    stopped = trainer(tmp_path / "stopped", 60).run(recall_peaks_at(40), None)
    plan = replace(schedule(0.0, steps=200), early_stop_steps=60)
    assert bench.replay(full.history, 60, plan) == (stopped.best_step, stopped.steps) == (40, 100)
