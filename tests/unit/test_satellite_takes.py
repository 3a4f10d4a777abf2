"""Judging a captured take: a phrase cut off by the end of the capture is flagged."""

from __future__ import annotations

from mww_trainer.satellite.takes import PROBLEM_TEXT, check_take
from tests.fakes.wyoming_satellite import utterance


def test_a_whole_take_has_no_problems():
    check = check_take(utterance().tobytes(), "positive")
    assert check.problems == ()
    assert 1.2 < check.duration_s < 1.5  # the burst and the 0.3 s of quiet before it


def test_a_take_that_ends_while_the_phrase_is_said_is_cut_off():
    audio = utterance()[: 16000 * 8 // 10]  # 0.3 s of quiet, then half the burst
    check = check_take(audio.tobytes(), "positive")
    assert check.problems == ("cut_off",)
    assert check.summary == PROBLEM_TEXT["cut_off"]
    assert check.summary.startswith("cut off: the capture ended while the phrase was still")


def test_other_speech_may_run_to_the_end_of_the_capture():
    audio = utterance()[: 16000 * 8 // 10]
    assert "cut_off" not in check_take(audio.tobytes(), "negative").problems
