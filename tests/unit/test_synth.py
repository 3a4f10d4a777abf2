"""mww-synth: a deterministic dataset by espeak-ng voices, and generated noise.

The other engines and the mix of families are tested in test_synth_engines.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mww_trainer.cli import synth as synth_cli
from mww_trainer.errors import ConfigError, MwwError
from mww_trainer.synth import (
    MANIFEST_NAME,
    EngineNotFoundError,
    EspeakNotFoundError,
    SynthOptions,
    espeak,
    noise,
    phonetic_neighbours,
    phrases,
    piper_voices,
    synthesize_dataset,
)

RATE_HZ = 16000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def small_options(out_dir: Path, **changes) -> SynthOptions:
    base = SynthOptions(
        phrase="hey computer",
        out_dir=out_dir,
        positives=4,
        hard_negatives=4,
        ambient_minutes=0.1,
        recorded_minutes=0,  # people's recordings: tests/unit/test_synth_recorded.py
        ambient_file_s=(3.0, 4.0),
        background=4,  # white, pink, brown, babble
        background_duration_s=2.0,
        rirs=1,
        seed=7,
        rooms="synthetic",
        room_fraction=0.5,
        engines=("espeak",),  # the other engines' tests are in test_synth_engines.py
    )
    return replace(base, **changes)


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))


# --- determinism, layout, manifest ------------------------------------------------------


@needs_espeak
def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    first = synthesize_dataset(small_options(tmp_path / "a", workers=1, single_words=4))
    second = synthesize_dataset(small_options(tmp_path / "b", workers=3, single_words=4))
    other = synthesize_dataset(small_options(tmp_path / "c", seed=8, single_words=4))

    hashes_a, hashes_b = file_hashes(first.out_dir), file_hashes(second.out_dir)
    # 4 wake words, 4 sound-alikes, 4 words said alone, ambient 6 s in two 3 s files,
    # 4 noises, a room, the manifest
    assert len(hashes_a) == 4 + 4 + 4 + 2 + 4 + 1 + 1
    assert hashes_a == hashes_b
    hashes_c = file_hashes(other.out_dir)
    audio_a = {h for p, h in hashes_a.items() if p.endswith(".wav")}
    audio_c = {h for p, h in hashes_c.items() if p.endswith(".wav")}
    assert not audio_a & audio_c


def test_tiny_dataset_layout_and_counts(tiny_dataset):
    root = tiny_dataset.out_dir
    assert tiny_dataset.counts == {
        "positive": 8,
        "hard_negative": 8,
        "negative": 2,  # 15 s in 5-10 s files
        "background": 5,
        "rir": 2,
    }
    wavs = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    assert wavs == sorted(p.relative_to(root).as_posix() for p in tiny_dataset.paths)
    positives = [p for p in wavs if p.startswith("positive/")]
    assert len(positives) == 8 and all(p.count("/") == 2 for p in positives)
    assert len([p for p in wavs if p.startswith("negative/speech/ambient_")]) == 2
    kinds = sorted(p.rsplit("_", 1)[1][:-4] for p in wavs if p.startswith("background/"))
    assert kinds == ["babble", "brown", "hum", "pink", "white"]
    for path in tiny_dataset.paths:
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (RATE_HZ, 1, "PCM_16")
    assert not list(root.rglob("*.tmp"))


def test_manifest_lists_every_file_with_its_facts(tiny_dataset):
    root = tiny_dataset.out_dir
    data = manifest(root)
    assert data["phrase"] == "hey computer" and data["options"]["seed"] == 1234
    entries = data["files"]
    assert {e["path"] for e in entries} == {
        p.relative_to(root).as_posix() for p in root.rglob("*.wav")
    }
    assert len({e["seed"] for e in entries}) == len(entries)
    for e in entries:
        frames = soundfile.info(root / e["path"]).frames
        assert e["duration_s"] == pytest.approx(frames / RATE_HZ, abs=1e-4)
        assert {"path", "role", "text", "voice", "speed_wpm", "pitch", "seed"} <= e.keys()
    for e in (e for e in entries if e["role"] == "positive"):
        assert e["text"] == "hey computer"
        assert e["path"].split("/")[1] == e["voice"]
        assert 120 <= e["speed_wpm"] <= 450
        assert e["pitch"] is None if e["engine"] == "piper" else 20 <= e["pitch"] <= 80
    for e in (e for e in entries if e["role"] == "hard_negative"):
        assert phrases.normalise(e["text"]) != "hey computer" and e["voice"]
    for e in (e for e in entries if e["path"].startswith("negative/speech/")):
        assert e["segments"] and e["text"] == " ".join(s["text"] for s in e["segments"])


def test_clips_have_the_exact_length_and_end_in_quiet(tiny_dataset):
    clip_n = round(1.6 * RATE_HZ)
    for e in manifest(tiny_dataset.out_dir)["files"]:
        if e["role"] not in ("positive", "hard_negative"):
            continue
        audio, rate = soundfile.read(tiny_dataset.out_dir / e["path"])
        assert rate == RATE_HZ and audio.shape == (clip_n,)
        end = round(e["speech_end_s"] * RATE_HZ)
        assert 0.2 * RATE_HZ <= clip_n - end <= 0.4 * RATE_HZ
        if "room_rt60_s" not in e:
            speech, after = audio[end - 3200 : end], audio[end + 160 :]
            assert noise.rms(after) < noise.rms(speech) / 5


# --- text: phonetic neighbours and ambient speech ---------------------------------------


@pytest.mark.parametrize("phrase", ["hey computer", "Okay, Nabu!", "alexa", "hey jarvis"])
def test_phonetic_neighbours_are_close_but_never_the_phrase(phrase):
    out = phonetic_neighbours(phrase, 40, np.random.default_rng(0))
    target = phrases.normalise(phrase)
    assert len(out) == 40 and len(set(out)) == 40
    for text in out:
        assert text == phrases.normalise(text) and text
        assert text != target and phrases.compact(text) != phrases.compact(phrase)
        assert not phrases.contains_phrase(text, phrase)
    assert out == phonetic_neighbours(phrase, 40, np.random.default_rng(0))
    assert out != phonetic_neighbours(phrase, 40, np.random.default_rng(1))
    everything = phonetic_neighbours(phrase, 100_000, np.random.default_rng(0))
    assert 40 < len(everything) < 100_000 and len(set(everything)) == len(everything)


def test_phonetic_neighbours_of_hey_computer_cover_every_kind_of_edit():
    out = set(phonetic_neighbours("hey computer", 1000, np.random.default_rng(0)))
    expected = {
        "computer",  # word dropped
        "hey",
        "okay computer",  # call word swapped
        "hey commuter",  # consonant substituted
        "hey computers",  # suffix added
        "hey compute",  # suffix removed
        "hey come pewter",  # word split and respelled
        "hey my computer",  # word inserted
        "hey bomputer",  # near rhyme
    }
    assert expected <= out
    assert "hay computer" not in out  # a homophone of the call word


def test_phonetic_neighbours_drop_homophones_when_given_a_phonemiser():
    def phonemise(texts):
        return ["SAME" if t in ("hey computer", "hey compuder") else t for t in texts]

    out = phonetic_neighbours("hey computer", 1000, np.random.default_rng(0), phonemise=phonemise)
    assert "hey compuder" not in out and "hey commuter" in out
    assert phonetic_neighbours("hey computer", 0, np.random.default_rng(0)) == []
    with pytest.raises(ConfigError):
        phonetic_neighbours(" ?! ", 5, np.random.default_rng(0))


def test_built_in_sentences_that_contain_the_phrase_are_left_out():
    sentences = phrases.load_sentences("en")
    assert len(sentences) >= 300
    phrase = "the garden"
    assert any(phrases.contains_phrase(s, phrase) for s in sentences)
    kept = phrases.safe_sentences(sentences, phrase)
    assert kept and not any(phrases.contains_phrase(s, phrase) for s in kept)
    with pytest.raises(ConfigError):
        phrases.safe_sentences(["Hey, computer!"], "hey computer")


def test_single_words_are_short_words_of_the_text_never_the_phrase_nor_a_homophone():
    sentences = ["Stop the car at the top, please.", "Seven hungry caterpillars sat down."]
    words = phrases.single_words(sentences, "stop")
    assert words == sorted(words) and len(set(words)) == len(words)
    assert {"top", "seven", "sat", "down", "car", "the", "please"} <= set(words)
    assert "stop" not in words
    assert "caterpillars" not in words and "hungry" in words  # four syllables; two

    def phonemise(texts):
        return ["st0p" if t in ("stop", "stopp") else t for t in texts]

    assert "stopp" not in phrases.single_words(["stopp it"], "stop", phonemise=phonemise)
    assert phrases.single_words(["Hey computer"], "hey computer") == []


@needs_espeak
def test_single_words_are_said_alone_by_turns_and_change_no_other_file(tmp_path):
    text = tmp_path / "sentences.txt"
    text.write_text("Please wait here\nThe two dogs ran\nHey computer\n", encoding="utf-8")
    without = synthesize_dataset(small_options(tmp_path / "a", ambient_text=text))
    with_words = synthesize_dataset(
        small_options(tmp_path / "b", ambient_text=text, single_words=9)
    )
    words = [e for e in manifest(with_words.out_dir)["files"] if "/words/" in e["path"]]
    assert len(words) == 9 and with_words.counts["negative"] == without.counts["negative"] + 9
    # Each word once before any is said again; never the phrase's words, nor its sentence.
    assert {e["text"] for e in words} == {"please", "wait", "here", "the", "two", "dogs", "ran"}
    clip_n = round(1.6 * RATE_HZ)
    for e in words:
        assert e["role"] == "negative" and e["path"].split("/")[2] == e["voice"]
        assert soundfile.info(with_words.out_dir / e["path"]).frames == clip_n
        assert e["speech_end_s"] < 1.6  # like a wake word's clip: the word, then quiet
    # The words come from a stream of their own: every other file is the same.
    before, after = file_hashes(without.out_dir), file_hashes(with_words.out_dir)
    assert {p: h for p, h in after.items() if "/words/" not in p and p != MANIFEST_NAME} == {
        p: h for p, h in before.items() if p != MANIFEST_NAME
    }
    with pytest.raises(ConfigError, match="single-words"):
        synthesize_dataset(
            small_options(tmp_path / "c", ambient_text=_one_line(tmp_path, "Hey!"), single_words=2)
        )


def _one_line(folder: Path, line: str) -> Path:
    path = folder / "one.txt"
    path.write_text(line + "\n", encoding="utf-8")
    return path


def test_ambient_speech_never_contains_the_phrase(tiny_dataset):
    negatives = [
        e
        for e in manifest(tiny_dataset.out_dir)["files"]
        if e["path"].startswith("negative/speech/")
    ]
    assert negatives
    for e in negatives:
        assert not phrases.contains_phrase(e["text"], "hey computer")


@needs_espeak
def test_ambient_speech_never_forms_the_phrase_across_sentences(tmp_path):
    text = tmp_path / "sentences.txt"
    text.write_text("Then she said hey\nComputer games are fun\nGood morning\n", encoding="utf-8")
    options = small_options(
        tmp_path / "out",
        positives=0,
        hard_negatives=0,
        background=0,
        rirs=0,
        ambient_minutes=0.5,
        ambient_file_s=(10.0, 15.0),
        ambient_text=text,
    )
    synthesize_dataset(options)
    for e in manifest(options.out_dir)["files"]:
        assert len(e["segments"]) >= 2
        assert not phrases.contains_phrase(e["text"], "hey computer")


# --- voices ------------------------------------------------------------------------------


@needs_espeak
def test_voice_split_halves_are_disjoint_and_cover_all(tmp_path):
    binary = espeak.find_espeak()
    everyone = set(espeak.speakers(binary, "en", "all"))
    even, odd = (
        set(espeak.speakers(binary, "en", "even")),
        set(espeak.speakers(binary, "en", "odd")),
    )
    assert even and odd and not even & odd and even | odd == everyone
    assert not {s.variant for s in even} & {s.variant for s in odd}
    assert all(s.voice_file.startswith("gmw/") or "mb/" not in s.voice_file for s in everyone)

    result = synthesize_dataset(
        small_options(tmp_path, voices_split="odd", ambient_minutes=0, background=0, rirs=0)
    )
    used = {e["voice"] for e in manifest(result.out_dir)["files"]}
    assert used and used <= {s.name for s in odd}


@needs_espeak
def test_with_accents_other_languages_main_voices_read_the_phrase_in_a_quarter_of_turns():
    binary = espeak.find_espeak()
    own = espeak.speakers(binary, "en", "even")
    everyone = espeak.speakers(binary, "en", "even", accents=True)
    accented = [s for s in everyone if not s.language.startswith("en")]
    assert set(own) < set(everyone) and len(everyone) == len(own) + len(accented)
    # One main voice per accent language (roa/fr, not roa/fr-BE), none of them English.
    assert {s.voice_file for s in accented} == {f for _, f in espeak.accent_voices(binary, "en")}
    assert {s.voice_file.rsplit("/", 1)[-1].lower() for s in accented} <= set(
        espeak.ACCENT_LANGUAGES
    )
    assert 0.1 < len(accented) / len(everyone) < 0.35
    # Their timbres come from the same half, so the halves stay disjoint.
    odd = espeak.speakers(binary, "en", "odd", accents=True)
    assert {s.variant for s in accented} <= {s.variant for s in own}
    assert not {s.variant for s in everyone} & {s.variant for s in odd}
    # German's rules, not English's: "hey" is read as "hai".
    german = next(s for s in accented if s.voice_file == "gmw/de")
    assert (
        espeak.phonemes(binary, ["hey"], german.voice_file)[0]
        != espeak.phonemes(binary, ["hey"], "gmw/en-US")[0]
    )
    assert "gmw/en" in {f for _, f in espeak.accent_voices(binary, "de")}


# --- overwriting, errors, CLI --------------------------------------------------------------


@needs_espeak
def test_datasets_record_derived_voices_and_none_when_the_fraction_is_zero(tmp_path):
    options = small_options(
        tmp_path / "mixed", positives=24, background=0, rirs=0, seed=3, timbre_fraction=0.5
    )
    mixed = synthesize_dataset(options)
    plain_set = synthesize_dataset(replace(options, out_dir=tmp_path / "plain", timbre_fraction=0))

    files = json.loads(mixed.manifest_path.read_text())["files"]
    clips = [f for f in files if f["role"] in ("positive", "hard_negative")]
    derived = [f for f in clips if "timbre" in f]
    assert 0.2 < len(derived) / len(clips) < 0.8
    assert all(len(f["timbre"]["formant_scale"]) == 4 for f in derived)
    segments = [s for f in files if f["path"].startswith("negative/speech/") for s in f["segments"]]
    assert any(s["voice"].endswith("~derived") for s in segments)
    # Positives stay filed under the speaker they derive from, so the split keeps speakers apart.
    assert all(f["path"].split("/")[1] == f["voice"] for f in derived if f["role"] == "positive")

    plain_files = json.loads(plain_set.manifest_path.read_text())["files"]
    assert not any("timbre" in f for f in plain_files)
    assert not any(
        s["voice"].endswith("~derived")
        for f in plain_files
        if f["path"].startswith("negative/speech/")
        for s in f["segments"]
    )


@needs_espeak
def test_refuses_to_replace_files_unless_forced(tmp_path):
    options = small_options(tmp_path, ambient_minutes=0, background=1, rirs=0)
    own = tmp_path / "positive" / "me" / "rec_001.wav"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"my recording")
    first = synthesize_dataset(options)
    before = file_hashes(tmp_path)
    with pytest.raises(MwwError, match="--force"):
        synthesize_dataset(options)
    assert file_hashes(tmp_path) == before
    again = synthesize_dataset(replace(options, force=True))
    assert file_hashes(tmp_path) == before and again.paths == first.paths
    assert own.read_bytes() == b"my recording"


@needs_espeak
def test_progress_counts_every_file(tmp_path):
    calls = []
    result = synthesize_dataset(
        small_options(tmp_path, ambient_minutes=0), on_progress=lambda d, t: calls.append((d, t))
    )
    total = len(result.paths)
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == list(range(total + 1))


@needs_espeak
def test_a_clip_too_short_for_the_phrase_is_a_clear_error(tmp_path):
    options = small_options(
        tmp_path,
        phrase="hey computer please turn on all of the kitchen lights now",
        clip_duration_s=0.8,
        end_silence_s=(0.2, 0.3),
        hard_negatives=0,
    )
    with pytest.raises(ConfigError, match="clip-duration-s"):
        synthesize_dataset(options)


def test_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="positives"):
        SynthOptions(phrase="hey computer", out_dir=tmp_path, positives=-1)
    with pytest.raises(ConfigError, match="voices_split"):
        SynthOptions(phrase="hey computer", out_dir=tmp_path, voices_split="half")
    with pytest.raises(ConfigError, match="phrase"):
        SynthOptions(phrase="  ", out_dir=tmp_path)


def test_noise_only_dataset_needs_no_espeak(tmp_path, monkeypatch):
    monkeypatch.setattr(espeak.shutil, "which", lambda name: None)
    options = small_options(
        tmp_path, positives=0, hard_negatives=0, ambient_minutes=0, background=3, rirs=2
    )
    result = synthesize_dataset(options)
    assert result.counts["background"] == 3 and result.counts["rir"] == 2
    with pytest.raises(EspeakNotFoundError, match="apt-get install"):
        synthesize_dataset(replace(options, positives=1, force=True))
    # Nothing asked for by name and nothing found: the error says what to install.
    monkeypatch.setattr(piper_voices, "VOICE_PACKAGES", ())
    with pytest.raises(EngineNotFoundError, match=r"no speech engine is installed.*espeak-ng"):
        synthesize_dataset(replace(options, positives=1, force=True, engines=None))


@needs_espeak
def test_cli_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "ds"
    argv = [
        "--phrase",
        "hey computer",
        "--out",
        str(out),
        "--positives",
        "3",
        "--hard-negatives",
        "2",
        "--single-words",
        "2",
        "--ambient-minutes",
        "0",
        "--background",
        "1",
        "--rirs",
        "1",
        "--seed",
        "3",
        "--voices-split",
        "even",
        "--clip-duration-s",
        "1.5",
    ]
    assert synth_cli.main(argv) == 0
    data = manifest(out)
    assert data["options"]["voices_split"] == "even" and len(data["files"]) == 9
    assert soundfile.info(out / data["files"][0]["path"]).frames == 24000
    assert sum("/words/" in e["path"] for e in data["files"]) == 2
    assert "wrote 9 files" in capsys.readouterr().out
    assert synth_cli.main(argv) == 2
    assert "--force" in capsys.readouterr().err


def test_cli_says_how_to_install_espeak(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(espeak.shutil, "which", lambda name: None)
    argv = ["--phrase", "hey computer", "--out", str(tmp_path), "--engines", "espeak"]
    assert synth_cli.main(argv) == 2
    assert "apt-get install -y espeak-ng" in capsys.readouterr().err


# --- noise and rooms -----------------------------------------------------------------------


def test_noise_colours_and_room_responses():
    rng = np.random.default_rng(0)
    n = 4 * RATE_HZ
    low_share = {}
    for kind in noise.NOISE_KINDS:
        audio = noise.noise(kind, n, rng)
        assert audio.dtype == np.float32 and noise.rms(audio) == pytest.approx(1.0, rel=1e-3)
        power = np.abs(np.fft.rfft(audio)) ** 2
        low_share[kind] = power[: len(power) // 16].sum() / power.sum()
    assert low_share["white"] < low_share["pink"] < low_share["brown"]
    rir, rt60_s = noise.room_rir("synthetic", rng)
    tenth = rir.size // 10
    assert 0.2 <= rt60_s <= 0.8 and np.max(np.abs(rir)) <= 1.0
    assert noise.rms(rir[-tenth:]) < noise.rms(rir[:tenth]) / 10
    wet = noise.reverberate(np.ones(100, dtype=np.float32), rir)
    assert wet.size == 100 + rir.size - 1 - int(np.argmax(np.abs(rir)))


def test_pyroomacoustics_rooms_when_installed(tmp_path):
    pytest.importorskip("pyroomacoustics")
    rir, rt60_s = noise.room_rir("pyroomacoustics", np.random.default_rng(3))
    again, _ = noise.room_rir("pyroomacoustics", np.random.default_rng(3))
    assert rir.size > 100 and 0.2 <= rt60_s <= 0.7 and np.array_equal(rir, again)


def test_shared_audio_fixtures(tone_wav, noise_wav, silence_wav, stereo_44k_wav, bad_audio_files):
    for path in (tone_wav, noise_wav, silence_wav):
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (RATE_HZ, 1, "PCM_16")
    info = soundfile.info(stereo_44k_wav)
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "FLOAT")
    assert set(bad_audio_files) == {"empty", "mp3_as_wav", "truncated_header", "text"}
    for path in bad_audio_files.values():
        with pytest.raises(soundfile.LibsndfileError):
            soundfile.info(path)


@needs_espeak
def test_speech_fixture_is_speech(speech_wav):
    audio, rate = soundfile.read(speech_wav)
    assert rate == RATE_HZ and audio.ndim == 1 and 0.5 < audio.size / rate < 2.0
    assert np.max(np.abs(audio)) > 0.05
