"""Install trusts the check the worker made at export, while the files are the ones it checked;
otherwise the model is verified again in a child process (never in the web process)."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest

from addon.esphome_jobs import trusted_verifier
from mww_trainer.fileio import sha256_file
from tests.fakes.esphome_folder import official_models_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def exported(tmp_path):
    models = official_models_dir()
    shutil.copy(models / "hey_jarvis.json", tmp_path / "manifest.json")
    shutil.copy(models / "hey_jarvis.tflite", tmp_path / "hey_jarvis.tflite")
    return tmp_path


def _job(folder, **verify):
    recorded = {
        "path": str(folder / "manifest.json"),
        "compatible": True,
        "readable": True,
        "seconds": 123.0,  # no real check takes that long: tells the recorded report apart
        "checks": [{"name": "recorded", "ok": True, "skipped": False, "detail": "by the worker"}],
        **verify,
    }
    result = {
        "tflite": str(folder / "hey_jarvis.tflite"),
        "verify": recorded,
        "sha256": {
            "tflite": sha256_file(folder / "hey_jarvis.tflite"),
            "manifest": sha256_file(folder / "manifest.json"),
        },
    }
    return SimpleNamespace(result=result)


def test_the_workers_report_is_trusted_for_the_files_it_checked(exported):
    report = trusted_verifier(_job(exported))(exported / "manifest.json")
    assert report.compatible and report.seconds == 123.0
    assert [c.name for c in report.checks] == ["recorded"]


def test_a_changed_model_is_verified_again_in_a_child_process(exported):
    job = _job(exported)
    data = bytearray((exported / "hey_jarvis.tflite").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # damaged after training
    (exported / "hey_jarvis.tflite").write_bytes(bytes(data))
    report = trusted_verifier(job)(exported / "manifest.json")
    assert report.seconds != 123.0 and "recorded" not in [c.name for c in report.checks]


def test_an_unchanged_official_model_passes_the_child_check_without_a_record(exported):
    job = SimpleNamespace(result={"verify": {"checks": []}, "compatible": True})
    report = trusted_verifier(job)(exported / "manifest.json")
    assert report.compatible, report.format()
    assert any(c.name != "recorded" for c in report.checks)
