"""The one set of numbers that leads to a good model, and the time each preset takes here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addon import targets
from addon.estimates import DEFAULT_CLIPS_PER_S, Speed, duration_text, estimates, preset_shape
from addon.jobspec import SYNTH_DEFAULTS, SYNTH_FIELDS
from addon.store import Job
from mww_trainer.packs import PackCache

# Generate's defaults, as the Generate tab offers them.
GENERATED = {
    "positive": SYNTH_DEFAULTS["positives"],
    "hard_negative": SYNTH_DEFAULTS["hard_negatives"],
}
GENERATED_TALK_S = SYNTH_DEFAULTS["ambient_minutes"] * 60


def _amounts(clips=None, recorded=0, negative_s=0.0, pack_hours=0.0) -> targets.Amounts:
    return targets.Amounts(
        clips=clips or {}, recorded_positives=recorded, negative_s=negative_s, pack_hours=pack_hours
    )


def _row(rows, kind):
    return next(r for r in rows if r["kind"] == kind)


def test_other_speech_is_counted_in_hours_and_follows_the_held_out_check():
    negative = targets.BY_KIND["negative"]
    assert negative.unit == targets.HOURS
    # validation takes at most 30 % of it; the verdict needs 0.5 h there, 1 h to be ready
    assert (negative.minimum, negative.recommended) == (2.0, 3.5)
    rows = targets.progress(_amounts(negative_s=1800))
    assert _row(rows, "negative")["have"] == 0.5
    assert _row(rows, "negative")["status"] == targets.LOW
    assert _row(rows, "negative")["missing"] == (
        "Other speech: 0.5 h of the minimum 2.0 h (1.5 h more)"
    )


def test_generate_defaults_reach_recommended_and_a_pack_makes_other_speech_recommended():
    plenty = _amounts(clips=GENERATED, negative_s=GENERATED_TALK_S)
    rows = targets.progress(plenty)
    assert _row(rows, "positive")["status"] == targets.GOOD
    assert _row(rows, "hard_negative")["status"] == targets.GOOD
    assert _row(rows, "negative")["status"] == targets.OK  # 2 h of generated talk alone
    assert targets.below_minimum(rows) == []
    with_pack = targets.progress(_amounts(clips=GENERATED, negative_s=7200, pack_hours=5.4))
    assert _row(with_pack, "negative")["have"] == 7.4
    assert _row(with_pack, "negative")["pack_hours"] == 5.4
    assert _row(with_pack, "negative")["status"] == targets.GOOD
    # the Generate form's bounds allow every target to be reached
    assert SYNTH_FIELDS["positives"][1] >= targets.BY_KIND["positive"].recommended
    assert SYNTH_FIELDS["ambient_minutes"][1] / 60 >= targets.BY_KIND["negative"].recommended


def test_recorded_takes_have_their_own_target_per_person():
    recorded = targets.BY_KIND[targets.RECORDED]
    assert recorded.minimum == 0 and recorded.recommended == 2 * recorded.per_person == 60
    rows = targets.progress(_amounts(clips={"positive": 30}, recorded=30))
    assert _row(rows, targets.RECORDED)["status"] == targets.OK
    assert (
        _row(rows, "positive")["missing"]
        == "Wake-word clips: 30 clips of the minimum 100 clips (70 clips more)"
    )


def test_installed_speech_pack_hours_come_from_the_record(tmp_path: Path):
    cache = PackCache(tmp_path / "packs")

    def install(pack_id: str, role: str, **extra) -> None:
        folder = cache.folder(pack_id)
        folder.mkdir(parents=True)
        record = {
            "id": pack_id, "title": pack_id, "role": role, "licence": "CC-BY-4.0",
            "attribution": "x", "installed_at": 0, "download_bytes": 1, "audio_files": 1,
            "audio_bytes": 2 * 16000 * 3600,  # an hour of 16 kHz 16-bit WAV
        } | extra  # fmt: skip
        (folder / "installed.json").write_text(json.dumps(record))

    install("librispeech-dev-clean", "negative", hours=5.4)
    install("old-record", "negative")  # written before hours were kept: from its bytes
    install("piper-voices", "voices", hours=99.0)  # voices are never other speech
    assert cache.speech_hours() == pytest.approx(6.4)
    assert cache.installed("old-record").to_dict()["hours"] == 1.0


def _train_job(job_id: int, preset: str, result: dict, state: str = "succeeded") -> Job:
    return Job(
        id=job_id, project_id=1, project_slug="hey", kind="train", state=state,
        spec={"preset": preset, "overrides": {}, "seed": 0}, created_by=None, created_at=0,
        started_at=0, finished_at=1, error=None, result=result, pid=None, attempts=1,
        progress_offset=0,
    )  # fmt: skip


def test_estimates_come_from_the_speed_of_finished_jobs():
    assert preset_shape("fast_test") == (3000, 32)
    assert preset_shape("standard") == (30000, 128)
    guess = estimates([])
    assert guess["measured_jobs"] == 0 and guess["clips_per_s"] == DEFAULT_CLIPS_PER_S
    assert not guess["estimates"]["standard"]["measured"]
    assert "rough guess" in guess["estimates"]["standard"]["basis"]
    # fast_test ran 3000 steps of 32 clips in 300 s (320 clips/s), 60 s of the rest
    done = _train_job(2, "fast_test", {"steps": 3000, "train_seconds": 300.0, "seconds": 360.0})
    failed = _train_job(3, "fast_test", {"steps": 10, "train_seconds": 1.0}, state="failed")
    speed = Speed.from_jobs([failed, done])
    assert (speed.clips_per_s, speed.overhead_s, speed.jobs) == (320.0, 60.0, 1)
    measured = estimates([failed, done])["estimates"]
    assert measured["fast_test"]["seconds"] == 360
    assert measured["standard"]["seconds"] == round(30000 * 128 / 320 + 60)  # 12060 s
    assert measured["standard"]["text"] == "about 3 h 20 min"
    assert measured["standard"]["basis"] == "from 1 earlier training job here"
    # a resumed job counts only the steps it ran
    resumed = _train_job(4, "fast_test", {"steps": 3000, "resumed_from": 2000,
                                          "train_seconds": 100.0, "seconds": 100.0})  # fmt: skip
    assert Speed.from_jobs([resumed]).clips_per_s == 320.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "1 min"), (240, "4 min"), (3600, "1 h"), (6000, "1 h 40 min"), (3599 * 11, "11 h")],
)
def test_duration_text(seconds: float, text: str):
    assert duration_text(seconds) == text
