"""Audio made for the tests: speech from espeak-ng, tones, noise, silence and broken files.

Every fixture is session-scoped and writes into its own temporary folder, so nothing depends
on a local dataset and each file is made once per run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

# A real Home Assistant Core for the tests marked home_assistant (session fixtures).
pytest_plugins = ("tests.fakes.home_assistant",)

RATE_HZ = 16000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's tier from its folder, so `pytest -m "not integration and not e2e"` is the
    fast local tier (CI runs everything)."""
    for item in items:
        parts = Path(str(item.path)).parts
        for tier in ("integration", "e2e"):
            if tier in parts:
                item.add_marker(tier)


ESPEAK_MISSING = "espeak-ng is not installed (sudo apt-get install -y espeak-ng)"


def _write(path: Path, audio: np.ndarray, rate_hz: int = RATE_HZ, subtype: str = "PCM_16"):
    soundfile.write(path, audio, rate_hz, subtype=subtype, format="WAV")
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """espeak-ng saying "hey computer": 16 kHz mono 16-bit, about a second long."""
    if shutil.which("espeak-ng") is None:
        pytest.skip(ESPEAK_MISSING)
    from mww_trainer.synth.espeak import Speaker, find_espeak, speak

    speaker = Speaker("en-us", "gmw/en-US", "m3")
    audio = speak(find_espeak(), "hey computer", speaker, speed_wpm=160, pitch=50)
    return _write(tmp_path_factory.mktemp("speech") / "hey_computer.wav", audio)


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 kHz sine at half scale: 16 kHz mono 16-bit, 1 s."""
    t = np.arange(RATE_HZ) / RATE_HZ
    audio = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    return _write(tmp_path_factory.mktemp("tone") / "tone_1khz.wav", audio)


@pytest.fixture(scope="session")
def noise_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """White noise at about -20 dBFS RMS (seeded): 16 kHz mono 16-bit, 1 s."""
    audio = 0.1 * np.random.default_rng(0).standard_normal(RATE_HZ)
    return _write(tmp_path_factory.mktemp("noise") / "white_noise.wav", np.clip(audio, -1, 1))


@pytest.fixture(scope="session")
def silence_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Digital silence: 16 kHz mono 16-bit, 1 s."""
    return _write(tmp_path_factory.mktemp("silence") / "silence.wav", np.zeros(RATE_HZ))


@pytest.fixture(scope="session")
def stereo_44k_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stereo 44.1 kHz 32-bit float, 1 s: 440 Hz on the left, 880 Hz on the right."""
    rate_hz = 44100
    t = np.arange(rate_hz) / rate_hz
    audio = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 880 * t)], 1)
    path = tmp_path_factory.mktemp("stereo") / "stereo_44k_float.wav"
    return _write(path, audio.astype(np.float32), rate_hz=rate_hz, subtype="FLOAT")


@pytest.fixture(scope="session")
def bad_audio_files(tmp_path_factory: pytest.TempPathFactory, tone_wav: Path) -> dict[str, Path]:
    """Files named .wav that are not usable audio.

    ``empty``: zero bytes; ``mp3_as_wav``: an ID3 header and random bytes;
    ``truncated_header``: the first 20 bytes of a real WAV; ``text``: plain text.
    """
    folder = tmp_path_factory.mktemp("bad_audio")
    files = {
        "empty": b"",
        "mp3_as_wav": b"ID3\x04\x00\x00\x00\x00\x00\x21" + np.random.default_rng(1).bytes(2048),
        "truncated_header": tone_wav.read_bytes()[:20],
        "text": b"This is not audio, just a line of text.\n",
    }
    out = {}
    for name, data in files.items():
        out[name] = folder / f"{name}.wav"
        out[name].write_bytes(data)
    return out


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory):
    """A small synthetic dataset ("hey computer", seed 1234), made once per test session.

    Returns the ``SynthResult``; its ``out_dir`` holds the user guide's layout.
    """
    if shutil.which("espeak-ng") is None:
        pytest.skip(ESPEAK_MISSING)
    from mww_trainer.synth import SynthOptions, synthesize_dataset

    options = SynthOptions(
        phrase="hey computer",
        out_dir=tmp_path_factory.mktemp("tiny") / "dataset",
        positives=8,
        hard_negatives=8,
        ambient_minutes=0.25,
        recorded_minutes=0,  # synthetic only, whatever this machine has installed
        ambient_file_s=(5.0, 10.0),
        background=5,
        background_duration_s=3.0,
        rirs=2,
        seed=1234,
    )
    return synthesize_dataset(options)
