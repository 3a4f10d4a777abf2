"""Is the model good enough to put on a device? One verdict, in words a household understands.

`judge(evaluation, warnings)` takes the held-out evaluation the worker ran on the exported
file (evaluation_run.run_evaluation's report) and the training warnings, and returns a level,
the reasons for it, what to do about them, and the figures it rests on, each saying what it
was measured on. Pure: no files, no TensorFlow; the worker, the panel's pages and the
notifications all show the same verdict.

The levels and their thresholds (held-out figures at the cutoff the model ships with):

- Not ready: it woke on fewer than 80 % of the held-out wake words (or of at least 10 held-out
  takes people recorded; fewer than 10 make it Usable at most), or more than 2 false
  wakes per hour of other speech (also of people talking alone, once there are two), or it
  triggered on more than half of the sound-alikes, or the false-wake figure rests on less
  than half an hour of audio, or there were no held-out wake words or other speech to
  measure it on.
- Usable: none of that, but a figure is between the bars (recall under 90 %, more than 0.5
  false wakes per hour, sound-alikes above 20 %, under an hour of other speech, under 50
  wake words, no held-out sound-alikes), or training warned (no recordings of people, no
  real talk in the negatives).
- Ready: otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

READY, USABLE, NOT_READY = "ready", "usable", "not_ready"
LEVEL_NAMES = {READY: "Ready", USABLE: "Usable", NOT_READY: "Not ready"}

# Not ready past these.
MIN_RECALL = 0.8
MAX_FA_PER_HOUR = 2.0
MAX_HARD_NEGATIVE_RATE = 0.5
MIN_AMBIENT_HOURS = 0.5
MIN_REAL_SPEECH_FALSE_WAKES = 2  # one false wake in a few minutes of talk is no rate yet
MIN_PEOPLE_TAKES = 10  # held-out takes by people that make their recall a bar of its own
# Ready needs all of these.
READY_RECALL = 0.9
READY_FA_PER_HOUR = 0.5
READY_HARD_NEGATIVE_RATE = 0.2
READY_AMBIENT_HOURS = 1.0
READY_POSITIVES = 50


@dataclass(frozen=True)
class Figure:
    name: str  # what is measured, e.g. "Wakes on the wake word"
    value: str  # e.g. "94 %"
    text: str  # the figure as a sentence: "woke on 188 of 200 held-out wake words (94 %)"
    measured_on: str  # e.g. "wake words by festival, a speech engine it never heard"


@dataclass(frozen=True)
class Verdict:
    level: str  # READY, USABLE or NOT_READY
    reasons: tuple[str, ...]  # worst first
    actions: tuple[str, ...]  # what to do, in the order of the reasons
    figures: tuple[Figure, ...]

    @property
    def headline(self) -> str:
        """ "Ready", "Usable — <first reason>" or "Not ready — <first reason>"."""
        name = LEVEL_NAMES[self.level]
        return f"{name} — {self.reasons[0]}" if self.reasons else name

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "label": LEVEL_NAMES[self.level],
            "headline": self.headline,
            "reasons": list(self.reasons),
            "actions": list(self.actions),
            "figures": [asdict(f) for f in self.figures],
        }


@dataclass
class _Findings:
    blocking: list[tuple[str, str]]
    minor: list[tuple[str, str]]

    def add(self, blocking: bool, reason: str, action: str) -> None:
        (self.blocking if blocking else self.minor).append((reason, action))


def judge(evaluation: Mapping[str, Any] | None, warnings: Iterable[str] = ()) -> Verdict:
    """The verdict on a model from its held-out evaluation and its training warnings."""
    if not evaluation:
        return Verdict(
            NOT_READY,
            ("it was not measured on held-out audio",),
            ("train it again: the evaluation of the exported model did not run",),
            (),
        )
    found = _Findings([], [])
    _judge_recall(evaluation, found)
    _judge_false_wakes(evaluation, found)
    _judge_sound_alikes(evaluation, found)
    for warning in warnings:
        reason, _, action = str(warning).partition(": ")
        found.add(False, reason, action or reason)
    level = NOT_READY if found.blocking else USABLE if found.minor else READY
    chosen = found.blocking + found.minor
    return Verdict(
        level,
        tuple(r for r, _ in chosen),
        tuple(dict.fromkeys(a for _, a in chosen)),
        tuple(figures(evaluation)),
    )


def _judge_recall(ev: Mapping[str, Any], found: _Findings) -> None:
    positives = int(ev.get("positives") or 0)
    recall = _at(ev, "recall")
    if not positives:
        found.add(
            True,
            "no held-out wake words to measure it on",
            "add wake words: record 30 takes of your own voice or generate more",
        )
        return
    missed = f"it missed {_percent(1 - recall)} of the held-out wake words"
    more = "record 30 takes of your own voice (two or more people) and generate more wake words"
    if recall < MIN_RECALL:
        found.add(True, missed, more)
    elif recall < READY_RECALL:
        found.add(False, missed, more)
    if positives < READY_POSITIVES:
        found.add(
            False,
            f"its recall rests on only {positives} held-out wake words",
            f"generate more wake words (at least {READY_POSITIVES * 10} in all)",
        )
    takes, woke, people = _people(ev)
    if takes and woke / takes < MIN_RECALL:
        found.add(
            takes >= MIN_PEOPLE_TAKES,
            f"it woke on only {woke} of {takes} takes by {_people_never_heard(people)}",
            "record more takes of the wake word, by everyone who will use it, and train again",
        )


def _judge_false_wakes(ev: Mapping[str, Any], found: _Findings) -> None:
    hours = float(ev.get("ambient_hours") or 0.0)
    fa = _at(ev, "fa_per_hour")
    more_speech = f"generate more other speech: false wakes were measured on only {duration(hours)}"
    if not hours:
        found.add(True, "no other speech to measure false wakes on", "generate other speech")
    elif hours < MIN_AMBIENT_HOURS:
        found.add(True, f"false wakes were measured on only {duration(hours)}", more_speech)
    elif hours < READY_AMBIENT_HOURS:
        found.add(False, f"false wakes were measured on only {duration(hours)}", more_speech)
    quieter = (
        "add other speech (a speech pack, the room's recording, or more generated speech),"
        " or choose a less sensitive level"
    )
    rate = f"it woke {_per_hour(fa)} times per hour of other speech"
    if hours and fa > MAX_FA_PER_HOUR:
        found.add(True, rate, quieter)
    elif hours and fa > READY_FA_PER_HOUR:
        found.add(False, rate, quieter)
    talk_hours = float(ev.get("real_speech_hours") or 0.0)
    talk_count = int(ev.get("real_speech_false_accepts") or 0)
    talk_fa = float(ev.get("real_speech_fa_per_hour") or 0.0)
    talk = f"it woke {_per_hour(talk_fa)} times per hour of people talking"
    talk_action = "fetch a speech pack or record the room, then train again"
    if talk_hours and talk_fa > MAX_FA_PER_HOUR and talk_count >= MIN_REAL_SPEECH_FALSE_WAKES:
        found.add(True, talk, talk_action)
    elif talk_hours and talk_fa > READY_FA_PER_HOUR:
        found.add(False, talk, talk_action)


def _judge_sound_alikes(ev: Mapping[str, Any], found: _Findings) -> None:
    action = "generate more sound-alikes (words that sound like the wake word)"
    if not int(ev.get("hard_negatives") or 0):
        found.add(False, "no held-out sound-alikes to test it on", action)
        return
    rate = _at(ev, "hard_negative_rate")
    reason = f"it woke on {_percent(rate)} of the sound-alikes"
    if rate > MAX_HARD_NEGATIVE_RATE:
        found.add(True, reason, action)
    elif rate > READY_HARD_NEGATIVE_RATE:
        found.add(False, reason, action)


def figures(ev: Mapping[str, Any]) -> list[Figure]:
    """The held-out figures in user terms, each with what it was measured on."""
    out = []
    positives = int(ev.get("positives") or 0)
    if positives:
        recall = _at(ev, "recall")
        woke = f"woke on {round(recall * positives)} of {positives} held-out wake words"
        out.append(_share("Wakes on the wake word", recall, woke, _held_out_voices(ev)))
    takes, woke_on, people = _people(ev)
    if takes:
        out.append(
            _share(
                "Wakes for people",
                woke_on / takes,
                f"woke on {woke_on} of {takes} takes by {_people_never_heard(people)}",
                f"{takes} wake words recorded by people, held out of training",
            )
        )
    hours = float(ev.get("ambient_hours") or 0.0)
    if hours:
        fa = _at(ev, "fa_per_hour")
        out.append(
            _false_wakes(
                ("False wakes on other speech", "other speech"),
                (round(fa * hours), hours, fa),
                f"{duration(hours)} of held-out speech and sounds",
            )
        )
    talk_hours = float(ev.get("real_speech_hours") or 0.0)
    if talk_hours:
        count = int(ev.get("real_speech_false_accepts") or 0)
        rate = float(ev.get("real_speech_fa_per_hour") or 0.0)
        out.append(
            _false_wakes(
                ("False wakes on people talking", "people talking"),
                (count, talk_hours, rate),
                f"{duration(talk_hours)} of recordings of real people",
            )
        )
    hard = int(ev.get("hard_negatives") or 0)
    if hard:
        rate = _at(ev, "hard_negative_rate")
        woke = f"triggered on {round(rate * hard)} of {hard} sound-alikes"
        measured_on = f"{hard} held-out words that sound like the wake word"
        out.append(_share("Wakes on sound-alikes", rate, woke, measured_on))
    return out


def _share(name: str, share: float, text: str, measured_on: str) -> Figure:
    return Figure(name, _percent(share), f"{text} ({_percent(share)})", measured_on)


def _false_wakes(
    names: tuple[str, str], measured: tuple[int, float, float], measured_on: str
) -> Figure:
    """names: the figure's and what it was heard in; measured: count, hours, per hour."""
    (name, heard_in), (count, hours, rate) = names, measured
    text = f"{_wakes(count)} in {duration(hours)} of {heard_in} ({_per_hour(rate)} per hour)"
    return Figure(name, f"{_per_hour(rate)} per hour", text, measured_on)


def _held_out_voices(ev: Mapping[str, Any]) -> str:
    voices = ev.get("held_out_voices") or {}
    engines, people = list(voices.get("engines") or ()), int(voices.get("people") or 0)
    parts = []
    if engines:
        kind = "a speech engine" if len(engines) == 1 else "speech engines"
        parts.append(f"{' and '.join(engines)}, {kind} it never heard")
    if people:
        parts.append(_people_never_heard(people))
    held = " and by ".join(parts) if parts else "voices it never trained on"
    return f"{positives_of(ev)} wake words spoken by {held}"


def _people(ev: Mapping[str, Any]) -> tuple[int, int, int]:
    """Held-out takes people recorded, how many woke the model, and by how many people."""
    found = ev.get("people_wake_words") or {}
    return int(found.get("takes") or 0), int(found.get("woke") or 0), int(found.get("people") or 0)


def _people_never_heard(people: int) -> str:
    return f"{people} {'person' if people == 1 else 'people'} it never heard"


def positives_of(ev: Mapping[str, Any]) -> int:
    return int(ev.get("positives") or 0)


def _at(ev: Mapping[str, Any], key: str) -> float:
    return float((ev.get("at_cutoff") or {}).get(key) or 0.0)


def duration(hours: float) -> str:
    """54 s, 12 min, 3.1 h."""
    seconds = hours * 3600
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{hours:.1f} h"


def _percent(share: float) -> str:
    return f"{round(100 * share)} %"


def _per_hour(rate: float) -> str:
    return f"{rate:.1f}" if rate < 10 else f"{rate:.0f}"


def _wakes(count: int) -> str:
    return f"{count} false wake{'' if count == 1 else 's'}"
