"""A captured take, trimmed and judged the way the panel's recorder judges a browser take.

Trimming is the library's `trim_silence`; the bounds are the trainer's ingest `Limits`; the
flag names are the sample library's (clipped, silent, too_short, too_long) plus no_speech and
cut_off (the capture ended while the phrase was still being said: the satellite dropped off, or
its pipeline stopped listening too early).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mww_trainer import constants
from mww_trainer.data.audio import TRIM_ABOVE_FLOOR_DB, TRIM_FRAME_SAMPLES, trim_silence
from mww_trainer.data.ingest.model import Limits

SILENT_DBFS = -60.0  # peak below this: a muted microphone (the trainer's ingest uses the same)
CLIPPED_FRACTION = 0.001  # of samples at full scale
CUT_TAIL_FRAMES = 5  # the last 100 ms (20 ms frames): still speech there means the take was cut
LONG_LABELS = ("negative", "background")
PROBLEM_TEXT = {
    "silent": "nothing was heard (peak below -60 dBFS): is the satellite muted?",
    "clipped": "too loud: the sound clipped; speak further from the satellite",
    "too_short": "too short to be a word",
    "too_long": "longer than one utterance (10 s)",
    "no_speech": "no speech stands out from the background noise",
    "cut_off": "cut off: the capture ended while the phrase was still being said; re-take",
}
_LIMITS = Limits()


@dataclass(frozen=True)
class TakeCheck:
    samples: np.ndarray  # int16, 16 kHz mono, trimmed for one-utterance labels
    peak_dbfs: float
    captured_s: float
    problems: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / constants.SAMPLE_RATE_HZ

    @property
    def summary(self) -> str:
        if not self.problems:
            return f"{self.duration_s:.1f} s, peak {self.peak_dbfs:.0f} dBFS"
        return "; ".join(PROBLEM_TEXT[p] for p in self.problems)


def check_take(audio: bytes, label: str) -> TakeCheck:
    """Trim (one-utterance labels) and judge 16-bit PCM as the capture delivered it."""
    captured = np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2").astype(np.int16)
    samples = captured if label in LONG_LABELS else trim_silence(captured)
    peak = max(int(captured.max()), -int(captured.min())) if len(captured) else 0
    peak_dbfs = 20 * np.log10(max(peak, 1) / 32768)
    problems = []
    levels_db = _frame_levels_db(captured)
    if peak_dbfs < SILENT_DBFS:
        problems.append("silent")
    elif not _stands_out(levels_db):
        problems.append("no_speech")
    elif label not in LONG_LABELS and _ends_in_speech(levels_db):
        problems.append("cut_off")
    full_scale = np.count_nonzero(captured >= 32767) + np.count_nonzero(captured <= -32767)
    if len(captured) and full_scale / len(captured) > CLIPPED_FRACTION:
        problems.append("clipped")
    duration_s = len(samples) / constants.SAMPLE_RATE_HZ
    shortest = _LIMITS.min_long_s if label in LONG_LABELS else _LIMITS.min_clip_s
    if duration_s < shortest:
        problems.append("too_short")
    if label not in LONG_LABELS and duration_s > _LIMITS.max_clip_s:
        problems.append("too_long")
    return TakeCheck(
        samples=samples,
        peak_dbfs=round(float(peak_dbfs), 1),
        captured_s=len(captured) / constants.SAMPLE_RATE_HZ,
        problems=tuple(problems),
    )


def _frame_levels_db(samples: np.ndarray) -> np.ndarray:
    """The level of each 20 ms frame (trim's frames), in dB."""
    n = len(samples) // TRIM_FRAME_SAMPLES
    frames = samples[: n * TRIM_FRAME_SAMPLES].astype(np.float64).reshape(n, -1)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-3)


def _stands_out(levels_db: np.ndarray) -> bool:
    """Whether some frame is louder than the quietest tenth by trim's margin."""
    if len(levels_db) < 3:
        return False
    return bool(levels_db.max() - np.percentile(levels_db, 10) >= TRIM_ABOVE_FLOOR_DB)


def _ends_in_speech(levels_db: np.ndarray) -> bool:
    """Whether every frame of the last 100 ms is above the floor by trim's margin."""
    if len(levels_db) < 2 * CUT_TAIL_FRAMES:
        return False
    floor_db = np.percentile(levels_db, 10)
    return bool(levels_db[-CUT_TAIL_FRAMES:].min() - floor_db >= TRIM_ABOVE_FLOOR_DB)
