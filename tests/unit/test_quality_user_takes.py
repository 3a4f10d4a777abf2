"""bench/quality.py --user-takes: people's takes join a fold's dataset as the product sees a
person's recordings (human, held out by whole speaker), without touching the fold's data."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.data.ingest import Role, ingest
from tests.fakes.dataset_paths import paths_for

RATE = 16000
TAKES = {"0a11": 3, "1b22": 2, "2c33": 4, "3d44": 1, "4e55": 3, "5f66": 2}


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    path = Path(__file__).parents[2] / "bench" / "quality.py"
    spec = importlib.util.spec_from_file_location("quality_bench", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def write_noise(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).normal(0, 3000, int(0.6 * RATE))
    sf.write(path, noise.astype(np.int16), RATE, subtype="PCM_16")


@pytest.fixture
def takes(tmp_path: Path) -> Path:
    root = tmp_path / "real_word-stop-train"
    for index, (speaker, count) in enumerate(TAKES.items()):
        for take in range(count):
            write_noise(root / speaker / f"stop_{speaker}_nohash_{take}.wav", 100 * index + take)
    return root


def fold_data(root: Path) -> Path:
    files = []
    seed = 1000
    for family in ("espeak", "festival", "piper"):
        for _take in range(4):
            seed += 1
            rel = f"positive/{family}-v0/pos_{seed}.wav"
            write_noise(root / rel, seed)
            files.append({"path": rel, "engine": family})
    write_noise(root / "negative" / "speech" / "talk.wav", 7)
    (root / "synth_manifest.json").write_text(json.dumps({"files": files}))
    return root


def test_whole_speakers_in_a_fixed_order(bench, takes: Path) -> None:
    chosen = bench.user_takes(takes, 5)
    assert chosen == bench.user_takes(takes, 5)
    speakers = {p.parent.name for p in chosen}
    assert len(chosen) >= 5
    assert len(chosen) == sum(TAKES[s] for s in speakers)  # never part of a speaker
    assert len(chosen) - 5 < max(TAKES[s] for s in speakers)  # stops once there are enough
    everyone = bench.user_takes(takes, sum(TAKES.values()))
    assert set(chosen) < set(everyone)
    with pytest.raises(SystemExit, match="only 15 takes"):
        bench.user_takes(takes, 16)


def test_takes_are_recordings_held_out_by_speaker(bench, tmp_path: Path, takes: Path) -> None:
    data = fold_data(tmp_path / "fold")
    before = sorted(p for p in data.rglob("*"))
    chosen = bench.user_takes(takes, 15)
    out = bench.with_user_takes(data, chosen, tmp_path / "fold-takes15")
    assert sorted(p for p in data.rglob("*")) == before
    dataset = ingest(paths_for(out), split_file=tmp_path / "processed" / "split.json")
    positives = dataset.select(Role.POSITIVE)
    people = [c for c in positives if c.human]
    assert len(people) == 15 and {c.speaker for c in people} == set(TAKES)
    assert {c.origin for c in positives if not c.human} == {"espeak", "festival", "piper"}
    splits = defaultdict(set)
    for clip in people:
        splits[clip.speaker].add(clip.split)
    assert all(len(found) == 1 for found in splits.values())
    assert len({s for found in splits.values() for s in found}) > 1


def test_a_household_files_whole_speakers_as_its_people(bench, tmp_path: Path, takes: Path) -> None:
    chosen = bench.user_takes(takes, 15)
    folders = bench.households(chosen, 3)
    assert sorted(set(folders.values())) == ["household-1", "household-2", "household-3"]
    assert set(folders) == set(TAKES)  # every real speaker is in exactly one of them
    with pytest.raises(SystemExit, match="only 6 people"):
        bench.households(chosen, 7)
    data = fold_data(tmp_path / "fold")
    out = bench.with_user_takes(data, chosen, tmp_path / "fold-house3", folders)
    dataset = ingest(paths_for(out), split_file=tmp_path / "processed" / "split.json")
    people = [c for c in dataset.select(Role.POSITIVE) if c.human]
    assert len(people) == 15
    assert {c.speaker for c in people} == set(folders.values())
    for clip in people:
        assert clip.speaker == folders[clip.path.resolve().parent.name]
