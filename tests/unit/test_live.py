"""The live scorer against the offline evaluation: any chunking, the same outputs and wakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mww_trainer.data.features import compute_features
from mww_trainer.device.live import LiveScorer, ModelPoint, slice_end_s
from mww_trainer.evaluation.detection import cutoff_to_u8
from mww_trainer.evaluation.sweep import heard
from mww_trainer.evaluation_run import tflite_sequence_outputs

RATE_HZ = 16000


@pytest.fixture(scope="module")
def jarvis() -> bytes:
    package = pytest.importorskip("pymicro_wakeword")
    pytest.importorskip("ai_edge_litert")
    return (Path(package.__file__).parent / "models" / "hey_jarvis.tflite").read_bytes()


@pytest.fixture(scope="module")
def stream() -> np.ndarray:
    """Quiet room, "hey jarvis", room, "hey jarvis", room: about 11 s of int16."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    from mww_trainer.data.audio import to_int16
    from mww_trainer.synth.espeak import find_espeak, speak_voice

    words = speak_voice(find_espeak(), "hey jarvis", "en+f3", speed_wpm=150, pitch=50)
    rng = np.random.default_rng(7)

    def room(seconds: float) -> np.ndarray:
        return rng.normal(0, 0.003, int(seconds * RATE_HZ)).astype(np.float32)

    return to_int16(np.concatenate([room(3.5), words, room(3.6), words, room(1.3)]))


def offline(model: bytes, audio: np.ndarray, point: ModelPoint) -> tuple[np.ndarray, list[int]]:
    """How mww-evaluate scores one recording of an exported model."""
    outputs = tflite_sequence_outputs(model, compute_features(audio))
    cutoff = cutoff_to_u8(point.probability_cutoff)
    return outputs, heard(outputs, cutoff, point.sliding_window_size).tolist()


def streamed(model: bytes, audio: np.ndarray, point: ModelPoint, sizes) -> tuple:
    scorer = LiveScorer(model, point)
    outputs, wakes, at = [], [], 0
    for size in sizes:
        scored = scorer.push(audio[at : at + size])
        assert scored.first == sum(len(o) for o in outputs)
        outputs.append(scored.outputs)
        wakes += scored.wakes
        at += size
    scored = scorer.push(audio[at:])
    outputs.append(scored.outputs)
    return np.concatenate(outputs), wakes + list(scored.wakes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_in_random_chunks_equals_offline_scoring(jarvis, stream, seed):
    point = ModelPoint(probability_cutoff=0.5, sliding_window_size=3)
    want_outputs, want_wakes = offline(jarvis, stream, point)
    assert len(want_wakes) == 2, "the stream should wake the model twice at this cutoff"
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4000, size=len(stream) // 1000)
    got_outputs, got_wakes = streamed(jarvis, stream, point, sizes)
    assert np.array_equal(got_outputs, want_outputs)
    assert got_wakes == want_wakes


def test_the_manifest_cutoff_and_the_cool_down_decide_the_wakes(jarvis, stream):
    strict = ModelPoint(probability_cutoff=0.97, sliding_window_size=5)  # hey_jarvis's own
    _, wakes = streamed(jarvis, stream, strict, [len(stream)])
    assert wakes == offline(jarvis, stream, strict)[1]
    early = stream[: int(2.5 * RATE_HZ)]  # inside the 3 s after a model load nothing fires
    _, none = streamed(jarvis, early, ModelPoint(0.01, 1), [len(early)])
    assert none == []


def test_messages_carry_time_probability_and_wake(jarvis, stream):
    scorer = LiveScorer(jarvis, ModelPoint(0.5, 3))
    messages = scorer.push(stream).messages()
    assert len(messages) == scorer.slices == len(compute_features(stream)) // 3
    # The first slice is scored once a 30 ms window and two more 10 ms hops are in.
    assert messages[0]["t"] == pytest.approx(slice_end_s(0)) == pytest.approx(0.05)
    assert messages[1]["t"] - messages[0]["t"] == pytest.approx(0.03)
    assert all(0 <= m["p"] < 1 for m in messages)
    assert sum(m["wake"] for m in messages) == 2


def test_from_manifest_reads_the_model_beside_it(jarvis):
    package = pytest.importorskip("pymicro_wakeword")
    scorer = LiveScorer.from_manifest(Path(package.__file__).parent / "models" / "hey_jarvis.json")
    assert scorer.point == ModelPoint(0.97, 5)
