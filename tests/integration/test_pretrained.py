"""Starting from a published model: its weights land in the trainer's layers unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from mww_trainer.config.types import ModelConfig
from mww_trainer.errors import ConfigError
from mww_trainer.model.stream import Mode
from tests.integration.test_model_streaming import arch

pytestmark = pytest.mark.integration


SMALL = arch(
    first_conv_filters=12,
    pointwise_filters=(16, 16, 16),
    mixconv_kernel_sizes=((3,), (5, 9), (7,)),
    repeat_in_block=(1, 1, 1),
    residual_connection=(False,) * 3,
)


def speech_like(rng, frames: int) -> np.ndarray:
    """Features that rise and fall like words over a floor, in the device's 0-26 range."""
    t = np.arange(frames)[:, None]
    bins = np.arange(40)[None, :]
    envelope = 0.5 + 0.5 * np.sin(t / 7.0 + rng.uniform(0, 6)) * np.cos(bins / 5.0)
    return np.clip(4 + 14 * envelope + rng.normal(0, 2, (frames, 40)), 0, 26).astype("float32")


def trained_like(config: ModelConfig, rng, windows: np.ndarray):
    """A net with non-trivial weights and batch norm statistics, as after training."""
    import keras

    from mww_trainer.model.mixednet import MixedNet

    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    net = MixedNet(config)
    model = net.model(Mode.TRAINING)
    for var in model.weights:
        if "moving_variance" in var.path or "gamma" in var.path:
            var.assign(rng.uniform(0.5, 1.5, var.shape).astype("float32"))
        elif "moving_mean" in var.path or "beta" in var.path:
            var.assign(rng.uniform(-0.5, 0.5, var.shape).astype("float32"))
    # Scaled so the outputs spread over (0, 1) instead of all sitting near one value.
    kernel, bias = net.head.get_weights()
    p = np.asarray(model(windows, training=False), dtype=np.float64).ravel()
    logits = np.log(p / (1 - p)) - bias[0]
    scale = 2.0 / logits.std()
    net.head.set_weights([kernel * scale, np.array([-scale * logits.mean()], "float32")])
    return net


def exported(net, tmp_path, rng):
    from mww_trainer.device.export import convert_to_tflite, save_streaming_model

    saved = save_streaming_model(net, tmp_path / "streaming")
    slices = np.stack([speech_like(rng, 3) for _ in range(300)])
    slices[0, 0, :2] = (0.0, 26.0)
    path = tmp_path / "published.tflite"
    path.write_bytes(convert_to_tflite(saved, slices))
    return path


def test_an_exported_model_comes_back_with_the_same_outputs(tmp_path):
    from mww_trainer.model import pretrained
    from mww_trainer.model.mixednet import MixedNet

    rng = np.random.default_rng(4)
    frames = SMALL.input_frames
    windows = np.stack([speech_like(rng, frames) for _ in range(256)])
    source = trained_like(SMALL, rng, windows)
    path = exported(source, tmp_path, rng)

    fresh = MixedNet(SMALL)
    published = pretrained.start_from(fresh, str(path), windows)

    assert published.name == "published"
    before = np.asarray(source.model(Mode.TRAINING)(windows, training=False)).ravel()
    after = np.asarray(fresh.model(Mode.TRAINING)(windows, training=False)).ravel()
    assert before.std() > 0.01, "the test net must not be saturated to say anything"
    # int8 weights, so not exact; a wrong layout or a lost bias gives differences near 0.5
    assert np.abs(before - after).mean() < 0.02
    assert np.corrcoef(before, after)[0, 1] > 0.99
    # The batch norms were set on these windows, so training on them (batch statistics)
    # starts from the same function as inference does.
    trained = np.asarray(fresh.model(Mode.TRAINING)(windows, training=True)).ravel()
    assert np.abs(trained - after).mean() < 0.02


def test_a_published_model_loads_into_standard_and_keeps_its_head():
    from mww_trainer.config.loader import load_config
    from mww_trainer.model import pretrained
    from mww_trainer.model.mixednet import MixedNet

    config = load_config("standard").model
    net = MixedNet(config)
    rng = np.random.default_rng(0)
    windows = np.stack([speech_like(rng, config.input_frames) for _ in range(64)])
    published = pretrained.start_from(net, config.start_from, windows)

    source = pretrained.read(pretrained.resolve("hey_jarvis"))
    assert published.shape() == source.shape()
    kernel, bias = net.head.get_weights()
    np.testing.assert_allclose(kernel[:, 0], source.head.weights[0], rtol=1e-6)
    np.testing.assert_allclose(bias, source.head.bias, rtol=1e-6)


def test_a_model_of_another_shape_is_refused_with_both_shapes():
    from mww_trainer.model import pretrained
    from mww_trainer.model.mixednet import MixedNet

    net = MixedNet(SMALL)
    windows = np.zeros((4, SMALL.input_frames, 40), dtype="float32")
    with pytest.raises(
        ConfigError, match=r"model.start_from: hey_jarvis has first_conv_filters 30"
    ):
        pretrained.start_from(net, "hey_jarvis", windows)


def test_unknown_names_and_missing_files_say_what_to_give(tmp_path):
    from mww_trainer.model import pretrained

    with pytest.raises(ConfigError, match=r"choose one of .*hey_jarvis"):
        pretrained.resolve("hey_nobody")
    with pytest.raises(ConfigError, match="is not a file"):
        pretrained.resolve(str(tmp_path / "missing.tflite"))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a TFLite model"):
        pretrained.read(junk)


# okay_nabu: split kernels and depthwise biases (which our layers fold into the batch norms).
OKAY_NABU = arch(
    first_conv_filters=64,
    pointwise_filters=(64,) * 5,
    mixconv_kernel_sizes=((3,), (5, 9), (7, 13), (9, 15), (17,)),
    repeat_in_block=(1,) * 5,
    residual_connection=(False,) * 5,
    spectrogram_length=161,
)


@pytest.mark.parametrize(
    ("name", "phrase", "config"),
    [("hey_jarvis", "hey jarvis", arch()), ("okay_nabu", "okay nabu", OKAY_NABU)],
)
def test_the_loaded_model_hears_what_the_published_file_hears(name, phrase, config):
    """Started from a published model, the net answers its wake word as the file does on
    LiteRT."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install -y espeak-ng)")
    from mww_trainer.data.features import compute_features, features_to_device_int8
    from mww_trainer.device.runtime import run_stream_litert
    from mww_trainer.evaluation.scoring import sequence_outputs
    from mww_trainer.model import pretrained
    from mww_trainer.model.mixednet import MixedNet
    from mww_trainer.synth.espeak import Speaker, find_espeak, speak

    espeak = find_espeak()
    silence = np.zeros(16000, dtype=np.int16)
    audio = np.concatenate(
        [
            part
            for variant in ("m3", "f2", "m1", "f4")
            for part in (
                silence,
                speak(
                    espeak,
                    phrase,
                    Speaker("en-us", "gmw/en-US", variant),
                    speed_wpm=150,
                    pitch=50,
                ),
            )
        ]
        + [silence]
    )
    features = compute_features(audio)
    features = features[: len(features) // 3 * 3]
    net = MixedNet(config)
    rng = np.random.default_rng(1)
    frames = net.arch.input_frames
    starts = rng.integers(0, len(features) - frames, 512)
    pretrained.start_from(net, name, np.stack([features[s : s + frames] for s in starts]))

    ours = sequence_outputs(net, features).astype(int)
    theirs = run_stream_litert(
        pretrained.resolve(name).read_bytes(),
        features_to_device_int8(features).reshape(-1, 3, 40),
    ).astype(int)
    assert theirs.max() > 100, "the published model should answer its own wake word"
    settled = slice(60, None)  # the published stream starts from zeroed buffers
    assert np.abs(ours[settled] - theirs[settled]).mean() < 2.0
    assert np.corrcoef(ours[settled], theirs[settled])[0, 1] > 0.98


def test_training_starts_from_the_configured_model_and_says_so():
    import dataclasses

    from mww_trainer.config.loader import load_config
    from mww_trainer.data.windows import NEGATIVE, POSITIVE, PoolBuilder
    from mww_trainer.model import pretrained
    from mww_trainer.model.mixednet import MixedNet
    from mww_trainer.pipeline import _start_from

    config = load_config("standard")
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, start_from="hey_jarvis")
    )
    rng = np.random.default_rng(2)
    frames = config.model.input_frames
    builder = PoolBuilder(length=frames)
    builder.add_clips(
        [(speech_like(rng, frames) * 25.6).astype(np.uint16) for _ in range(6)], POSITIVE
    )
    builder.add_sequence((speech_like(rng, 600) * 25.6).astype(np.uint16), NEGATIVE, hop=9)
    events = []
    net = MixedNet(config.model)
    _start_from(net, config, builder.build(), 0, events.append)

    source = pretrained.read(pretrained.resolve("hey_jarvis"))
    np.testing.assert_allclose(net.head.get_weights()[0][:, 0], source.head.weights[0], rtol=1e-6)
    assert [e.message for e in events] == ["starting from the published model hey_jarvis"]
