"""Sweeps, recommendations and the training windows, on outputs made up by hand."""

import numpy as np
import pytest

from mww_trainer.data.windows import HARD_NEGATIVE, NEGATIVE, POSITIVE, PoolBuilder, last_frames
from mww_trainer.evaluation.metrics import auc_roc, binary_metrics
from mww_trainer.evaluation.sweep import average_viable_recall, recommend, summary_metrics, sweep

SLICES_PER_HOUR = 120_000  # 30 ms slices


def wake(peak: int) -> np.ndarray:
    """A clip scored from a device that just loaded the model: the word comes after 3 s."""
    out = np.zeros(200, np.uint8)
    out[130:136] = peak
    return out


def test_nothing_fires_in_the_first_three_seconds_of_a_recording():
    early = np.zeros(200, np.uint8)
    early[20:26] = 255
    assert sweep([early], [np.zeros(1000, np.uint8)], window=3).at(0.5).recall == 0.0


def test_sweep_counts_recall_and_false_accepts_per_hour():
    positives = [wake(250), wake(250), wake(180), wake(100)]
    ambient = np.zeros(SLICES_PER_HOUR, np.uint8)
    ambient[1000:1006] = 200  # one loud false alarm in an hour
    result = sweep(positives, [ambient], window=3)
    assert result.at(0.5).recall == 0.75  # peaks 250, 250, 180 > 127
    assert result.at(0.5).fa_per_hour == pytest.approx(1.0)
    assert result.at(0.9).recall == 0.5  # only the 250s exceed 229
    assert result.at(0.9).fa_per_hour == 0.0


def test_recommendation_takes_the_middle_of_the_equally_good_cutoffs():
    positives = [wake(250), wake(240)]
    ambient = np.zeros(SLICES_PER_HOUR, np.uint8)
    ambient[500:506] = 150
    result = sweep(positives, [ambient], window=3)
    point = recommend(result, target_fa_per_hour=0.5)
    # Recall 1 with no false accept for cutoffs 150..239: the middle is 194.
    assert point.recall == 1.0 and point.fa_per_hour == 0.0
    assert point.cutoff_u8 == (150 + 239) // 2
    assert int(point.cutoff * 255) == point.cutoff_u8


def sound_alikes(*peaks: int) -> list[np.ndarray]:
    return [wake(p) for p in peaks]


def test_the_cutoff_rises_until_few_enough_sound_alikes_wake_the_model():
    # Talk stays quiet, so without the guard every cutoff up to 239 keeps recall 1; but
    # 3 of 10 sound-alikes reach 170 and 1 reaches 200.
    positives = [wake(250), wake(240)]
    ambient = [np.zeros(SLICES_PER_HOUR, np.uint8)]
    hard = sound_alikes(170, 170, 170, 200, *[0] * 6)
    result = sweep(positives, ambient, window=3, hard_negatives=hard)
    unguarded = recommend(result, target_fa_per_hour=0.5)
    assert unguarded.cutoff_u8 == (1 + 239) // 2 and unguarded.hard_negative_rate == 0.4
    guarded = recommend(result, target_fa_per_hour=0.5, max_hard_negative_rate=0.15)
    # From 170 up only the 200 wakes (1 of 10); recall stays 1 up to 239: the middle.
    assert guarded.cutoff_u8 == (170 + 239) // 2
    assert (guarded.recall, guarded.fa_per_hour) == (1.0, 0.0)
    strict = recommend(result, target_fa_per_hour=0.5, max_hard_negative_rate=0.0)
    assert strict.cutoff_u8 == (200 + 239) // 2 and strict.hard_negative_rate == 0.0


def test_a_guard_no_waking_cutoff_meets_is_dropped_before_the_fa_target_is():
    # The sound-alikes score as high as the wake words: only a cutoff that never wakes
    # would keep them quiet, so the FA/h target alone decides, as without the guard.
    positives = [wake(250), wake(240)]
    ambient = np.zeros(SLICES_PER_HOUR, np.uint8)
    ambient[500:506] = 150
    result = sweep(positives, [ambient], window=3, hard_negatives=sound_alikes(252, 252))
    guarded = recommend(result, target_fa_per_hour=0.5, max_hard_negative_rate=0.15)
    assert guarded == recommend(result, target_fa_per_hour=0.5)
    assert guarded.cutoff_u8 == (150 + 239) // 2 and guarded.fa_per_hour == 0.0


def test_the_guard_comes_from_the_configuration(tmp_path):
    from mww_trainer.config import load_config
    from mww_trainer.errors import MwwError

    assert load_config("standard").training.max_hard_negative_rate == 0.15
    assert load_config("fast_test").training.max_hard_negative_rate == 1.0  # off: quick models
    override = tmp_path / "o.yaml"
    override.write_text("training:\n  max_hard_negative_rate: 1.5\n")
    with pytest.raises(MwwError, match="max_hard_negative_rate"):
        load_config("standard", override)


def test_average_viable_recall_is_one_for_a_perfect_model():
    result = sweep([wake(255)], [np.zeros(SLICES_PER_HOUR, np.uint8)], window=3)
    assert average_viable_recall(result) == pytest.approx(1.0)
    assert summary_metrics(result, 0.97)["recall_at_cutoff"] == 1.0


def test_auc_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    s = np.round(rng.random(200), 1)  # ties on purpose
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc_roc(y, s) == pytest.approx(pairs / (len(pos) * len(neg)))


def test_binary_metrics_by_hand():
    m = binary_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.7, 0.1]))
    assert (m["precision"], m["recall"], m["accuracy"], m["false_positives"]) == (0.5, 0.5, 0.5, 1)


def test_pool_gathers_last_frames_and_sequence_windows():
    builder = PoolBuilder(length=4)
    clip = np.arange(6 * 40, dtype=np.uint16).reshape(6, 40)
    builder.add_clips([clip, clip[:2]], POSITIVE)
    long = np.full((10, 40), 7, np.uint16)
    assert builder.add_sequence(long, NEGATIVE, hop=3) == 3  # starts 0, 3, 6
    pool = builder.build()
    assert pool.counts() == {"positive": 2, "negative": 3, "hard_negative": 0}
    windows = pool.gather(np.arange(len(pool)))
    assert np.array_equal(windows[0], clip[2:])
    assert np.array_equal(windows[1], last_frames(clip[:2], 4))  # zero-padded at the front
    assert windows[1][:2].sum() == 0
    assert (windows[2:] == 7).all()
    relabelled = pool.with_kind(np.array([3]), HARD_NEGATIVE)
    assert relabelled.counts()["hard_negative"] == 1 and pool.counts()["hard_negative"] == 0


def test_batches_hold_positives_and_weights_and_report_failures():
    from types import SimpleNamespace

    import pytest

    from mww_trainer.data.batches import MIN_POSITIVE_SHARE, BatchSampler, batches

    builder = PoolBuilder(length=4)
    builder.add_clips([np.full((4, 40), 1, np.uint16)] * 3, POSITIVE)
    builder.add_sequence(np.zeros((400, 40), np.uint16), NEGATIVE, hop=1)
    pool = builder.build()
    sampler = BatchSampler(pool, batch_size=12, seed=0)
    phase = SimpleNamespace(weights=(1.0, 20.0, 40.0), masks=(0, 0, 0, 0))
    for x, y, w in batches(pool, sampler, phase, 5, seed=0):
        assert x.dtype == np.uint16 and x.shape == (12, 4, 40)
        assert y.sum() == round(12 * MIN_POSITIVE_SHARE)
        assert set(w[y == 1]) == {1.0} and set(w[y == 0]) == {20.0}
    broken = SimpleNamespace(weights=(1.0,), masks=(0, 0, 0, 0))  # no weight for negatives
    with pytest.raises(IndexError):
        list(batches(pool, sampler, broken, 2, seed=0))


def test_when_no_cutoff_meets_the_target_the_quietest_one_that_still_wakes_is_chosen():
    # The wake words reach 200 and 180; talk reaches 255 (a sure false accept at any
    # cutoff) and 190 twice: no cutoff has under 0.5 FA/h and any recall.
    positives = [wake(200), wake(180)]
    ambient = np.zeros(SLICES_PER_HOUR, np.uint8)
    ambient[500:506] = 255
    ambient[9000:9006] = 190
    ambient[20000:20006] = 190
    point = recommend(sweep(positives, [ambient], window=3), target_fa_per_hour=0.5)
    assert point.recall > 0, "a cutoff that can never fire is never recommended"
    # 1 FA/h and a wake on 200 for cutoffs 190..199: the middle.
    assert point.fa_per_hour == 1.0 and point.cutoff_u8 == (190 + 199) // 2
    assert point.recall == 0.5


def test_a_model_that_wakes_on_nothing_still_gets_a_cutoff_a_manifest_can_hold():
    # A tiny model that never reached the cutoffs: recall 0 everywhere. Its cutoff used to
    # be (255 + 0.5) / 255 = 1.002, which the manifest refuses and failed the training job.
    from mww_trainer.device.manifest import manifest_problems
    from mww_trainer.device.sensitivity import measure_levels

    result = sweep([np.zeros(200, np.uint8)], [np.zeros(SLICES_PER_HOUR, np.uint8)], window=3)
    point = recommend(result, target_fa_per_hour=0.5)
    assert point.recall == 0.0 and 0.99 < point.cutoff < 1.0
    micro = {
        "probability_cutoff": point.cutoff,
        "sliding_window_size": 5,
        "feature_step_size": 10,
        "tensor_arena_size": 30000,
        "minimum_esphome_version": "2024.7.0",
    }
    manifest = {"type": "micro", "wake_word": "W", "author": "t", "model": "w.tflite"}
    manifest |= {"trained_languages": ["en"], "version": 2, "micro": micro}
    assert manifest_problems(manifest) == []
    levels = measure_levels(result, point.cutoff, {})
    assert all(0 < level.cutoff < 1 for level in levels.levels)


def test_a_det_json_reads_back_as_the_sweep_it_was_written_from(tmp_path):
    from mww_trainer.evaluation.det_curve import read_det_json, write_det_json

    ambient = np.zeros(SLICES_PER_HOUR, np.uint8)
    ambient[500:506] = 150
    result = sweep([wake(250), wake(180)], [ambient], window=3, hard_negatives=[wake(170)])
    again = read_det_json(write_det_json(result, tmp_path / "det.json"))
    assert again.window == 3 and len(again.points) == 256
    for a, b in zip(again.points, result.points, strict=True):
        assert a.cutoff_u8 == b.cutoff_u8 and a.recall == pytest.approx(b.recall)
        assert (a.fa_per_hour, a.hard_negative_rate) == (b.fa_per_hour, b.hard_negative_rate)
