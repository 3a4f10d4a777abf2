"""The feature cache: exact features, stored once per content, reused, streamed for long files."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mww_trainer import constants
from mww_trainer.config.types import frames_for_samples
from mww_trainer.data.audio import read_audio
from mww_trainer.data.feature_cache import FeatureCache, extract_to
from mww_trainer.data.features import compute_features, raw_from_features
from mww_trainer.data.ingest import Clip, Dataset, Role, Split, ingest
from mww_trainer.errors import AudioError
from tests.fakes.dataset_paths import paths_for

RATE = constants.SAMPLE_RATE_HZ
_seeds = itertools.count(1)


def speechlike(duration_s: float, rate_hz: int, channels: int = 1) -> np.ndarray:
    """Swelling tones over noise, a fresh seed per call: every mel band has changing energy."""
    rng = np.random.default_rng(next(_seeds))
    t = np.arange(int(duration_s * rate_hz)) / rate_hz
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)
    freq = rng.uniform(200, 1500)
    x = 0.3 * swell * np.sin(2 * np.pi * freq * t) + rng.normal(0, 0.02, t.size)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def write(path: Path, duration_s: float, rate_hz: int = RATE, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = "PCM_16" if path.suffix in (".wav", ".flac") else None
    sf.write(path, speechlike(duration_s, rate_hz, channels), rate_hz, subtype=subtype)
    return path


def clip_for(path: Path, sha256: str = "ab" * 32, duration_s: float = 1.0) -> Clip:
    return Clip(
        path=path,
        relpath=f"positive/{path.name}",
        role=Role.POSITIVE,
        speaker="s",
        split=Split.TRAIN,
        duration_s=duration_s,
        sha256=sha256,
        rate_hz=RATE,
        channels=1,
    )


def make_dataset(tmp_path: Path) -> Dataset:
    root = tmp_path / "dataset"
    for speaker in range(3):
        for i in range(3):
            write(root / "positive" / f"spk{speaker}" / f"{i}.wav", 1.0)
    write(root / "positive" / "spk0" / "stereo44k.wav", 1.2, rate_hz=44100, channels=2)
    write(root / "positive" / "spk1" / "narrow.flac", 1.0, rate_hz=8000)
    write(root / "positive" / "spk2" / "vorbis.ogg", 1.0, rate_hz=22050)
    write(root / "negative" / "speech.wav", 5.0)
    return reingest(tmp_path)


def reingest(tmp_path: Path) -> Dataset:
    paths = paths_for(tmp_path / "dataset")
    return ingest(paths, split_file=tmp_path / "processed" / "split.json")


def test_cached_features_equal_the_reference_for_every_format(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path)
    cache = FeatureCache(tmp_path / "processed" / "features")
    stats = cache.ensure(dataset.clips, workers=1)
    assert (stats.computed, stats.reused) == (len(dataset.clips), 0)
    for clip in dataset.clips:
        expected = compute_features(read_audio(clip.path))
        got = cache.features(clip)
        assert got.dtype == np.float32 and got.shape == expected.shape, clip.relpath
        assert np.array_equal(got, expected), clip.relpath
        raw = cache.features(clip, raw=True)
        assert isinstance(raw, np.memmap) and raw.dtype == np.uint16
        assert np.array_equal(raw, raw_from_features(expected))


def test_second_run_reuses_and_a_changed_file_is_recomputed(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path)
    cache = FeatureCache(tmp_path / "processed" / "features")
    events = []
    first = cache.ensure(dataset.clips, workers=2, on_progress=events.append)
    assert (first.computed, first.reused) == (len(dataset.clips), 0)
    assert events[-1].stage == "features" and events[-1].done == events[-1].total == first.computed

    again = cache.ensure(reingest(tmp_path).clips, workers=2)
    assert (again.computed, again.reused) == (0, len(dataset.clips))

    changed = tmp_path / "dataset" / "positive" / "spk1" / "0.wav"
    old_features = cache.features(next(c for c in dataset.clips if c.path == changed))
    write(changed, 1.5)
    updated = reingest(tmp_path)
    after = cache.ensure(updated.clips, workers=1)
    assert (after.computed, after.reused) == (1, len(dataset.clips) - 1)
    new_clip = next(c for c in updated.clips if c.path == changed)
    new_features = cache.features(new_clip)
    assert new_features.shape[0] > old_features.shape[0]
    assert np.array_equal(new_features, compute_features(read_audio(changed)))
    assert cache.prune(updated.clips) == 1


def test_same_content_is_extracted_once(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", 1.0)
    cache = FeatureCache(tmp_path / "features")
    stats = cache.ensure([clip_for(path), clip_for(path)], workers=1)
    assert (stats.computed, stats.reused) == (1, 0)


def test_missing_entry_is_extracted_on_demand_and_nothing_partial_is_left(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", 0.7)
    cache = FeatureCache(tmp_path / "features")
    features = cache.features(clip_for(path))
    assert features.shape == (frames_for_samples(int(0.7 * RATE)), constants.MEL_BINS)
    files = sorted(p.name for p in cache.folder.rglob("*") if p.is_file())
    assert files == ["ab" * 32 + ".npy", "frontend.json"]


def test_minute_at_8_khz_streams_in_blocks_and_matches_the_reference(tmp_path: Path) -> None:
    path = write(tmp_path / "minute.wav", 61.3, rate_hz=8000)  # two decode blocks and a bit
    target = tmp_path / "out.npy"
    rows = extract_to(path, target)
    expected = compute_features(read_audio(path))
    assert rows == len(expected)
    assert np.array_equal(np.load(target), raw_from_features(expected))


@pytest.mark.integration  # about 10 s: two hours of audio through the frontend
def test_two_hour_file_is_extracted_with_bounded_memory(tmp_path: Path) -> None:
    rate_hz, minutes = 8000, 120
    path = tmp_path / "radio_2h.wav"
    block = np.random.default_rng(0).integers(-3000, 3000, rate_hz * 60, np.int16)
    with sf.SoundFile(path, "w", rate_hz, 1, "PCM_16") as handle:
        for _ in range(minutes):
            handle.write(block)
    cache = FeatureCache(tmp_path / "features")
    clip = clip_for(path, sha256="cd" * 32, duration_s=minutes * 60.0)
    tracemalloc.start()
    start = time.monotonic()
    stats = cache.ensure([clip], workers=1)
    seconds = time.monotonic() - start
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert stats.computed == 1
    raw = cache.features(clip, raw=True)
    assert raw.shape == (frames_for_samples(minutes * 60 * RATE), constants.MEL_BINS)
    # Whole-file processing would hold ~460 MB of resampled float32; blocks keep it to MBs.
    assert peak_bytes < 30e6
    assert raw[-1].any()
    print(f"2 h at 8 kHz: {seconds:.1f} s ({minutes * 60 / seconds:.0f}x real time)")


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_unreadable_file_raises_an_audio_error_and_leaves_no_entry(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"not audio at all" * 10)
    cache = FeatureCache(tmp_path / "features")
    with pytest.raises(AudioError, match=f"bad{suffix}"):
        cache.ensure([clip_for(path)], workers=1)
    assert not list(cache.folder.rglob("*.npy")) and not list(cache.folder.rglob("*.tmp"))
