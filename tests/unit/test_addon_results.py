"""A model trained before verdicts existed gets one from its kept evaluation."""

from __future__ import annotations

from types import SimpleNamespace

from addon.results import with_verdict

EVALUATION = {
    "positives": 100,
    "hard_negatives": 0,
    "ambient_hours": 0.2,
    "at_cutoff": {"recall": 0.95, "fa_per_hour": 0.0, "hard_negative_rate": 0.0},
}


def test_an_older_result_is_judged_from_its_evaluation():
    old = SimpleNamespace(kind="train", result={"evaluation": EVALUATION, "warnings": []})
    verdict = with_verdict(old)["verdict"]
    assert verdict["headline"] == "Not ready — false wakes were measured on only 12 min"
    assert "verdict" not in old.result  # the stored result is left as it is


def test_a_result_with_a_verdict_or_without_an_evaluation_is_left_alone():
    kept = {"verdict": {"level": "ready"}, "evaluation": EVALUATION}
    assert with_verdict(SimpleNamespace(kind="train", result=kept)) is kept
    for job in (
        SimpleNamespace(kind="synth", result={"evaluation": EVALUATION}),
        SimpleNamespace(kind="train", result={"metrics": {}}),
        SimpleNamespace(kind="train", result=None),
    ):
        assert with_verdict(job) is job.result
