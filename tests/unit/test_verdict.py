"""The verdict on a model: each level, its reasons, what to do, and the figures in words."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mww_trainer.evaluation.verdict import NOT_READY, READY, USABLE, duration, judge
from mww_trainer.evaluation_run import Outputs, people_wake_words


def evaluation(**changes) -> dict:
    """A held-out evaluation as run_evaluation reports it; good enough to be Ready."""
    at = {"recall": 0.94, "fa_per_hour": 0.2, "hard_negative_rate": 0.12}
    at |= changes.pop("at_cutoff", {})
    return {
        "split": "val",
        "positives": 200,
        "hard_negatives": 100,
        "ambient_hours": 3.1,
        "cutoff": 0.9,
        "sliding_window_size": 5,
        "at_cutoff": at,
        "real_speech_hours": 1.2,
        "real_speech_false_accepts": 0,
        "real_speech_fa_per_hour": 0.0,
        "held_out_voices": {"engines": ["festival"], "people": 0},
    } | changes


def test_a_good_model_is_ready_and_says_what_it_was_measured_on():
    verdict = judge(evaluation(at_cutoff={"recall": 0.94, "fa_per_hour": 0.645}))
    assert verdict.level == USABLE  # 0.645 false wakes per hour is above the Ready bar
    verdict = judge(evaluation())
    assert (verdict.level, verdict.headline, verdict.reasons) == (READY, "Ready", ())
    texts = [f.text for f in verdict.figures]
    assert texts == [
        "woke on 188 of 200 held-out wake words (94 %)",
        "1 false wake in 3.1 h of other speech (0.2 per hour)",
        "0 false wakes in 1.2 h of people talking (0.0 per hour)",
        "triggered on 12 of 100 sound-alikes (12 %)",
    ]
    assert verdict.figures[0].measured_on == (
        "200 wake words spoken by festival, a speech engine it never heard"
    )
    assert verdict.to_dict()["label"] == "Ready"


def test_the_fast_test_model_of_the_issue_is_not_ready():
    """Triggered on every sound-alike; '0 false accepts per hour' on 54 seconds of audio."""
    verdict = judge(
        evaluation(
            positives=10,
            hard_negatives=8,
            ambient_hours=54 / 3600,
            real_speech_hours=0.0,
            at_cutoff={"recall": 1.0, "fa_per_hour": 0.0, "hard_negative_rate": 1.0},
        ),
        ["trained on synthetic wake words only: record the wake word yourself (30 takes)"],
    )
    assert verdict.level == NOT_READY
    assert verdict.headline == "Not ready — false wakes were measured on only 54 s"
    assert verdict.reasons == (
        "false wakes were measured on only 54 s",
        "it woke on 100 % of the sound-alikes",
        "its recall rests on only 10 held-out wake words",
        "trained on synthetic wake words only",
    )
    assert verdict.actions == (
        "generate more other speech: false wakes were measured on only 54 s",
        "generate more sound-alikes (words that sound like the wake word)",
        "generate more wake words (at least 500 in all)",
        "record the wake word yourself (30 takes)",
    )
    assert "0 false wakes in 54 s of other speech (0.0 per hour)" in [
        f.text for f in verdict.figures
    ]


CASES = [
    (NOT_READY, "it missed 25 % of the held-out wake words", {"at_cutoff": {"recall": 0.75}}),
    (NOT_READY, "it woke 2.6 times per hour of other speech", {"at_cutoff": {"fa_per_hour": 2.6}}),
    (NOT_READY, "it woke on 60 % of the sound-alikes", {"at_cutoff": {"hard_negative_rate": 0.6}}),
    (NOT_READY, "false wakes were measured on only 24 min", {"ambient_hours": 0.4}),
    (NOT_READY, "no held-out wake words to measure it on", {"positives": 0}),
    (NOT_READY, "no other speech to measure false wakes on", {"ambient_hours": 0.0}),
    (
        NOT_READY,
        "it woke 5.0 times per hour of people talking",
        {"real_speech_false_accepts": 6, "real_speech_fa_per_hour": 5.0},
    ),
    (
        NOT_READY,
        "it woke on only 6 of 12 takes by 1 person it never heard",
        {"people_wake_words": {"takes": 12, "woke": 6, "people": 1}},
    ),
    # Too few takes to block on, but worth saying.
    (
        USABLE,
        "it woke on only 3 of 8 takes by 2 people it never heard",
        {"people_wake_words": {"takes": 8, "woke": 3, "people": 2}},
    ),
    (USABLE, "it missed 15 % of the held-out wake words", {"at_cutoff": {"recall": 0.85}}),
    (USABLE, "it woke 1.0 times per hour of other speech", {"at_cutoff": {"fa_per_hour": 1.0}}),
    (USABLE, "it woke on 30 % of the sound-alikes", {"at_cutoff": {"hard_negative_rate": 0.3}}),
    (USABLE, "false wakes were measured on only 48 min", {"ambient_hours": 0.8}),
    (USABLE, "its recall rests on only 30 held-out wake words", {"positives": 30}),
    (USABLE, "no held-out sound-alikes to test it on", {"hard_negatives": 0}),
    # One false wake in 12 minutes of talk is 5 per hour, but one is no rate yet.
    (
        USABLE,
        "it woke 5.0 times per hour of people talking",
        {"real_speech_hours": 0.2, "real_speech_false_accepts": 1, "real_speech_fa_per_hour": 5.0},
    ),
]


@pytest.mark.parametrize(("level", "reason", "change"), CASES)
def test_each_bar(level: str, reason: str, change: dict):
    verdict = judge(evaluation(**change))
    name = "Not ready" if level == NOT_READY else "Usable"
    assert (verdict.level, verdict.headline) == (level, f"{name} — {reason}")


def test_training_warnings_make_it_usable():
    warned = judge(
        evaluation(),
        ["no real people talking in its negatives: expect false wakes; fetch a speech pack"],
    )
    assert warned.headline == "Usable — no real people talking in its negatives"
    assert warned.actions == ("expect false wakes; fetch a speech pack",)


def test_without_an_evaluation_it_is_not_ready():
    verdict = judge(None)
    assert verdict.level == NOT_READY and verdict.figures == ()
    assert verdict.headline == "Not ready — it was not measured on held-out audio"


def test_durations_in_words():
    assert [duration(h) for h in (54 / 3600, 0.2, 3.1)] == ["54 s", "12 min", "3.1 h"]


def test_people_takes_are_a_figure_of_their_own():
    ev = evaluation(
        held_out_voices={"engines": ["festival"], "people": 2},
        people_wake_words={"takes": 20, "woke": 19, "people": 2},
    )
    verdict = judge(ev)
    assert verdict.level == READY
    people = [f for f in verdict.figures if f.name == "Wakes for people"]
    assert [(f.value, f.text, f.measured_on) for f in people] == [
        (
            "95 %",
            "woke on 19 of 20 takes by 2 people it never heard (95 %)",
            "20 wake words recorded by people, held out of training",
        )
    ]
    assert not [f for f in judge(evaluation()).figures if f.name == "Wakes for people"]


def test_people_takes_are_counted_as_the_device_hears_them():
    quiet = np.zeros(150, np.uint8)
    loud = quiet.copy()
    loud[110:130] = 250  # past the device's first 3 s, longer than the sliding window
    clips = [
        SimpleNamespace(human=True, speaker="dan"),
        SimpleNamespace(human=True, speaker="dan"),
        SimpleNamespace(human=True, speaker="eve"),
        SimpleNamespace(human=False, speaker="festival-kal"),
    ]
    outputs = Outputs(positives=[loud, quiet, loud, loud], ambient=[], hard_negatives=[])
    assert people_wake_words(outputs, clips, 0.9, 5) == {"takes": 3, "woke": 2, "people": 2}
    assert people_wake_words(outputs, clips, 0.99, 5)["woke"] == 0  # 250/255 is under 0.99
