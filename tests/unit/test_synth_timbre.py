"""Derived voices: espeak-ng variants with moved formants, tone and breath, spoken for real."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mww_trainer.errors import ConfigError
from mww_trainer.synth import SynthOptions, espeak, timbre

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

KAUKOVALTA_LIKE = """language variant
name Oddball   # a comment
formant 0 80 80 100
formant 1 40 80 100 12
pitch 70 120
voicing 90
klatt 3
"""


def plain(**changes) -> timbre.Timbre:
    """A timbre that changes nothing, except what the test names."""
    base = timbre.Timbre(
        frequency=(1.0,) * 9,
        strength=(1.0,) * 9,
        width=(1.0,) * 9,
        pitch_hz=None,
        tone=None,
        breath=0,
        flutter=None,
        roughness=None,
        klatt=None,
    )
    return replace(base, **changes)


def lines_of(text: str, keyword: str) -> list[str]:
    return [line for line in text.splitlines() if line.split()[0] == keyword]


def test_formants_are_scaled_from_the_base_variants_own_values():
    scale = (1.0, 1.5, 0.5) + (1.0,) * 6
    text = timbre.derive_variant(KAUKOVALTA_LIKE, plain(frequency=scale), "mww_1")

    formants = {int(line.split()[1]): line.split()[2:] for line in lines_of(text, "formant")}
    assert formants[0] == ["80", "80", "100"]
    assert formants[1] == ["60", "80", "100", "12"]  # 40 % × 1.5; the extra value kept
    assert formants[2] == ["50", "100", "100"]  # not in the base: espeak's 100 % × 0.5
    assert sorted(formants) == list(range(9))
    assert lines_of(text, "name") == ["name mww_1"]
    assert text.startswith("language variant\n")
    assert "comment" not in text and "Oddball" not in text


def test_switches_replace_the_base_lines_only_when_the_timbre_sets_them():
    untouched = timbre.derive_variant(KAUKOVALTA_LIKE, plain(), "a")
    assert lines_of(untouched, "pitch") == ["pitch 70 120"]
    assert lines_of(untouched, "voicing") == ["voicing 90"]
    assert lines_of(untouched, "klatt") == ["klatt 3"]

    changed = timbre.derive_variant(
        KAUKOVALTA_LIKE,
        plain(pitch_hz=(200, 300), breath=60, klatt=5, tone=(500, 80, 1200, 90, 3000, 100)),
        "b",
    )
    assert lines_of(changed, "pitch") == ["pitch 200 300"]
    assert lines_of(changed, "klatt") == ["klatt 5"]
    assert lines_of(changed, "voicing") == ["voicing 40"]  # breathier, less voiced
    assert lines_of(changed, "breath")[0].split()[1:3] == ["60", "60"]
    assert lines_of(changed, "tone") == ["tone 500 80 1200 90 3000 100"]


def test_random_timbres_are_reproducible_varied_and_in_range():
    draws = [timbre.random_timbre(np.random.default_rng(seed)) for seed in range(300)]
    assert timbre.random_timbre(np.random.default_rng(5)) == draws[5]
    first = np.array([t.frequency[1] for t in draws])
    assert 0.4 <= first.min() < 0.55 and 1.7 < first.max() <= 2.0
    assert 0.4 < np.mean(first < 1.0) < 0.6  # log-uniform: as many go down as up
    # One tract scale moves all formants together: a child-like voice has them all high.
    tracts = np.array([np.exp(np.mean(np.log(t.frequency))) for t in draws])
    assert np.corrcoef(tracts, first)[0, 1] > 0.5
    assert any(min(t.frequency) > 1.2 for t in draws)
    assert 0.05 < np.mean([t.breath > 0 for t in draws]) < 0.2
    assert any(t.klatt for t in draws) and any(t.pitch_hz for t in draws)


def spectral_centroid_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float((spectrum * np.fft.rfftfreq(audio.size, 1 / 16000)).sum() / spectrum.sum())


@needs_espeak
def test_a_derived_voice_speaks_differently_and_the_installation_is_untouched():
    binary = espeak.find_espeak()
    speaker = espeak.speakers(binary, "en", "even")[0]
    installed = timbre.data_dir(binary) / "voices" / timbre.VARIANTS_DIR
    before = sorted(p.name for p in installed.iterdir())
    original = espeak.speak(binary, "hey computer", speaker, speed_wpm=150, pitch=50)
    bright = plain(frequency=(1.5, 1.6, 1.45, 1.3) + (1.4,) * 5)

    with timbre.voice_workshop(binary) as workshop:
        name = workshop.write(speaker.variant, bright, "mww_test")
        derived = espeak.speak(
            binary,
            "hey computer",
            speaker,
            speed_wpm=150,
            pitch=50,
            variant=name,
            data_path=workshop.path,
        )
        # The base variant is still reachable through the mirror, unchanged.
        mirrored = espeak.speak(
            binary, "hey computer", speaker, speed_wpm=150, pitch=50, data_path=workshop.path
        )
        root = workshop.path
        workshop.remove(name)
        assert not (workshop.variants / name).exists()

    assert np.array_equal(mirrored, original)
    assert derived.size > 0.5 * original.size
    assert spectral_centroid_hz(derived) > 1.2 * spectral_centroid_hz(original)
    assert not root.exists()
    assert sorted(p.name for p in installed.iterdir()) == before


@needs_espeak
def test_a_derived_variant_name_cannot_leave_the_folder(tmp_path):
    with (
        timbre.voice_workshop(espeak.find_espeak()) as workshop,
        pytest.raises(ValueError, match="letters, digits"),
    ):
        workshop.write("m3", plain(), "../../evil")


def test_timbre_fraction_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="timbre_fraction"):
        SynthOptions(phrase="hey computer", out_dir=tmp_path, timbre_fraction=1.5)


@needs_espeak
def test_threads_write_speak_and_remove_derived_voices_side_by_side():
    # espeak-ng reads the whole variant folder when it looks a voice up, so each thread
    # writes and removes its derived voices in a folder of its own.
    from concurrent.futures import ThreadPoolExecutor

    binary = espeak.find_espeak()
    speakers = espeak.speakers(binary, "en", "even")

    with timbre.voice_workshop(binary) as workshop:

        def one(i: int) -> tuple[str, int]:
            speaker = speakers[i % len(speakers)]
            rng = np.random.default_rng(i)
            name = workshop.write(speaker.variant, timbre.random_timbre(rng), f"mww_{i}")
            try:
                audio = espeak.speak(
                    binary,
                    "hey",
                    speaker,
                    speed_wpm=200,
                    pitch=50,
                    variant=name,
                    data_path=workshop.path,
                )
            finally:
                workshop.remove(name)
            return str(workshop.path), audio.size

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, range(60)))
        folders = {folder for folder, _ in results}
        assert 2 <= len(folders) <= 4
        assert all(size > 0 for _, size in results)
        assert not any(
            name.startswith("mww_")
            for f in folders
            for name in os.listdir(Path(f) / "espeak-ng-data" / "voices" / timbre.VARIANTS_DIR)
        )


@needs_espeak
def test_a_derived_voice_espeak_fails_on_is_replaced_by_the_plain_one(tmp_path, monkeypatch):
    from mww_trainer.errors import MwwError
    from mww_trainer.synth import render, synthesize_dataset

    real_speak = render.speak

    def crashes_on_derived(*args, variant=None, **kwargs):
        if variant is not None:
            raise MwwError("espeak-ng ... failed (exit -11)")
        return real_speak(*args, **kwargs)

    monkeypatch.setattr(render, "speak", crashes_on_derived)
    options = SynthOptions(
        phrase="hey computer",
        out_dir=tmp_path / "d",
        positives=6,
        hard_negatives=0,
        ambient_minutes=0,
        background=0,
        rirs=0,
        timbre_fraction=1.0,
    )
    result = synthesize_dataset(options)
    files = json.loads(result.manifest_path.read_text())["files"]
    assert len(files) == 6 and not any("timbre" in f for f in files)
    assert all(p.stat().st_size > 1000 for p in result.paths)
