"""Stable, speaker-aware train/val/test assignment, remembered in a JSON file.

Once a speaker or a file (by content hash) has a split it keeps it on every later run;
only what is new gets assigned. New items go, largest first, to the split furthest below
its share; ties break on a hash of the name, so the same dataset always splits the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mww_trainer.data.ingest.model import LONG_ROLES, SPEAKER_ROLES, Role, Split
from mww_trainer.data.ingest.origin import ENGINE_FAMILIES, HUMAN
from mww_trainer.errors import ConfigError
from mww_trainer.fileio import atomic_write_text

_FORMAT_VERSION = 1
# Below this many speakers a speaker-level split cannot fill train, val and test.
MIN_SPEAKERS = 3
# From this many engine families on, validation holds out a whole family: a voice derived
# from a training voice (another espeak variant) is no test of new voices.
MIN_FAMILIES = 3
# Validation negatives wanted (seconds), and the most of all negatives they may take.
MIN_VAL_NEGATIVE_S = 3600.0
MAX_VAL_NEGATIVE_SHARE = 0.3
# The engine family validation holds out: the first found. espeak (hundreds of variants) and
# piper (the neural voices) teach the most and are given up last.
VAL_FAMILY_ORDER = ("pico", "festival", "mbrola", "flite", "espeak", "piper")
# Two people with this many takes: one is held out for validation instead of splitting files.
MIN_HUMAN_TAKES = 30
# People's takes of the wake word are few, and each person the model trains on is a voice it
# will hear: a household's takes keep nobody for test (the final report reads validation
# then). Only from this many people and takes do they fill every split by the ratios.
MIN_TEST_PEOPLE = 10
MIN_TEST_TAKES = 100

Ratios = tuple[float, float, float]


@dataclass(frozen=True)
class Unit:
    """One usable file as the splitter sees it."""

    sha256: str
    role: Role
    speaker: str
    duration_s: float
    origin: str = HUMAN

    @property
    def weight(self) -> float:
        # Long recordings are balanced by hours, everything else by count.
        return self.duration_s if self.role in LONG_ROLES else 1.0


@dataclass
class SplitState:
    """What earlier runs decided; mutated only while one ingest run assigns new items."""

    speakers: dict[str, Split] = field(default_factory=dict)
    files: dict[str, Split] = field(default_factory=dict)


def check_ratios(ratios: Iterable[float]) -> Ratios:
    values = tuple(float(r) for r in ratios)
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1) > 1e-6 or values[0] <= 0:
        raise ConfigError(
            f"split ratios {values}: give three shares for train, val and test that are "
            "not negative and add up to 1, e.g. (0.8, 0.1, 0.1)"
        )
    return values  # type: ignore[return-value]


def load_state(path: Path) -> SplitState:
    if not path.exists():
        return SplitState()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SplitState(
            speakers={k: Split(v) for k, v in data["speakers"].items()},
            files={k: Split(v) for k, v in data["files"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a split file this version understands ({exc}); "
            "delete it to split the dataset anew (earlier train/val/test choices are lost)"
        ) from exc


def save_state(path: Path, state: SplitState, ratios: Ratios) -> None:
    data = {
        "version": _FORMAT_VERSION,
        "ratios": dict(zip((s.value for s in Split), ratios, strict=True)),
        "speakers": {k: v.value for k, v in sorted(state.speakers.items())},
        "files": {k: v.value for k, v in sorted(state.files.items())},
    }
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def assign(
    units: list[Unit], state: SplitState, ratios: Ratios
) -> tuple[dict[str, Split], list[str]]:
    """Split of every unit (by sha256), plus notes on splits that could not avoid leakage.

    Files that earlier runs placed keep their place, even where a reorganised speaker folder
    now puts the same voice in two splits: speaker_leakage reports those.
    """
    result: dict[str, Split] = {}
    notes: list[str] = []
    for role in Role:
        role_units = [u for u in units if u.role == role]
        if not role_units:
            continue
        if role in SPEAKER_ROLES:
            notes += _assign_voices(role_units, state, ratios, result)
            continue
        shares = _negative_ratios(role_units, ratios) if role == Role.NEGATIVE else ratios
        # People's recordings and synthetic ones are split each on its own, so that real
        # talk reaches validation whenever there is any.
        for human in (False, True):
            subset = [u for u in role_units if (u.origin == HUMAN) == human]
            _assign_by_file(subset, state, shares, result)
    return result, notes


def _negative_ratios(units: list[Unit], ratios: Ratios) -> Ratios:
    """Ratios that give validation at least MIN_VAL_NEGATIVE_S of negatives where the
    dataset affords it (at most MAX_VAL_NEGATIVE_SHARE of them): a cutoff chosen on a few
    minutes of talk says little about false accepts per hour."""
    total = sum(u.duration_s for u in units)
    if total <= 0:
        return ratios
    val = max(ratios[1], min(MIN_VAL_NEGATIVE_S / total, MAX_VAL_NEGATIVE_SHARE))
    if val == ratios[1]:
        return ratios
    rest = ratios[0] + ratios[2]
    scale = (1.0 - val) / rest if rest else 0.0
    return (ratios[0] * scale, val, ratios[2] * scale)


def _assign_voices(
    units: list[Unit], state: SplitState, ratios: Ratios, result: dict[str, Split]
) -> list[str]:
    """Engine voices held out by family (by voice when too few families); people by speaker."""
    notes: list[str] = []
    engine = [u for u in units if u.origin in ENGINE_FAMILIES]
    families = sorted({u.origin for u in engine})
    others = [u for u in units if u.origin not in ENGINE_FAMILIES]
    if len(families) >= MIN_FAMILIES:
        grouped = [replace(u, speaker=f"engine:{u.origin}") for u in engine]
        _hold_out_a_family(grouped, state, result)
    elif engine:
        notes += _assign_by_speaker(engine, state, ratios, result)
        role = units[0].role.value
        noun = "family" if len(families) == 1 else "families"
        notes.append(
            f"{role}: only {len(families)} speech engine {noun}"
            f" ({', '.join(families)}): validation holds out voices of the same engines, which "
            f"flatters the model; generate with {MIN_FAMILIES} or more engines (mww-synth)"
        )
    unnamed = [u for u in others if u.origin != HUMAN]
    if unnamed:
        notes += _assign_by_speaker(unnamed, state, ratios, result)
    humans = [u for u in others if u.origin == HUMAN]
    if humans:
        notes += _assign_people(humans, state, ratios, result)
    return notes


def _assign_people(
    units: list[Unit], state: SplitState, ratios: Ratios, result: dict[str, Split]
) -> list[str]:
    """People's takes: by the ratios once there are many; a household's people all train but
    those validation holds out, and none is kept for test."""
    speakers = {u.speaker for u in units}
    if len(speakers) >= MIN_TEST_PEOPLE and len(units) >= MIN_TEST_TAKES:
        return _assign_by_speaker(units, state, ratios, result)
    if len(speakers) >= MIN_SPEAKERS or (len(speakers) == 2 and len(units) >= MIN_HUMAN_TAKES):
        _hold_out_people(units, state, ratios[1], result)
        return []
    return _assign_by_speaker(units, state, (ratios[0] + ratios[2], ratios[1], 0.0), result)


def _hold_out_a_family(units: list[Unit], state: SplitState, result: dict[str, Split]) -> None:
    """One engine family validates, every other one trains; none is kept for test.

    Each family the model trains on widens what it can hear, so only one is given up, and
    the one chosen is the first of VAL_FAMILY_ORDER: a family whose loss costs least.
    """
    groups = sorted({u.speaker for u in units})
    if not any(state.speakers.get(g) == Split.VAL for g in groups):
        new = [g for g in groups if g not in state.speakers]
        if new:  # groups are "engine:<family>", families all in VAL_FAMILY_ORDER
            first = min(new, key=lambda g: VAL_FAMILY_ORDER.index(g.removeprefix("engine:")))
            state.speakers[first] = Split.VAL
    for group in groups:
        state.speakers.setdefault(group, Split.TRAIN)
    _place_files(units, state, result)


def _hold_out_people(
    units: list[Unit], state: SplitState, share: float, result: dict[str, Split]
) -> None:
    """Validation holds out whole people, fewest takes first, until it has ``share`` of the
    takes; everyone else trains. Nobody who would take validation past twice its share is
    held out once it has someone, and at least one person always trains."""
    _follow_placed_files(units, state)
    takes = Counter(u.speaker for u in units)
    target = share * takes.total()
    held = sum(n for s, n in takes.items() if state.speakers.get(s) == Split.VAL)
    new = sorted(
        (s for s in takes if s not in state.speakers), key=lambda s: (takes[s], _stable_hash(s))
    )
    trains = sum(1 for s in takes if state.speakers.get(s) == Split.TRAIN)
    for index, speaker in enumerate(new):
        others_train = trains + len(new) - index - 1 > 0
        fits = target > 0 and (held == 0 or (held < target and held + takes[speaker] <= 2 * target))
        if fits and others_train:
            state.speakers[speaker] = Split.VAL
            held += takes[speaker]
        else:
            state.speakers[speaker] = Split.TRAIN
            trains += 1
    _place_files(units, state, result)


def _assign_by_file(
    units: list[Unit], state: SplitState, ratios: Ratios, result: dict[str, Split]
) -> None:
    known = [u for u in units if u.sha256 in state.files]
    new = [u for u in units if u.sha256 not in state.files]
    loads, counts = _loads((state.files[u.sha256], u.weight) for u in known)
    chosen = _allocate([(u.sha256, u.weight) for u in new], loads, counts, ratios)
    state.files.update(chosen)
    for unit in units:
        result[unit.sha256] = state.files[unit.sha256]


def _assign_by_speaker(
    units: list[Unit], state: SplitState, ratios: Ratios, result: dict[str, Split]
) -> list[str]:
    groups: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        groups[unit.speaker].append(unit)
    new = [s for s in groups if s not in state.speakers]
    if len(groups) < MIN_SPEAKERS and new:
        # Too few voices for a speaker-level split: split their files instead, and say so.
        _assign_by_file([u for s in new for u in groups[s]], state, ratios, result)
        _place_files([u for s in groups if s not in new for u in groups[s]], state, result)
        role = units[0].role.value
        return [
            f"only {len(groups)} {role} speaker(s): their files are split file by file, so the "
            "same voice is trained on and held out, and the evaluation flatters the model; "
            f"record {MIN_SPEAKERS} or more speakers, one sub-folder each"
        ]
    _follow_placed_files(units, state)
    fresh = [s for s in new if s not in state.speakers]
    loads, counts = _loads(
        (state.speakers[s], float(len(groups[s]))) for s in groups if s in state.speakers
    )
    items = [(s, float(len(groups[s]))) for s in fresh]
    state.speakers.update(_allocate(items, loads, counts, ratios))
    _place_files(units, state, result)
    return []


def _follow_placed_files(units: list[Unit], state: SplitState) -> None:
    """A new speaker whose files an earlier run already placed (folders reorganised, a
    speaker map added, or more takes where there had been too few to split by person)
    follows most of those files."""
    placed: dict[str, Counter[Split]] = defaultdict(Counter)
    for unit in units:
        if unit.speaker not in state.speakers and unit.sha256 in state.files:
            placed[unit.speaker][state.files[unit.sha256]] += 1
    for speaker, splits in placed.items():
        state.speakers[speaker] = max(Split, key=lambda s: (splits[s], -_index(s)))


def _place_files(units: list[Unit], state: SplitState, result: dict[str, Split]) -> None:
    for unit in units:
        split = state.files.setdefault(unit.sha256, state.speakers[unit.speaker])
        result[unit.sha256] = split


def _loads(placed: Iterable[tuple[Split, float]]) -> tuple[dict[Split, float], dict[Split, int]]:
    loads = dict.fromkeys(Split, 0.0)
    counts = dict.fromkeys(Split, 0)
    for split, weight in placed:
        loads[split] += weight
        counts[split] += 1
    return loads, counts


def _allocate(
    items: list[tuple[str, float]],
    loads: dict[Split, float],
    counts: dict[Split, int],
    ratios: Ratios,
) -> dict[str, Split]:
    """Assign new (key, weight) items so each split's weight approaches its ratio."""
    share = dict(zip(Split, ratios, strict=True))
    loads, counts = dict(loads), dict(counts)
    order = sorted(items, key=lambda kw: (-kw[1], _stable_hash(kw[0])))
    chosen: dict[str, Split] = {}

    def put(key: str, weight: float, split: Split) -> None:
        chosen[key] = split
        loads[split] += weight
        counts[split] += 1

    # Small datasets: with 3 or more items val and test each get at least one (the smallest).
    if sum(counts.values()) + len(order) >= MIN_SPEAKERS:
        for split in (Split.TEST, Split.VAL):
            if share[split] > 0 and counts[split] == 0 and order:
                put(*order.pop(), split)
    total = sum(loads.values()) + sum(weight for _, weight in order)
    for key, weight in order:
        split = max(Split, key=lambda s: (share[s] * total - loads[s], -_index(s)))
        put(key, weight, split)
    return chosen


def _index(split: Split) -> int:
    return list(Split).index(split)


def _stable_hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()
