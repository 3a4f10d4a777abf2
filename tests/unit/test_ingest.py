"""Discovery, per-file checks and the stable speaker-aware split, on generated datasets."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.data.ingest import Dataset, Limits, Role, Split, ingest, speaker_leakage
from mww_trainer.errors import ConfigError
from tests.fakes.dataset_paths import paths_for

RATE = 16000
_seeds = itertools.count(1)


def write_noise(
    path: Path, duration_s: float, *, rate_hz: int = RATE, channels: int = 1, amp: float = 0.1
) -> Path:
    """Noise with a fresh seed each call, so no two generated files share content."""
    rng = np.random.default_rng(next(_seeds))
    samples = rng.uniform(-amp, amp, (int(duration_s * rate_hz), channels)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = "PCM_16" if path.suffix in (".wav", ".flac") else None
    sf.write(path, samples, rate_hz, subtype=subtype)
    return path


def run(root: Path, **kwargs) -> Dataset:
    split_file = root.parent / "processed" / "split.json"
    return ingest(paths_for(root), split_file=split_file, **kwargs)


def make_speakers(root: Path, n_speakers: int, clips_each: int, first: int = 0) -> None:
    for s in range(first, first + n_speakers):
        for i in range(clips_each):
            write_noise(root / "positive" / f"spk{s:02}" / f"c{i}.wav", 0.5)


def make_negatives(root: Path, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        write_noise(root / "negative" / "speech" / f"n{i}.wav", 2.0)


def split_of(dataset: Dataset) -> dict[str, Split]:
    return {clip.relpath: clip.split for clip in dataset.clips}


def reasons(dataset: Dataset, severity: str) -> dict[str, str]:
    """relpath -> reason for the problems of one severity."""
    return {p.reason.split(": ")[0]: p.reason for p in dataset.problems if p.severity == severity}


def tree_fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder with size, mtime and content hash: any write changes it."""
    fingerprint = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        fingerprint[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns, digest)
    return fingerprint


@pytest.fixture
def dataset_root(tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    for speaker in ("alice", "bob"):
        for i in range(3):
            write_noise(root / "positive" / speaker / f"{i}.wav", 1.0)
    write_noise(root / "positive" / "carol" / "session1" / "deep" / "0.wav", 1.0)
    write_noise(root / "positive" / "carol" / "session2" / "1.flac", 1.0)
    write_noise(root / "negative" / "speech" / "conv_001.wav", 3.0)
    write_noise(root / "negative" / "talk.ogg", 2.5)
    write_noise(root / "hard_negative" / "false_positive_001.wav", 1.0)
    write_noise(root / "background" / "noise_001.flac", 5.0)
    write_noise(root / "rirs" / "reverb_001.wav", 0.4)
    # Not dataset content: hidden files and folders, our own metadata.
    write_noise(root / "positive" / "alice" / ".hidden.wav", 1.0)
    write_noise(root / "positive" / ".cache" / "x.wav", 1.0)
    (root / "positive" / "clusters.json").write_text("{}")
    return root


def test_discovers_roles_and_nested_speakers(dataset_root: Path) -> None:
    dataset = run(dataset_root)
    by_path = {clip.relpath: clip for clip in dataset.clips}
    assert set(by_path) == {
        "positive/alice/0.wav",
        "positive/alice/1.wav",
        "positive/alice/2.wav",
        "positive/bob/0.wav",
        "positive/bob/1.wav",
        "positive/bob/2.wav",
        "positive/carol/session1/deep/0.wav",
        "positive/carol/session2/1.flac",
        "negative/speech/conv_001.wav",
        "negative/talk.ogg",
        "hard_negative/false_positive_001.wav",
        "background/noise_001.flac",
        "rir/reverb_001.wav",
    }
    assert by_path["positive/carol/session1/deep/0.wav"].speaker == "carol"
    assert by_path["positive/carol/session2/1.flac"].speaker == "carol"
    assert by_path["negative/speech/conv_001.wav"].speaker == "speech"
    assert by_path["negative/talk.ogg"].speaker == "talk"
    assert by_path["hard_negative/false_positive_001.wav"].role == Role.HARD_NEGATIVE
    clip = by_path["background/noise_001.flac"]
    assert (clip.duration_s, clip.rate_hz, clip.channels) == (5.0, RATE, 1)
    assert clip.sha256 == hashlib.sha256(clip.path.read_bytes()).hexdigest()
    assert dataset.problems == ()
    assert speaker_leakage(dataset) == []
    # Three people: the one with fewest takes validates, the others train, none is kept for test.
    assert dataset.counts()["positive"] == {"train": 6, "val": 2, "test": 0}


def test_files_directly_in_positive_are_one_speaker_with_a_note(dataset_root: Path) -> None:
    write_noise(dataset_root / "positive" / "loose.wav", 1.0)
    dataset = run(dataset_root)
    (loose,) = [c for c in dataset.clips if c.relpath == "positive/loose.wav"]
    assert loose.speaker == "_root"
    assert any("directly in the positive folder" in note for note in dataset.notes)


def test_speaker_map_overrides_folders(dataset_root: Path) -> None:
    speaker_map = {"positive/alice/0.wav": "dave", "positive/bob/2.wav": "dave"}
    dataset = run(dataset_root, speaker_map=speaker_map)
    by_path = {clip.relpath: clip for clip in dataset.clips}
    assert by_path["positive/alice/0.wav"].speaker == "dave"
    assert by_path["positive/alice/1.wav"].speaker == "alice"
    assert by_path["positive/alice/0.wav"].split == by_path["positive/bob/2.wav"].split


def test_missing_required_folder_names_it_and_optional_ones_may_be_missing(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 1, 1)
    with pytest.raises(ConfigError, match=r"paths\.negative_dir: folder .*negative.* not the wake"):
        run(root)
    make_negatives(root, 1)
    dataset = run(root)  # no hard_negative, background or rirs folder
    assert len(dataset.clips) == 2


def test_bad_files_are_reported_and_skipped_while_the_rest_is_used(dataset_root: Path) -> None:
    pos = dataset_root / "positive" / "alice"
    (pos / "corrupt.wav").write_bytes(b"RIFF" + os.urandom(2000))
    (pos / "empty.wav").write_bytes(b"")
    sf.write(pos / "no_samples.wav", np.zeros(0, dtype=np.int16), RATE)
    write_noise(pos / "short.wav", 0.1)
    write_noise(pos / "long.wav", 12.0)
    write_noise(pos / "silent.wav", 1.0, amp=0.0005)
    clipped = np.where(np.arange(RATE) % 100 == 0, 1.0, 0.1).astype(np.float32)
    sf.write(pos / "clipped.wav", clipped, RATE, subtype="PCM_16")
    write_noise(pos / "stereo.wav", 1.0, rate_hz=44100, channels=2)
    shutil.copy(pos / "0.wav", dataset_root / "positive" / "bob" / "copy_of_alice.wav")
    write_noise(dataset_root / "negative" / "tiny.wav", 0.2)
    write_noise(dataset_root / "negative" / "word.wav", 1.0)  # a word: a short negative
    dataset = run(dataset_root)

    skipped = reasons(dataset, "skip")
    assert set(skipped) == {
        f"positive/alice/{name}.wav"
        for name in ("corrupt", "empty", "no_samples", "short", "long", "silent")
    } | {"positive/bob/copy_of_alice.wav", "negative/tiny.wav"}
    assert "not a readable audio file" in skipped["positive/alice/corrupt.wav"]
    assert "empty (0 bytes)" in skipped["positive/alice/empty.wav"]
    assert "no audio samples" in skipped["positive/alice/no_samples.wav"]
    assert "too short" in skipped["positive/alice/short.wav"]
    assert "too long" in skipped["positive/alice/long.wav"]
    assert "silent" in skipped["positive/alice/silent.wav"]
    assert "same content as positive/alice/0.wav" in skipped["positive/bob/copy_of_alice.wav"]
    assert "too short for a negative" in skipped["negative/tiny.wav"]
    assert "negative/word.wav" in {c.relpath for c in dataset.clips}
    warned = reasons(dataset, "warn")
    assert "clipped" in warned["positive/alice/clipped.wav"]
    assert "44.1 kHz stereo" in warned["positive/alice/stereo.wav"]
    assert "converted to 16 kHz mono" in warned["positive/alice/stereo.wav"]

    used = {clip.relpath: clip for clip in dataset.clips}
    assert not set(skipped) & set(used)
    assert used["positive/alice/stereo.wav"].rate_hz == 44100
    assert used["positive/alice/stereo.wav"].channels == 2
    assert "positive/alice/clipped.wav" in used
    assert len(used) == 13 + 2 + 1  # the fixture, the two usable extras, the word
    assert dataset.skipped == 8
    assert "8 file(s) skipped" in dataset.summary()


def test_mp3_content_named_wav_is_read_by_content_and_flagged(dataset_root: Path) -> None:
    path = dataset_root / "positive" / "bob" / "really_mp3.wav"
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
    try:
        sf.write(path, tone.astype(np.float32), RATE, format="MP3")
    except (sf.LibsndfileError, TypeError, ValueError):
        pytest.skip("this libsndfile cannot write MP3")
    assert path.read_bytes()[:4] != b"RIFF"
    dataset = run(dataset_root)
    problems = [p for p in dataset.problems if p.path == path]
    assert len(problems) == 1
    # libsndfile >= 1.1 decodes MP3 whatever the name: the file is used, the name flagged.
    if problems[0].severity == "warn":
        assert "holds MP3 data although named .wav" in problems[0].reason
        assert any(clip.path == path for clip in dataset.clips)
    else:
        assert "not a readable audio file" in problems[0].reason


def test_two_hour_negative_is_accepted_without_loading_it(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 1, 1)
    long_path = root / "negative" / "radio_2h.wav"
    long_path.parent.mkdir(parents=True)
    rate_hz, block = 8000, np.random.default_rng(0).integers(-3000, 3000, 8000 * 60, np.int16)
    with sf.SoundFile(long_path, "w", rate_hz, 1, "PCM_16") as handle:
        for _ in range(120):
            handle.write(block)
    tracemalloc.start()
    start = time.monotonic()
    dataset = run(root)
    seconds = time.monotonic() - start
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    (clip,) = dataset.select(role=Role.NEGATIVE)
    assert clip.duration_s == 7200.0 and clip.rate_hz == rate_hz
    assert "8 kHz mono" in dataset.problems[0].reason
    # The decoded file would be 230 MB of float32; blocks keep the peak to a few MB.
    assert peak_bytes < 20e6
    assert seconds < 10


def test_dataset_folder_is_never_written(dataset_root: Path) -> None:
    (dataset_root / "positive" / "alice" / "corrupt.wav").write_bytes(os.urandom(500))
    before = tree_fingerprint(dataset_root)
    run(dataset_root)
    run(dataset_root)
    assert tree_fingerprint(dataset_root) == before
    with pytest.raises(ConfigError, match="inside the dataset folder"):
        ingest(paths_for(dataset_root), split_file=dataset_root / "negative" / "split.json")
    assert tree_fingerprint(dataset_root) == before


def test_no_speaker_in_two_splits_and_ratios_hold_on_30_speakers(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 30, 4)
    make_negatives(root, 20)
    dataset = run(root)
    assert speaker_leakage(dataset) == []
    speakers: dict[Split, set[str]] = defaultdict(set)
    for clip in dataset.select(role=Role.POSITIVE):
        speakers[clip.split].add(clip.speaker)
    assert [len(speakers[s]) for s in Split] == [24, 3, 3]
    negatives = Counter(clip.split for clip in dataset.select(role=Role.NEGATIVE))
    # Validation takes up to 30 % of the negatives on its way to an hour of them.
    assert [negatives[s] for s in Split] == [12, 6, 2]
    assert dataset.notes == ()


def test_split_is_stable_when_files_and_speakers_are_added(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 10, 10)  # enough people and takes for every split's share
    make_negatives(root, 10)
    first = split_of(run(root))
    # The same files on another machine, without a split file: the same split.
    fresh = tmp_path / "copy" / "dataset"
    shutil.copytree(root, fresh)
    assert split_of(run(fresh)) == first
    make_speakers(root, 6, 2, first=10)
    for s in (0, 4, 9):
        write_noise(root / "positive" / f"spk{s:02}" / "extra.wav", 0.5)
    make_negatives(root, 5, first=10)
    second = run(root)
    again = split_of(second)
    assert {path: again[path] for path in first} == first
    assert speaker_leakage(second) == []
    for s in (0, 4, 9):
        assert again[f"positive/spk{s:02}/extra.wav"] == first[f"positive/spk{s:02}/c0.wav"]
    assert len(again) == len(first) + 12 + 3 + 5
    positives = Counter(clip.split for clip in second.select(role=Role.POSITIVE))
    assert positives[Split.TRAIN] / positives.total() == pytest.approx(0.8, abs=0.05)


def test_small_dataset_validates_on_a_speaker_and_trains_on_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 3, 5)
    make_negatives(root, 3)
    dataset = run(root)
    assert Counter(clip.split for clip in dataset.select(role=Role.POSITIVE)) == {
        Split.TRAIN: 10,
        Split.VAL: 5,
    }
    assert {clip.split for clip in dataset.select(role=Role.NEGATIVE)} == set(Split)
    assert speaker_leakage(dataset) == []


def test_one_speaker_is_split_by_file_with_a_leakage_warning(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 1, 10)
    make_negatives(root, 2)
    dataset = run(root)
    counts = Counter(clip.split for clip in dataset.select(role=Role.POSITIVE))
    assert [counts[s] for s in Split] == [9, 1, 0]  # a person's takes are never kept for test
    assert speaker_leakage(dataset) == ["speaker 'spk00' is in train and val"]
    assert any("only 1 positive speaker(s)" in note for note in dataset.notes)


def test_split_file_records_speakers_and_files(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 4, 2)
    make_negatives(root, 2)
    dataset = run(root)
    saved = json.loads((tmp_path / "processed" / "split.json").read_text())
    assert saved["ratios"] == {"train": 0.8, "val": 0.1, "test": 0.1}
    for clip in dataset.clips:
        assert saved["files"][clip.sha256] == clip.split.value
        if clip.role == Role.POSITIVE:
            assert saved["speakers"][clip.speaker] == clip.split.value


def test_ratios_limits_and_bad_split_file(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    make_speakers(root, 1, 1)
    make_negatives(root, 1)
    with pytest.raises(ConfigError, match="add up to 1"):
        run(root, ratios=(0.8, 0.3, 0.1))
    write_noise(root / "background" / "hum.wav", 2.0)
    dataset = run(root, limits=Limits(min_long_s=2.5))
    assert "shorter than one training clip (2.5 s)" in dataset.problems[0].reason
    (tmp_path / "processed" / "split.json").write_text("not json")
    with pytest.raises(ConfigError, match="delete it"):
        run(root)


def test_progress_and_summary(dataset_root: Path) -> None:
    events = []
    dataset = run(dataset_root, on_progress=events.append, workers=2)
    assert events[-1].stage == "ingest"
    assert events[-1].done == events[-1].total == 13
    summary = dataset.summary()
    assert summary.splitlines()[1].split()[:4] == ["positive", "6", "2", "0"]
    assert "13 clips used, 3 positive speakers; 0 file(s) skipped" in summary
