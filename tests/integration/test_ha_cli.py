"""mww-satellite list|record against the real Home Assistant and its emulated satellite."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import soundfile

from tests.fakes.wyoming_satellite import utterance

pytestmark = pytest.mark.home_assistant
COMMAND = [sys.executable, "-m", "mww_trainer.cli.satellite"]


def _env(token: str) -> dict[str, str]:
    return {**os.environ, "MWW_TRAINER_HA_TOKEN": token, "PYTHONUNBUFFERED": "1"}


def test_list_names_the_satellite_and_why_it_cannot_be_prompted(satellite_home):
    core = satellite_home.core
    result = subprocess.run(
        [*COMMAND, "list", "--url", core.url],
        env=_env(core.token),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Home Assistant 2025.4.4: 1 satellite(s)" in result.stdout
    assert satellite_home.entity_id in result.stdout
    assert "Wyoming satellites can only announce" in result.stdout


def test_a_refused_token_exits_2_with_the_reason(satellite_home):
    result = subprocess.run(
        [*COMMAND, "list", "--url", satellite_home.core.url],
        env=_env("wrong"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refused the access token" in result.stderr


def test_record_writes_the_take_into_the_dataset(satellite_home, tmp_path):
    core = satellite_home.core
    process = subprocess.Popen(
        [
            *COMMAND,
            "record",
            "--url",
            core.url,
            "--satellite",
            satellite_home.entity_id,
            "--phrase",
            "hey computer",
            "--count",
            "1",
            "--speaker",
            "Ann",
            "--out",
            str(tmp_path),
        ],
        env=_env(core.token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline()
    assert first.startswith("take 1/1 on Kitchen satellite: wake Kitchen satellite, then Say")
    satellite_home.satellite.stream(utterance(3))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    (path,) = (tmp_path / "positive" / "ann").glob("*.wav")
    assert str(path) in out
    audio, rate = soundfile.read(path, dtype="int16")
    assert rate == 16000 and 1.2 < len(audio) / rate < 1.5  # the burst, 0.3 s before it
