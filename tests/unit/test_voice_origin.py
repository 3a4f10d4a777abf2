"""Who made each clip, and validation on voices the model never heard: whole engine families
held out, people held out by speaker, speech packs as real talk, recordings drawn more often."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.config import load_preset
from mww_trainer.data.audio import read_audio
from mww_trainer.data.augment import Augmenter, AugmentRanges
from mww_trainer.data.batches import BatchSampler
from mww_trainer.data.ingest import Dataset, Role, Split, ingest
from mww_trainer.data.ingest.origin import HUMAN, UNKNOWN_ENGINE, origin_of, read_manifest
from mww_trainer.data.ingest.split import SplitState, Unit, assign
from mww_trainer.data.training_set import background_talk, joined_talk
from mww_trainer.data.windows import NEGATIVE, POSITIVE, PoolBuilder
from mww_trainer.errors import ConfigError
from tests.fakes.dataset_paths import paths_for

RATE = 16000
FAMILIES = ("espeak", "festival", "flite", "pico", "piper")


def write_noise(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).normal(0, 3000, int(seconds * RATE))
    sf.write(path, noise.astype(np.int16), RATE, subtype="PCM_16")


def run(root: Path, packs: tuple[str, ...] = ()) -> Dataset:
    paths = replace(paths_for(root), negative_pack_dirs=packs)
    return ingest(paths, split_file=root.parent / "processed" / "split.json")


def synth_dataset(root: Path, families: tuple[str, ...], voices: int = 3, takes: int = 4) -> None:
    """Folders as mww-synth names them: positive/<family>-<voice>/pos_*.wav."""
    seed = 0
    for family in families:
        for voice in range(voices):
            for _take in range(takes):
                seed += 1
                write_noise(root / "positive" / f"{family}-v{voice}" / f"pos_{seed}.wav", 0.6, seed)
    write_noise(root / "negative" / "speech" / "ambient_0000.wav", 4.0, 999)
    # Only the manifest tells that this talk is synthetic: its folder names no engine.
    entry = {"path": "negative/speech/ambient_0000.wav", "segments": [{"engine": "espeak"}]}
    (root / "synth_manifest.json").write_text(json.dumps({"files": [entry]}))


def test_origin_from_folders_addon_names_and_manifest(tmp_path: Path) -> None:
    assert origin_of("positive/festival-kal_diphone/pos_1.wav").family == "festival"
    assert origin_of("positive/piper-joe/pos_1.wav").family == "piper"
    assert origin_of("positive/synth_flite-slt/synthetic_ab12.wav").family == "flite"
    # The add-on's espeak clips from before engine families: "synth en-us+m3".
    assert origin_of("positive/synth_en-us+m3/synthetic_ab12.wav").family == "espeak"
    assert origin_of("negative/synthetic/synthetic_ab12.wav").family == UNKNOWN_ENGINE
    assert origin_of("positive/alice/browser_ab12.wav").human
    assert origin_of("positive/festival_fan/take1.wav").human  # not "<family>-..."
    manifest = {
        "files": [
            {"path": "hard_negative/hneg_00000.wav", "engine": "pico"},
            {"path": "negative/speech/ambient_0000.wav", "segments": [{"engine": "espeak"}]},
            {"path": "background/noise_0000_white.wav", "kind": "white"},
        ]
    }
    (tmp_path / "synth_manifest.json").write_text(json.dumps(manifest))
    families = read_manifest(tmp_path)
    assert families["hard_negative/hneg_00000.wav"] == "pico"
    assert families["negative/speech/ambient_0000.wav"] == "espeak"
    assert families["background/noise_0000_white.wav"] == UNKNOWN_ENGINE
    assert read_manifest(tmp_path / "missing") == {}


def family_splits(dataset: Dataset) -> dict[str, Split]:
    splits: dict[str, set[Split]] = defaultdict(set)
    for clip in dataset.select(Role.POSITIVE) + dataset.select(Role.HARD_NEGATIVE):
        assert clip.origin == clip.speaker.split("-")[0]
        splits[clip.origin].add(clip.split)
    assert all(len(found) == 1 for found in splits.values()), splits  # never a family in two
    return {family: found.pop() for family, found in splits.items()}


def test_validation_holds_out_one_whole_engine_family(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    synth_dataset(root, FAMILIES)
    for family in FAMILIES:  # sound-alikes follow their family
        write_noise(root / "hard_negative" / f"{family}-v0" / "hneg_1.wav", 0.6, len(family))
    dataset = run(root)
    # pico costs least to give up; espeak and piper teach the most and always train.
    assert family_splits(dataset) == {
        "espeak": Split.TRAIN,
        "festival": Split.TRAIN,
        "flite": Split.TRAIN,
        "pico": Split.VAL,
        "piper": Split.TRAIN,
    }
    assert not [n for n in dataset.notes if "engine famil" in n]
    # Without pico (held out by a benchmark), festival validates; a later run keeps it there.
    other = tmp_path / "other" / "dataset"
    synth_dataset(other, ("espeak", "festival", "piper"))
    assert family_splits(run(other))["festival"] == Split.VAL
    for take in range(4):
        write_noise(other / "positive" / "pico-en-US" / f"pos_{take}.wav", 0.6, 5000 + take)
    assert family_splits(run(other)) == {
        "espeak": Split.TRAIN,
        "festival": Split.VAL,
        "piper": Split.TRAIN,
        "pico": Split.TRAIN,
    }


def test_too_few_families_hold_out_voices_and_say_so(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    synth_dataset(root, ("espeak", "piper"), voices=4)
    dataset = run(root)
    voices: dict[str, set[Split]] = defaultdict(set)
    for clip in dataset.select(Role.POSITIVE):
        voices[clip.speaker].add(clip.split)
    assert all(len(found) == 1 for found in voices.values())
    assert {s for found in voices.values() for s in found} == set(Split)
    assert any("only 2 speech engine families (espeak, piper)" in n for n in dataset.notes)


def test_two_people_with_enough_takes_one_trains_one_validates(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    synth_dataset(root, FAMILIES, voices=1)
    for i in range(20):
        write_noise(root / "positive" / "alice" / f"browser_{i}.wav", 0.6, 100 + i)
    for i in range(12):
        write_noise(root / "positive" / "bob" / f"browser_{i}.wav", 0.6, 200 + i)
    dataset = run(root)
    people = {c.speaker: c.split for c in dataset.select(Role.POSITIVE) if c.human}
    assert people == {"alice": Split.TRAIN, "bob": Split.VAL}
    # Too few takes: nothing held out file by file silently; the old note explains.
    small = tmp_path / "other" / "dataset"
    synth_dataset(small, FAMILIES, voices=1)
    # Distinct seeds per person: identical files would be merged as duplicates.
    for who, first_seed in (("alice", 500), ("bob", 600)):
        for i in range(3):
            write_noise(small / "positive" / who / f"browser_{i}.wav", 0.6, first_seed + i)
    notes = run(small).notes
    assert any("only 2 positive speaker(s)" in n for n in notes), notes


def takes_by(people: dict[str, int], role: Role = Role.POSITIVE) -> list[Unit]:
    return [
        Unit(f"{who}-{i}", role, who, 1.0, HUMAN) for who, n in people.items() for i in range(n)
    ]


def splits_of_people(units: list[Unit], splits: dict[str, Split]) -> dict[str, set[Split]]:
    found: dict[str, set[Split]] = defaultdict(set)
    for unit in units:
        found[unit.speaker].add(splits[unit.sha256])
    return found


def test_a_household_trains_on_everyone_validation_does_not_hold_out() -> None:
    ratios = (0.8, 0.1, 0.1)
    state = SplitState()
    household = takes_by({"alice": 20, "bob": 15, "carol": 8, "dan": 4})
    splits, notes = assign(household, state, ratios)
    # The fewest takes validate (dan); carol too would give validation 12 of 47 takes, more
    # than twice its share, so she trains; nobody is kept for test.
    assert splits_of_people(household, splits) == {
        "alice": {Split.TRAIN},
        "bob": {Split.TRAIN},
        "carol": {Split.TRAIN},
        "dan": {Split.VAL},
    }
    assert notes == []
    # Sound-alikes by the same household follow the same rule on their own.
    hard = takes_by({"alice": 3, "bob": 3, "carol": 3}, Role.HARD_NEGATIVE)
    assert {
        s
        for found in splits_of_people(hard, assign(hard, SplitState(), ratios)[0]).values()
        for s in found
    } == {Split.TRAIN, Split.VAL}
    # Never more than the household: at least one person trains, whatever the takes.
    pair = takes_by({"eve": 1, "fay": 1, "gus": 1})
    assert Counter(assign(pair, SplitState(), ratios)[0].values()) == {Split.TRAIN: 2, Split.VAL: 1}
    # No validation share asked for: everyone trains.
    assert set(assign(household, SplitState(), (0.9, 0.0, 0.1))[0].values()) == {Split.TRAIN}


def test_people_fill_every_split_once_there_are_many_and_keep_their_places() -> None:
    ratios = (0.8, 0.1, 0.1)
    state = SplitState()
    household = takes_by({"alice": 20, "bob": 15, "carol": 8, "dan": 4})
    first = assign(household, state, ratios)[0]
    # Eight more people: twelve people and 111 takes are enough for a test share too.
    grown = household + takes_by({f"guest{i}": 8 for i in range(8)})
    splits, notes = assign(grown, state, ratios)
    assert {u.sha256: splits[u.sha256] for u in household} == first
    people = splits_of_people(grown, splits)
    assert all(len(found) == 1 for found in people.values())
    assert {s for found in people.values() for s in found} == set(Split)
    assert notes == []


def test_clips_of_an_unnamed_engine_are_split_beside_two_people() -> None:
    people = takes_by({"alice": 20, "bob": 12})
    unnamed = [Unit(f"u{i}", Role.POSITIVE, f"synth_v{i}", 1.0, UNKNOWN_ENGINE) for i in range(5)]
    splits, _notes = assign(people + unnamed, SplitState(), (0.8, 0.1, 0.1))
    assert all(u.sha256 in splits for u in unnamed)
    assert splits_of_people(people, splits) == {"alice": {Split.TRAIN}, "bob": {Split.VAL}}


def test_a_person_split_by_file_keeps_those_places_when_people_join() -> None:
    ratios = (0.8, 0.1, 0.1)
    state = SplitState()
    alone = takes_by({"alice": 10})
    splits, notes = assign(alone, state, ratios)
    assert Counter(splits.values()) == {Split.TRAIN: 9, Split.VAL: 1}
    assert any("only 1 positive speaker(s)" in n for n in notes), notes
    joined = alone + takes_by({"bob": 12, "carol": 6})
    again, notes = assign(joined, state, ratios)
    assert {u.sha256: again[u.sha256] for u in alone} == splits  # files keep their places
    people = splits_of_people(joined, again)
    assert people["bob"] == {Split.TRAIN} and people["carol"] == {Split.VAL}
    assert notes == []


def test_speech_packs_are_real_talk_and_a_missing_pack_is_named(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    synth_dataset(root, FAMILIES, voices=1)
    pack = tmp_path / "packs" / "librispeech_dev"
    for i in range(4):
        write_noise(pack / "1272" / f"1272-{i}.flac", 3.0, 300 + i)
    write_noise(pack / "words" / "yes.flac", 0.9, 400)  # a word: a short negative
    (pack / "LICENSE").write_text("CC BY 4.0")
    dataset = run(root, packs=(str(pack),))
    assert not dataset.problems  # the licence text is not taken for audio
    from_pack = [c for c in dataset.select(Role.NEGATIVE) if "/packs/" in c.relpath]
    assert len(from_pack) == 5 and all(c.human for c in from_pack)
    assert from_pack[0].relpath.startswith("negative/packs/0-librispeech_dev/")
    synthetic = [c for c in dataset.select(Role.NEGATIVE) if "/packs/" not in c.relpath]
    assert synthetic and not any(c.human for c in synthetic)
    assert (
        "wake words: 0 recorded by people; synthetic by engine: espeak 4, festival 4, flite 4, "
        "pico 4, piper 4; negatives: 0.00 h of people talking" in dataset.summary()
    )
    assert "trained on synthetic wake words only" in dataset.voice_warnings()[0]
    assert len(dataset.voice_warnings()) == 1  # real talk is there
    with pytest.raises(ConfigError, match=r"negative_pack_dirs\[1\].*mww-packs fetch"):
        run(root, packs=(str(pack), str(tmp_path / "gone")))
    without = run(tmp_path / "dataset")
    assert any("no real people talking" in w for w in without.voice_warnings())


def test_recordings_by_people_are_drawn_as_often_as_their_weight_says() -> None:
    builder = PoolBuilder(length=4)
    builder.add_clips([np.ones((4, 40), np.uint16)] * 100, POSITIVE)
    builder.add_clips([np.full((4, 40), 2, np.uint16)] * 100, POSITIVE, weight=3.0)
    builder.add_sequence(np.zeros((400, 40), np.uint16), NEGATIVE, hop=1)
    pool = builder.build()
    sampler = BatchSampler(pool, batch_size=64, seed=1)
    drawn = np.concatenate([sampler.draw() for _ in range(300)])
    positives = drawn[pool.kind[drawn] == POSITIVE]
    real = np.count_nonzero(pool.weight[positives] == 3.0)
    assert real / (len(positives) - real) == pytest.approx(3.0, rel=0.1)
    # All alike: no weights are kept at all (the draws stay as they were).
    plain = PoolBuilder(length=4)
    plain.add_clips([np.ones((4, 40), np.uint16)], POSITIVE)
    assert plain.build().weight is None


def test_short_negatives_are_heard_joined_as_talk(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    synth_dataset(root, FAMILIES, voices=1)
    for i in range(6):
        write_noise(root / "negative" / "words" / f"w{i}.wav", 0.8, 500 + i)
    words = [c for c in run(root).select(Role.NEGATIVE) if c.duration_s < 1]
    assert len(words) == 6 and all(c.origin == HUMAN for c in words)
    streams = joined_talk(words, bed=None)
    assert len(streams) == 1
    # Every word is in the stream (trimmed words plus pauses), after the quiet lead.
    assert len(streams[0]) >= 6 * 0.5 * RATE + 3.5 * RATE


def test_validation_gets_an_hour_of_negatives_with_real_talk_in_it() -> None:
    synthetic = [Unit(f"s{i}", Role.NEGATIVE, "speech", 600.0, "espeak") for i in range(60)]
    people = [Unit(f"h{i}", Role.NEGATIVE, "talk", 60.0, HUMAN) for i in range(120)]
    splits, _notes = assign(synthetic + people, SplitState(), (0.8, 0.1, 0.1))
    val_s = sum(u.duration_s for u in synthetic + people if splits[u.sha256] == Split.VAL)
    assert 3600 <= val_s <= 0.3 * (60 * 600 + 120 * 60) + 600
    real_val = [u for u in people if splits[u.sha256] == Split.VAL]
    assert len(real_val) >= 12  # people talking are in it, in their share
    # A large dataset keeps the configured share: 10 % is already more than an hour.
    big = [Unit(f"b{i}", Role.NEGATIVE, "speech", 3600.0, "espeak") for i in range(40)]
    splits, _notes = assign(big, SplitState(), (0.8, 0.1, 0.1))
    assert Counter(splits.values())[Split.VAL] == 4


def test_people_talking_go_under_clips_quieter_than_the_wake_word(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    synth_dataset(root, FAMILIES, voices=1)
    pack = tmp_path / "pack"
    for i in range(30):
        write_noise(pack / f"talk_{i}.flac", 2.5, 700 + i)
    dataset = run(root, packs=(str(pack),))
    talk = background_talk(dataset)
    by_path = {c.path: c for c in dataset.clips}
    assert talk and all(by_path[p].human and by_path[p].split == Split.TRAIN for p in talk)
    assert background_talk(run(tmp_path / "dataset")) == []  # no people: nothing to mix
    # The augmenter mixes talk under half the clips that get a background, at 5-20 dB SNR.
    config = replace(
        load_preset("standard").augmentation,
        AddBackgroundNoise=1.0,
        **dict.fromkeys(["PitchShift", "SevenBandParametricEQ", "TanhDistortion"], 0.0),
        **dict.fromkeys(["BandStopFilter", "AddColorNoise", "Gain", "RIR"], 0.0),
    )
    noise = np.full(RATE * 3, 1000, np.int16)  # a constant: tells noise from talk below
    voice = (np.sin(np.arange(RATE) / 5) * 8000).astype(np.int16)
    augmenter = Augmenter(
        config=config,
        background=[noise],
        impulses=[],
        seed=1,
        ranges=AugmentRanges(),
        talk=[read_audio(p) for p in talk[:3]],
    )
    talkers = 0
    for index in range(200):
        out = augmenter.augment(voice, augmenter.rng_for(index), target_samples=3 * RATE)
        lead = out[: RATE // 2].astype(np.float64)  # before the wake word: background alone
        if np.std(lead) > 1.0:  # talk varies; the constant noise does not
            talkers += 1
            word = out[-int(1.2 * RATE) :].astype(np.float64)
            assert np.sqrt(np.mean(word**2)) > 1.5 * np.sqrt(np.mean(lead**2))
    assert 70 <= talkers <= 130
