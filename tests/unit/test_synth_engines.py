"""mww-synth's engine families: each engine speaks, families share the speech equally, speaker
folders name their family, excluded families never speak, and a missing engine is named."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mww_trainer.cli import synth as synth_cli
from mww_trainer.synth import (
    FAMILIES,
    EngineNotFoundError,
    SynthOptions,
    espeak,
    mbrola,
    music,
    synthesize_dataset,
)
from mww_trainer.synth.cast import Cast, find_cast
from mww_trainer.synth.dataset import plan_jobs
from mww_trainer.synth.engines import PACKAGES, EngineSpeaker, Prosody, shift_tract
from mww_trainer.synth.festival import Festival
from mww_trainer.synth.flite import Flite
from mww_trainer.synth.mbrola import Mbrola
from mww_trainer.synth.pico import Pico
from mww_trainer.synth.piper_voices import PiperVoices, packaged_voice_folders
from tests.unit.test_synth import file_hashes, manifest, small_options

RATE_HZ = 16000
ENGINES = {"mbrola": Mbrola, "festival": Festival, "flite": Flite, "pico": Pico}


def find_engine(family: str):
    """The engine, or a skip that names the package that brings it."""
    try:
        return ENGINES[family].find("en")
    except EngineNotFoundError as exc:
        pytest.skip(f"{family} is not installed ({exc.detail}); install {PACKAGES[family]}")


def installed_families() -> tuple[str, ...]:
    cast = find_cast(SynthOptions(phrase="hey computer", out_dir=Path("unused")))
    return cast.families


def speech_options(out_dir: Path, **changes) -> SynthOptions:
    """Six positives by every engine found, nothing else."""
    speech = {"positives": 6, "hard_negatives": 0, "ambient_minutes": 0, "background": 0}
    return small_options(out_dir, **({"rirs": 0, "seed": 11, "engines": None} | speech | changes))


def assert_speech(audio: np.ndarray) -> None:
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.3 < audio.size / RATE_HZ < 3.0  # "hey computer", silence included
    assert np.max(np.abs(audio)) > 0.05
    frames = audio[: audio.size // 320 * 320].reshape(-1, 320)  # 20 ms each
    loud = np.sqrt(np.mean(np.square(frames), axis=1)) > 0.01
    assert loud.mean() > 0.2  # sound through a good part of it, not a click


# --- each engine on its own ----------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(ENGINES))
def test_every_voice_of_an_engine_speaks_16khz_audio(family):
    engine = find_engine(family)
    voices = engine.speakers()
    assert voices and all(v.name.startswith(f"{family}-") for v in voices)
    assert len({v.name for v in voices}) == len(voices)
    for voice in voices:
        assert_speech(engine.speak("hey computer", voice, Prosody(175, 50)))


@pytest.mark.parametrize("family", sorted(ENGINES))
def test_an_engine_follows_the_tempo(family):
    engine = find_engine(family)
    voice = engine.speakers()[0]
    slow = espeak.trim_silence(engine.speak("hey computer", voice, Prosody(120, 50)))
    fast = espeak.trim_silence(engine.speak("hey computer", voice, Prosody(300, 50)))
    assert fast.size < 0.75 * slow.size


def test_the_packaged_piper_voice_is_found_and_speaks():
    if not list(packaged_voice_folders()):
        pytest.skip(f"no packaged piper voice; install {PACKAGES['piper']}")
    pytest.importorskip("piper", reason=f"needs {PACKAGES['piper']}")
    voices = PiperVoices.find(None, "en")
    assert voices is not None
    joe = [s for s in voices.speakers if "joe" in s.name]
    assert joe and joe[0].name == "piper-en_US-joe-medium"
    assert_speech(voices.speak("hey computer", joe[0], speed_wpm=175, seed=3))
    assert PiperVoices.find(None, "de") is None  # joe speaks English only


def test_a_tract_shift_moves_pitch_and_tempo_together():
    t = np.arange(RATE_HZ) / RATE_HZ
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    shifted = shift_tract(tone, 1.1)
    assert shifted.size == pytest.approx(RATE_HZ / 1.1, abs=2)
    spectrum = np.abs(np.fft.rfft(shifted))
    peak_hz = np.fft.rfftfreq(shifted.size, 1 / RATE_HZ)[int(np.argmax(spectrum))]
    assert peak_hz == pytest.approx(220, abs=2)


# --- the mix ---------------------------------------------------------------------------------


def fake_cast() -> Cast:
    """Six families with 1 to 6 voices each: the plan needs no engine installed."""
    speakers = {
        family: tuple(EngineSpeaker(family, f"v{i}", f"v{i}") for i in range(n + 1))
        for n, family in enumerate(FAMILIES)
    }
    return Cast(speakers)


@pytest.mark.parametrize("positives", [1, 6, 23, 60])
def test_families_share_positives_and_hard_negatives_equally(tmp_path, positives):
    options = speech_options(tmp_path, positives=positives, hard_negatives=positives + 5)
    jobs = plan_jobs(options, fake_cast(), ["hey commuter"])
    for role, n in (("positive", positives), ("hard_negative", positives + 5)):
        family = Counter(j.speaker.family for j in jobs if j.role == role)
        counts = [family[f] for f in FAMILIES]
        assert sum(counts) == n and max(counts) - min(counts) <= 1
    # Within a family, positives go to its voices in turn.
    pico = Counter(j.speaker.name for j in jobs if j.role == "positive" and "pico" in j.rel_path)
    if pico:
        assert max(pico.values()) - min(pico.values()) <= 1


def test_sentences_come_from_families_in_equal_chances():
    cast = fake_cast()
    rng = np.random.default_rng(0)
    drawn = Counter(cast.pick(rng).family for _ in range(6000))
    assert all(900 < drawn[f] < 1100 for f in FAMILIES)


def test_voice_split_halves_every_engine_disjointly(tmp_path):
    found = installed_families()
    # Not asked for by name: a family with one voice (piper's joe) has none in the odd half
    # and is skipped there.
    halves = [find_cast(speech_options(tmp_path, voices_split=s)) for s in ("even", "odd", "all")]
    even, odd, everyone = ({f: set(c.speakers.get(f, ())) for f in found} for c in halves)
    for family in found:
        assert not even[family] & odd[family]
        assert even[family] | odd[family] == everyone[family]


# --- whole datasets ------------------------------------------------------------------------


def test_a_dataset_by_every_engine_found_names_folders_by_family(tmp_path):
    found = installed_families()
    n = 2 * len(found)
    options = speech_options(tmp_path, positives=n, hard_negatives=len(found), background=0)
    result = synthesize_dataset(replace(options, ambient_minutes=0.1, ambient_file_s=(6, 6)))
    data = manifest(result.out_dir)
    clips = [f for f in data["files"] if f["role"] in ("positive", "hard_negative")]
    assert Counter(f["engine"] for f in clips if f["role"] == "positive") == {f: 2 for f in found}
    for f in clips:
        folder = f["path"].split("/")[1]
        assert folder == f["voice"] and folder.split("-", 1)[0] == f["engine"]
        audio, rate = soundfile.read(result.out_dir / f["path"])
        assert rate == RATE_HZ and audio.size == round(1.6 * RATE_HZ)
        assert np.max(np.abs(audio)) > 0.01
    assert set(data["engines"]) == set(found)
    for facts in data["engines"].values():
        assert facts["voices"] >= 1 and facts["clips"] == 3
    assert result.engines == {f: 3 for f in found}
    for f in (f for f in data["files"] if f["path"].startswith("negative/speech/")):
        assert f["engines"] == sorted({s["engine"] for s in f["segments"]})


def test_excluded_engines_never_speak(tmp_path, capsys):
    found = installed_families()
    if len(found) < 3:
        pytest.skip(f"needs three engine families, found {', '.join(found)}")
    excluded = found[1:3]
    out = tmp_path / "ds"
    argv = ["--phrase", "hey computer", "--out", str(out), "--positives", "8"]
    argv += ["--hard-negatives", "4", "--ambient-minutes", "0.1", "--background", "4"]
    argv += ["--background-duration-s", "2", "--rirs", "0", "--seed", "2"]
    assert synth_cli.main([*argv, "--exclude-engines", ",".join(excluded)]) == 0
    data = manifest(out)
    spoken = {f["engine"] for f in data["files"] if f["role"] in ("positive", "hard_negative")}
    spoken |= {s["engine"] for f in data["files"] for s in f.get("segments", ())}
    spoken |= {e for f in data["files"] for e in f.get("engines", ())}
    assert spoken and not spoken & set(excluded)
    folders = {p.parent.name for p in out.glob("*/*/*.wav") if p.parts[-3] != "negative"}
    assert folders and not {d.split("-", 1)[0] for d in folders} & set(excluded)
    assert set(data["engines"]) == set(found) - set(excluded)
    assert "clips per engine: " in capsys.readouterr().out


def test_accents_add_other_languages_readers_and_only_when_asked(tmp_path):
    plain = find_cast(speech_options(tmp_path))
    if "espeak" not in plain.families:
        pytest.skip(f"needs {PACKAGES['espeak']}")
    accents = find_cast(speech_options(tmp_path, accents=True))
    for family in plain.families:
        assert set(plain.speakers[family]) <= set(accents.speakers[family]), family
    languages = {s.language for s in accents.speakers["espeak"]}
    assert {s.language for s in plain.speakers["espeak"]} == {
        lang for lang in languages if lang.startswith("en")
    }
    assert {"de", "es", "it"} <= languages
    if "mbrola" in plain.families:
        native = {s.voice for s in plain.speakers["mbrola"]}
        assert not {v for v in native if mbrola.accented(v)}
        other = {s.voice for s in accents.speakers["mbrola"]} - native
        assert all(mbrola.accented(v) and v.endswith("-en") for v in other)

    out = tmp_path / "ds"
    argv = ["--phrase", "hey computer", "--out", str(out), "--positives", "40", "--accents"]
    argv += ["--hard-negatives", "0", "--ambient-minutes", "0", "--background", "0"]
    assert synth_cli.main([*argv, "--rirs", "0", "--engines", "espeak", "--seed", "3"]) == 0
    voices = {f["voice"].split("+")[0] for f in manifest(out)["files"]}
    assert voices & {f"espeak-{lang}" for lang in ("de", "es", "fr-fr", "it", "nl", "pl", "pt")}
    assert voices & {"espeak-en-us", "espeak-en-gb", "espeak-en-gb-scotland"}
    assert manifest(out)["options"]["accents"] is True


def test_the_same_seed_gives_identical_files_for_other_engines(tmp_path):
    others = tuple(f for f in installed_families() if f in ("festival", "flite", "pico"))
    if not others:
        pytest.skip(f"needs festival, flite or pico: {PACKAGES['flite']}")
    options = speech_options(tmp_path / "a", engines=others, hard_negatives=3, timbre_fraction=1)
    first = synthesize_dataset(replace(options, workers=1))
    second = synthesize_dataset(replace(options, out_dir=tmp_path / "b", workers=3))
    assert file_hashes(first.out_dir) == file_hashes(second.out_dir)
    clips = [f for f in manifest(first.out_dir)["files"] if f["role"] == "positive"]
    assert all(0.88 <= f["tract_scale"] <= 1.15 for f in clips)  # every voice derived
    other = synthesize_dataset(replace(options, out_dir=tmp_path / "c", seed=12))
    assert not set(file_hashes(other.out_dir).values()) & {
        h for p, h in file_hashes(first.out_dir).items() if p.endswith(".wav")
    }


# --- missing engines -------------------------------------------------------------------------


def hide_program(monkeypatch, name: str) -> None:
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == name else which(cmd))


def test_an_engine_asked_for_but_missing_is_an_error_naming_its_package(tmp_path, monkeypatch):
    hide_program(monkeypatch, "flite")
    with pytest.raises(EngineNotFoundError, match=r"flite .*the Debian package flite"):
        synthesize_dataset(speech_options(tmp_path, engines=("espeak", "flite")))
    argv = ["--phrase", "hey computer", "--out", str(tmp_path / "cli"), "--engines", "flite"]
    assert synth_cli.main(argv) == 2


def test_an_engine_not_installed_is_skipped_with_a_note(tmp_path, monkeypatch, capsys):
    if shutil.which("espeak-ng") is None:
        pytest.skip(f"needs {PACKAGES['espeak']}")
    hide_program(monkeypatch, "pico2wave")
    argv = ["--phrase", "hey computer", "--out", str(tmp_path), "--positives", "2"]
    argv += ["--hard-negatives", "0", "--ambient-minutes", "0", "--background", "0"]
    argv += ["--rirs", "0", "--exclude-engines", "piper,festival"]
    assert synth_cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "pico: skipped" in err and "libttspico-utils" in err
    assert "pico" in manifest(tmp_path)["engines_skipped"][0]


# --- music under speech --------------------------------------------------------------------


@pytest.fixture
def game_music(tmp_path, monkeypatch) -> Path:
    """A stand-in for a game-music package: two Ogg Vorbis tracks of chords."""
    folder = tmp_path / "music"
    folder.mkdir()
    t = np.arange(8 * 44100) / 44100
    for name, base_hz in (("a.ogg", 220.0), ("b.ogg", 330.0)):
        chord = sum(np.sin(2 * np.pi * base_hz * k * t) for k in (1, 1.25, 1.5)) / 4
        soundfile.write(folder / name, np.stack([chord, chord], axis=1), 44100, format="OGG")
    monkeypatch.setattr(music, "PACKAGES", {"some-game-music": folder})
    return folder


def noise_only(out_dir: Path, **changes) -> SynthOptions:
    counts = {"positives": 0, "ambient_minutes": 0, "background": 6, "background_duration_s": 2.0}
    return speech_options(out_dir, **(counts | changes))


def test_music_backgrounds_come_from_installed_game_music(tmp_path, game_music):
    first = synthesize_dataset(noise_only(tmp_path / "a"))
    again = synthesize_dataset(noise_only(tmp_path / "b"))
    assert file_hashes(first.out_dir) == file_hashes(again.out_dir)
    entry = next(
        f for f in manifest(first.out_dir)["files"] if f["path"].endswith("music_0005.wav")
    )
    assert entry["kind"] == "music" and entry["track"].startswith("some-game-music/")
    audio, rate = soundfile.read(first.out_dir / entry["path"])
    assert rate == RATE_HZ and audio.size == 2 * RATE_HZ and np.max(np.abs(audio)) > 0.01
    assert manifest(first.out_dir)["music"] == ["some-game-music"]
    assert [t.name for t in music.find_tracks()] == [
        "some-game-music/a.ogg",
        "some-game-music/b.ogg",
    ]


def test_without_game_music_there_is_no_music_file_and_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(music, "PACKAGES", {"some-game-music": tmp_path / "not-installed"})
    result = synthesize_dataset(noise_only(tmp_path / "out"))
    assert not list(result.out_dir.glob("background/music_*.wav"))
    assert any(n.startswith("music: skipped") and "drascula-music" in n for n in result.notes)
