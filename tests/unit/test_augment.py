"""Waveform augmentation and SpecAugment: each transform alone, levels, placement, seeds."""

from __future__ import annotations

import dataclasses
import pickle
import random

import numpy as np
import pytest

from mww_trainer.config.types import AugmentationConfig, TrainingConfig
from mww_trainer.data.audio import write_wav
from mww_trainer.data.augment import TRANSFORMS, Augmenter, AugmentRanges, place_clip
from mww_trainer.data.spec_augment import SpecAugmentSettings, array_backend, spec_augment
from mww_trainer.errors import ConfigError

RATE = 16000
WINDOW = round(3.2 * RATE)
JITTER_S = 0.2


def config(**overrides: float) -> AugmentationConfig:
    """Everything off, a fixed 0.2 s jitter; overrides switch transforms on."""
    values = dict.fromkeys(TRANSFORMS, 0.0) | {
        "background_min_snr_db": -5.0,
        "background_max_snr_db": 10.0,
        "min_jitter_s": JITTER_S,
        "max_jitter_s": JITTER_S,
        "impulse_paths": ("rirs",),
        "background_paths": ("background",),
        "augmentation_duration_s": 3.2,
    }
    return AugmentationConfig(**(values | overrides))


def speech_like(duration_s: float = 1.6, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    """Harmonics under a syllable-rate envelope with a little noise; ends on a non-zero sample."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 720, 1500), 1))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    x = amp * voice * envelope / 2.1 + 0.01 * rng.standard_normal(t.size)
    x[-1] = 0.2
    return np.round(x * 32767).astype(np.int16)


def noise(duration_s: float, seed: int, amp: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(amp * 32767 * rng.standard_normal(round(duration_s * RATE))).astype(np.int16)


def impulse(seed: int = 3, duration_s: float = 0.3, amp: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(duration_s * RATE)
    tail = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * RATE))
    tail[:40] = 0.0  # a pre-delay, trimmed by the Augmenter
    tail[40] = 3.0  # the direct sound
    return np.round(amp / 3.0 * 32767 * tail).astype(np.int16)


def make(cfg: AugmentationConfig, seed: int = 7, **kwargs) -> Augmenter:
    return Augmenter.from_config(
        cfg,
        background=[noise(5.0, seed=11), noise(0.5, seed=12)],
        impulses=[impulse()],
        seed=seed,
        **kwargs,
    )


def placed(x: np.ndarray) -> np.ndarray:
    return place_clip(x, WINDOW, JITTER_S, JITTER_S, np.random.default_rng(0))


def clip_region(n: int) -> slice:
    end = WINDOW - round(JITTER_S * RATE)
    return slice(end - n, end)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


# --- waveform augmentation -------------------------------------------------------------------


@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_transform_alone_changes_the_audio(name: str) -> None:
    aug = make(config(**{name: 1.0}))
    assert aug.chain == (name,)
    x = speech_like()
    for seed in range(3):
        out = aug.augment(x, np.random.default_rng(seed))
        assert out.dtype == np.int16 and out.shape == (WINDOW,)
        assert not np.array_equal(out, placed(x))


def test_probability_zero_leaves_a_transform_out_of_the_chain() -> None:
    everything = make(config(**dict.fromkeys(TRANSFORMS, 0.5)))
    assert everything.chain == TRANSFORMS
    for name in TRANSFORMS:
        others = dict.fromkeys(TRANSFORMS, 0.5) | {name: 0.0}
        assert make(config(**others)).chain == tuple(n for n in TRANSFORMS if n != name)


def test_disabled_config_only_places_the_clip() -> None:
    aug = make(config())
    assert aug.chain == ()
    x = speech_like()
    assert np.array_equal(aug.augment(x), placed(x))
    # With a jitter range, the clip is still copied sample for sample.
    ranged = make(config(min_jitter_s=0.1, max_jitter_s=0.3))
    out = ranged.augment(x)
    nonzero = np.flatnonzero(out)
    assert np.array_equal(out[nonzero[0] : nonzero[-1] + 1], x[np.flatnonzero(x)[0] :])


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0])
def test_background_is_mixed_at_the_requested_snr(snr_db: float) -> None:
    aug = make(
        config(AddBackgroundNoise=1.0, background_min_snr_db=snr_db, background_max_snr_db=snr_db)
    )
    x = speech_like()
    clean = placed(x).astype(np.float64)
    region = clip_region(x.size)
    for seed in range(5):
        added = aug.augment(x, np.random.default_rng(seed)).astype(np.float64) - clean
        measured = 20 * np.log10(rms(clean[region]) / rms(added[region]))
        assert measured == pytest.approx(snr_db, abs=1.0)
        # The background also fills the silence in front of the clip.
        assert rms(added[: region.start]) > 0


def test_background_snr_stays_in_the_configured_range() -> None:
    aug = make(
        config(AddBackgroundNoise=1.0, background_min_snr_db=0.0, background_max_snr_db=10.0)
    )
    x = speech_like()
    clean = placed(x).astype(np.float64)
    region = clip_region(x.size)
    measured = []
    for seed in range(20):
        added = aug.augment(x, np.random.default_rng(seed)).astype(np.float64) - clean
        measured.append(20 * np.log10(rms(clean[region]) / rms(added[region])))
    assert min(measured) >= -1.0 and max(measured) <= 11.0
    assert max(measured) - min(measured) > 3.0


def test_rir_keeps_the_length_adds_a_tail_and_does_not_explode() -> None:
    loud = Augmenter.from_config(
        config(RIR=1.0),
        background=[],
        impulses=[impulse(amp=1.0, duration_s=2.0), impulse(seed=4)],
        seed=1,
    )
    x = speech_like()
    region = clip_region(x.size)
    for seed in range(5):
        out = loud.augment(x, np.random.default_rng(seed))
        assert out.shape == (WINDOW,)
        assert np.abs(out).max() <= np.abs(x).max() + 1
        assert rms(out[region.stop :]) > 0  # the reverberation tail after the clip
        # The direct sound starts with the clip: the impulse's pre-delay is trimmed.
        assert not out[: region.start].any()
        assert np.flatnonzero(out)[0] - region.start < 5


def test_jitter_puts_the_clip_end_within_range_of_the_window_end() -> None:
    x = speech_like(2.0)
    lo_s, hi_s = 0.1, 0.3
    gaps = []
    for seed in range(50):
        out = place_clip(x, WINDOW, lo_s, hi_s, np.random.default_rng(seed))
        gaps.append(WINDOW - 1 - np.flatnonzero(out)[-1])
    assert round(lo_s * RATE) <= min(gaps) and max(gaps) <= round(hi_s * RATE)
    assert max(gaps) - min(gaps) > 0.1 * RATE


def test_a_clip_longer_than_the_window_keeps_its_end() -> None:
    x = speech_like(4.0)
    out = placed(x)
    end = WINDOW - round(JITTER_S * RATE)
    assert np.array_equal(out[:end], x[-end:])
    assert not out[end:].any()


def test_target_samples_sets_the_output_length() -> None:
    aug = make(config(**dict.fromkeys(TRANSFORMS, 1.0)))
    assert aug.augment(speech_like(), target_samples=24000).shape == (24000,)
    with pytest.raises(ValueError):
        aug.augment(speech_like(), target_samples=0)


def test_same_seed_same_output_and_picklable() -> None:
    cfg = config(**dict.fromkeys(TRANSFORMS, 0.5), min_jitter_s=0.1, max_jitter_s=0.3)
    x = speech_like()
    first, second, other = make(cfg, seed=5), make(cfg, seed=5), make(cfg, seed=6)
    outs = [first.augment(x) for _ in range(6)]
    assert all(np.array_equal(a, second.augment(x)) for a in outs)
    assert not all(np.array_equal(a, other.augment(x)) for a in outs)
    copy = pickle.loads(pickle.dumps(first))
    assert np.array_equal(copy.augment(x, copy.rng_for(9)), first.augment(x, first.rng_for(9)))


def test_global_random_state_is_left_alone() -> None:
    aug = make(config(**dict.fromkeys(TRANSFORMS, 1.0)))
    np.random.seed(123)
    random.seed(123)
    aug.augment(speech_like())
    after = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    assert after == (np.random.random(), random.random())


def test_full_scale_input_with_18_db_gain_clips_without_wrapping() -> None:
    aug = make(config(Gain=1.0), ranges=AugmentRanges(gain_db=(18.0, 18.0)))
    square = np.where(np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE) >= 0, 32767, -32768)
    x = square.astype(np.int16)
    out = aug.augment(x)
    reference = placed(x)
    assert out.max() == 32767 and out.min() == -32768
    assert np.array_equal(np.sign(out), np.sign(reference))


def test_paths_and_folders_are_read_once_into_memory(tmp_path) -> None:
    folder = tmp_path / "background"
    folder.mkdir()
    write_wav(folder / "a.wav", noise(2.0, seed=1))
    write_wav(tmp_path / "rir.wav", impulse())
    aug = Augmenter.from_config(
        config(AddBackgroundNoise=1.0, RIR=1.0),
        background=[folder],
        impulses=[tmp_path / "rir.wav"],
        seed=0,
    )
    assert len(aug.background) == 1 and len(aug.impulses) == 1
    assert aug.augment(speech_like()).shape == (WINDOW,)


def test_enabled_transform_without_audio_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AddBackgroundNoise"):
        Augmenter.from_config(config(AddBackgroundNoise=0.5), background=[], impulses=[], seed=0)
    with pytest.raises(ConfigError, match="RIR"):
        Augmenter.from_config(config(RIR=0.5), background=[], impulses=[], seed=0)


# --- SpecAugment ------------------------------------------------------------------------------


def features(size: int = 64, frames: int = 100, bins: int = 40, seed: int = 0) -> np.ndarray:
    """Strictly positive features, so every zero comes from a mask."""
    return np.random.default_rng(seed).uniform(1.0, 26.0, (size, frames, bins)).astype(np.float32)


def runs(flags: np.ndarray) -> list[int]:
    """Widths of the runs of True in a 1-D boolean array."""
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return list(edges[1::2] - edges[::2])


def coverable(widths: list[int], max_size: int, count: int) -> bool:
    """True when `count` masks of width <= max_size can make exactly these runs."""
    return len(widths) <= count and sum(-(-w // max_size) for w in widths) <= count


def test_time_masks_have_the_requested_sizes_and_counts() -> None:
    batch = features()
    out = spec_augment(
        batch,
        time_mask_max_size=10,
        time_mask_count=2,
        freq_mask_max_size=0,
        freq_mask_count=0,
        rng_or_seed=1,
    )
    zero = out == 0
    assert np.array_equal(zero.any(axis=2), zero.all(axis=2))  # whole frames only
    widths = [runs(row) for row in zero.all(axis=2)]
    assert all(coverable(w, 10, 2) for w in widths)
    assert any(w for w in widths)
    assert np.array_equal(out[~zero], batch[~zero])


def test_freq_masks_have_the_requested_sizes_and_counts() -> None:
    batch = features()
    out = spec_augment(
        batch,
        time_mask_max_size=0,
        time_mask_count=3,
        freq_mask_max_size=5,
        freq_mask_count=3,
        rng_or_seed=2,
    )
    zero = out == 0
    assert np.array_equal(zero.any(axis=1), zero.all(axis=1))  # whole bins only
    assert all(coverable(runs(row), 5, 3) for row in zero.all(axis=1))


def test_one_mask_is_one_run_no_wider_than_the_maximum() -> None:
    out = spec_augment(
        features(256),
        time_mask_max_size=7,
        time_mask_count=1,
        freq_mask_max_size=4,
        freq_mask_count=1,
        rng_or_seed=3,
    )
    masked_examples = 0
    for example in out == 0:
        frames, bins = example.all(axis=1), example.all(axis=0)
        time_runs, freq_runs = runs(frames), runs(bins)
        assert len(time_runs) <= 1 and all(w <= 7 for w in time_runs)
        assert len(freq_runs) <= 1 and all(w <= 4 for w in freq_runs)
        # Zeros are exactly the union of the masked frames and the masked bins.
        assert np.array_equal(example, frames[:, None] | bins[None, :])
        masked_examples += bool(time_runs or freq_runs)
    assert masked_examples > 200  # width 0 is drawn for about 1 in 8 x 1 in 5 examples


def test_zero_sizes_or_counts_return_the_input() -> None:
    batch = features()
    for sizes in ((0, 2, 0, 2), (5, 0, 5, 0), (0, 0, 0, 0)):
        out = spec_augment(
            batch,
            time_mask_max_size=sizes[0],
            time_mask_count=sizes[1],
            freq_mask_max_size=sizes[2],
            freq_mask_count=sizes[3],
            rng_or_seed=0,
        )
        assert out is batch


def test_spec_augment_is_deterministic_and_leaves_the_input_alone() -> None:
    batch = features()
    before = batch.copy()
    kwargs = dict(time_mask_max_size=8, time_mask_count=2, freq_mask_max_size=6, freq_mask_count=2)
    a = spec_augment(batch, rng_or_seed=4, **kwargs)
    b = spec_augment(batch, rng_or_seed=4, xp=np, **kwargs)
    c = spec_augment(batch, rng_or_seed=5, **kwargs)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == batch.dtype and a.shape == batch.shape
    assert np.array_equal(batch, before)
    rng = np.random.default_rng(4)
    assert np.array_equal(spec_augment(batch, rng_or_seed=rng, **kwargs), a)
    assert not np.array_equal(spec_augment(batch, rng_or_seed=rng, **kwargs), a)


def test_settings_come_from_the_training_phase() -> None:
    training = TrainingConfig(**{f.name: None for f in dataclasses.fields(TrainingConfig)})
    training = dataclasses.replace(
        training,
        time_mask_max_size=(0, 5),
        time_mask_count=(0, 2),
        freq_mask_max_size=(0, 3),
        freq_mask_count=(0, 1),
    )
    assert SpecAugmentSettings.for_phase(training, 0).is_identity
    second = SpecAugmentSettings.for_phase(training, 1)
    assert second == SpecAugmentSettings(5, 2, 3, 1) and not second.is_identity
    batch = features()
    assert np.array_equal(
        second.apply(batch, 9),
        spec_augment(
            batch,
            time_mask_max_size=5,
            time_mask_count=2,
            freq_mask_max_size=3,
            freq_mask_count=1,
            rng_or_seed=9,
        ),
    )


def test_array_backend_falls_back_to_numpy(monkeypatch) -> None:
    assert array_backend(prefer_gpu=False) is np
    monkeypatch.setitem(__import__("sys").modules, "cupy", None)  # import cupy -> ImportError
    assert array_backend() is np


def test_cupy_gives_the_same_masks_as_numpy() -> None:
    cupy = pytest.importorskip("cupy")
    if array_backend() is not cupy:
        pytest.skip("CuPy is installed but sees no CUDA device")
    batch = features()
    kwargs = dict(time_mask_max_size=8, time_mask_count=2, freq_mask_max_size=6, freq_mask_count=2)
    on_gpu = spec_augment(cupy.asarray(batch), rng_or_seed=4, **kwargs)
    assert isinstance(on_gpu, cupy.ndarray)
    assert np.array_equal(cupy.asnumpy(on_gpu), spec_augment(batch, rng_or_seed=4, **kwargs))
