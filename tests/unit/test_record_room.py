"""mww-record-room: chunked room recordings from a file, a stand-in arecord, or nothing at all.

The command runs as a real subprocess (signals, exit codes, PATH lookups are part of it); its
chunks are read back and compared sample for sample with what it was fed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from mww_trainer.data.ingest import Role, ingest
from tests.fakes.dataset_paths import paths_for

RATE = 16000
COMMAND = [sys.executable, "-m", "mww_trainer.cli.record_room"]
ROOT = Path(__file__).resolve().parents[2]


def talk(path: Path, duration_s: float, *, rate_hz: int = RATE, channels: int = 1) -> np.ndarray:
    """Noise shaped like talk (bursts and pauses), written as 16-bit; returns what was written."""
    rng = np.random.default_rng(7)
    n = round(duration_s * rate_hz)
    envelope = 0.05 + 0.3 * (np.sin(np.arange(n) * 2 * np.pi * 3 / rate_hz) > 0)
    audio = (rng.uniform(-1, 1, (n, channels)) * envelope[:, None]).astype(np.float32)
    sf.write(path, audio, rate_hz, subtype="PCM_16")
    return sf.read(path, dtype="int16", always_2d=True)[0][:, 0]


def record(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def chunks(folder: Path) -> list[np.ndarray]:
    """The chunk files in order, checked to be 16 kHz mono 16-bit WAV."""
    out = []
    for path in sorted(folder.glob("room_*.wav")):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16"), info
        out.append(sf.read(path, dtype="int16")[0])
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("room_"))


def test_a_file_is_cut_into_chunks_of_the_asked_length(tmp_path):
    fed = talk(tmp_path / "talk.wav", 5.3)
    out = tmp_path / "dataset" / "negative" / "room"
    done = record(
        "--out", str(out), "--input", str(tmp_path / "talk.wav"), "--no-realtime", "--chunk-s", "2"
    )
    assert done.returncode == 0, done.stderr
    got = chunks(out)
    assert [len(c) for c in got] == [2 * RATE, 2 * RATE, round(1.3 * RATE)]
    np.testing.assert_array_equal(np.concatenate(got), fed)  # nothing lost between chunks
    assert leftovers(out) == []  # no temporary files
    assert "3 files" in done.stderr


def test_minutes_stops_the_recording_and_other_rates_are_converted(tmp_path):
    talk(tmp_path / "talk.flac", 10.0, rate_hz=44100, channels=2)
    out = tmp_path / "room"
    done = record(
        "--out",
        str(out),
        "--input",
        str(tmp_path / "talk.flac"),
        "--no-realtime",
        "--chunk-s",
        "2",
        "--minutes",
        "0.05",
    )
    assert done.returncode == 0, done.stderr
    assert [len(c) for c in chunks(out)] == [2 * RATE, 1 * RATE]


def test_ctrl_c_keeps_every_finished_chunk_and_the_unfinished_one(tmp_path):
    fed = talk(tmp_path / "talk.wav", 30.0)
    out = tmp_path / "room"
    process = subprocess.Popen(
        [*COMMAND, "--out", str(out), "--input", str(tmp_path / "talk.wav"), "--chunk-s", "1"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(list(out.glob("room_*.wav"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # half-way into the third chunk
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    got = chunks(out)
    assert len(got) >= 3 and all(len(c) == RATE for c in got[:-1]), [len(c) for c in got]
    assert 0.3 * RATE <= len(got[-1]) < RATE  # the unfinished chunk, kept
    recorded = np.concatenate(got)
    assert len(recorded) < len(fed) / 2  # it stopped when asked, not at the end of the file
    np.testing.assert_array_equal(recorded, fed[: len(recorded)])
    assert leftovers(out) == []
    assert "stopping" in stderr


def test_the_microphone_is_read_through_arecord(tmp_path):
    """A stand-in arecord prints raw PCM the way the real one does, and notes its arguments."""
    fed = (np.arange(int(3.5 * RATE)) % 2000 - 1000).astype("<i2")
    (tmp_path / "pcm.raw").write_bytes(fed.tobytes())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "arecord"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\nexec cat {tmp_path}/pcm.raw\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = tmp_path / "room"
    done = record("--out", str(out), "--device", "hw:1,0", "--chunk-s", "2", env=env)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.concatenate(chunks(out)), fed)
    assert (tmp_path / "args").read_text().split() == [
        "-q",
        "-t",
        "raw",
        "-f",
        "S16_LE",
        "-r",
        "16000",
        "-c",
        "1",
        "-D",
        "hw:1,0",
    ]


def test_arecord_failing_says_what_it_said(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "arecord"
    fake.write_text(
        "#!/bin/sh\necho 'arecord: main:831: audio open error: No such device' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = record("--out", str(tmp_path / "room"), env=env)
    assert done.returncode == 2
    assert "audio open error: No such device" in done.stderr and "arecord -L" in done.stderr


def test_without_a_recorder_the_error_names_the_package(tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = record("--out", str(tmp_path / "room"), env={**os.environ, "PATH": str(empty)})
    assert done.returncode == 2
    assert "alsa-utils" in done.stderr and "--input" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_folder_named_like_a_speech_engine_is_refused(tmp_path):
    talk(tmp_path / "talk.wav", 1.0)
    done = record("--out", str(tmp_path / "piper-kitchen"), "--input", str(tmp_path / "talk.wav"))
    assert done.returncode == 2 and "piper" in done.stderr
    assert not (tmp_path / "piper-kitchen").exists()


def test_recorded_chunks_train_as_people_talking(tmp_path):
    talk(tmp_path / "talk.wav", 7.0)
    dataset = tmp_path / "dataset"
    (dataset / "positive").mkdir(parents=True)
    out = dataset / "negative" / "room"
    done = record(
        "--out", str(out), "--input", str(tmp_path / "talk.wav"), "--no-realtime", "--chunk-s", "3"
    )
    assert done.returncode == 0, done.stderr
    found = ingest(paths_for(dataset), split_file=tmp_path / "processed" / "split.json")
    negatives = [c for c in found.clips if c.role == Role.NEGATIVE]
    assert len(negatives) == 3 and found.problems == ()
    assert {c.origin for c in negatives} == {"human"}
    assert {c.speaker for c in negatives} == {"room"}
