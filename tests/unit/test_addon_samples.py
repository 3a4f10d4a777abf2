"""Sample library rules: quality flags, names, zips, config overrides and progress summaries."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from addon.errors import UserError
from addon.jobspec import parse_overrides, synth_request, train_job, train_request
from addon.progress import Progress, ProgressTail
from addon.projects import check_project_fields
from addon.samples import open_checked_zip, prepare_clip, quality_flags
from addon.store import Project, ProjectLayout
from mww_trainer.errors import ConfigError
from mww_trainer.naming import slug

RATE = 16000


def test_quality_flags():
    tone = (0.5 * 32767 * np.sin(np.arange(RATE) / 5)).astype(np.int16)
    assert quality_flags(tone, "positive") == ()
    assert quality_flags(np.zeros(RATE, np.int16), "positive") == ("silent",)
    clipped = np.where(tone > 0, 32767, -32768).astype(np.int16)
    assert "clipped" in quality_flags(clipped, "positive")
    assert "too_short" in quality_flags(tone[: RATE // 10], "positive")
    assert "too_long" in quality_flags(np.tile(tone, 11), "hard_negative")
    assert "too_short" in quality_flags(tone, "negative")  # shorter than one training clip


def test_prepare_clip_converts_and_trims(stereo_44k_wav: Path, tmp_path: Path):
    clip = prepare_clip(stereo_44k_wav, "positive")
    assert clip.flags == ()  # converting 44.1 kHz stereo loses nothing: no warning
    assert clip.duration_s == pytest.approx(1.0, abs=0.01)
    padded = tmp_path / "padded.wav"
    import soundfile

    tone = 0.5 * np.sin(np.arange(RATE) / 5)
    soundfile.write(
        padded, np.concatenate([np.zeros(RATE), tone, np.zeros(RATE)]), RATE, subtype="PCM_16"
    )
    trimmed = prepare_clip(padded, "positive", trim=True)
    assert trimmed.duration_s == pytest.approx(1.3, abs=0.05)  # the word and 0.3 s before it
    assert prepare_clip(padded, "positive").duration_s == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("hey/computer", "'/' is not allowed"),
        ("hey computer 🤖", "is not allowed in a wake word"),
        ("", "phrase: give the wake word"),
        ("こんにちは", "slug: '' cannot name the model files"),
    ],
)
def test_bad_wake_word_names(phrase: str, message: str):
    with pytest.raises(UserError, match=message):
        check_project_fields({"phrase": phrase}, default_author=None)


def test_wake_word_fields():
    fields = check_project_fields(
        {"phrase": "  Hey   Jürgen!", "website": "https://example.com"}, default_author="Ann"
    )
    assert fields == {
        "slug": "hey_jurgen",
        "phrase": "Hey Jürgen",  # sentence punctuation has no sound: left out
        "language": "en",
        "author": "Ann",
        "website": "https://example.com",
    }
    assert slug("O'Neil's - radio") == "oneils_radio"
    with pytest.raises(UserError, match="website"):
        check_project_fields({"phrase": "hey", "website": "ftp://x"}, default_author=None)
    with pytest.raises(UserError, match="slug"):
        check_project_fields({"phrase": "hey", "slug": "Hey-You"}, default_author=None)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name", ["../evil.wav", "a/../../evil.wav", "/etc/evil.wav", "C:/evil.wav", "a\\..\\x.wav"]
)
def test_zips_with_unsafe_paths_are_refused_whole(tmp_path: Path, name: str):
    path = tmp_path / "x.zip"
    path.write_bytes(_zip({"fine.wav": b"RIFF", name: b"RIFF"}))
    with pytest.raises(UserError, match="zip refused, nothing was extracted"):
        open_checked_zip(path, 10 * 2**20)


def test_zip_bombs_are_refused(tmp_path: Path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.wav", b"\0" * (5 * 2**20))
    with pytest.raises(UserError, match="unpacks to 5 MiB"):
        open_checked_zip(path, 1 * 2**20)


def test_overrides_are_parsed_and_checked():
    assert parse_overrides("training:\n  batch_size: 64\n") == {"training": {"batch_size": 64}}
    assert parse_overrides('{"model": {"dropout_rate": 0.1}}') == {"model": {"dropout_rate": 0.1}}
    assert parse_overrides("  ") == {}
    with pytest.raises(ConfigError, match="overrides, line 1, column 16: invalid YAML"):
        parse_overrides("training: [1, 2")
    with pytest.raises(UserError, match=r"paths\.positive_dir is set by the add-on"):
        parse_overrides("paths:\n  positive_dir: /etc")
    with pytest.raises(UserError, match=r"export\.wake_word is set by the add-on"):
        parse_overrides({"export": {"wake_word": "x"}})
    with pytest.raises(UserError, match="preset"):
        train_request({"preset": "turbo"}, "standard")


def test_train_job_points_into_the_project_and_job_folders(tmp_path: Path):
    from mww_trainer.errors import ConfigError

    project = Project(1, "hey_computer", "hey computer", "en", "Ann", None, None, 0.0)
    layout = ProjectLayout(tmp_path / "projects" / "hey_computer")
    job_dir = layout.job_dir(7)
    request = train_request({"preset": "fast_test", "overrides": "training:\n  batch_size: 8"}, "x")
    spec = train_job(request, project, layout, job_dir)
    config = spec["config"]
    assert spec["model_name"] == "hey_computer"
    assert config["paths"]["positive_dir"] == str(layout.dataset / "positive")
    assert config["paths"]["rir_dir"] == str(layout.dataset / "rirs")
    assert config["paths"]["processed_dir"] == str(layout.processed)
    assert config["paths"]["checkpoint_dir"] == str(job_dir / "checkpoints")
    assert config["training"]["batch_size"] == 8
    assert config["export"]["wake_word"] == "hey computer"
    assert config["export"]["trained_languages"] == ["en"]
    bad = train_request({"overrides": "training:\n  batch_size: -3"}, "fast_test")
    with pytest.raises(ConfigError, match=r"training.batch_size: -3 is not allowed"):
        train_job(bad, project, layout, job_dir)


def test_synth_requests_are_bounded():
    assert synth_request({"positives": 30, "ambient_minutes": 2.5}) == {
        "positives": 30,
        "hard_negatives": 0,
        "single_words": 0,
        "ambient_minutes": 2.5,
        "recorded_minutes": 0.0,  # left out: none, never the library's default
        "background": 0,
        "rirs": 0,
        "seed": 0,
    }
    assert synth_request({"recorded_minutes": 1.5})["recorded_minutes"] == 1.5
    with pytest.raises(UserError, match=r"People talking \(minutes\): 601 is not allowed"):
        synth_request({"recorded_minutes": 601})
    assert synth_request({"single_words": 40})["single_words"] == 40
    with pytest.raises(UserError, match=r"Words said alone: 2\.5 is not allowed"):
        synth_request({"single_words": 2.5})
    with pytest.raises(UserError, match="Wake-word clips: -1 is not allowed"):
        synth_request({"positives": -1})
    with pytest.raises(UserError, match="nothing to generate"):
        synth_request({"positives": 0})


def test_progress_tail_reads_only_complete_lines(tmp_path: Path):
    path = tmp_path / "progress.jsonl"
    tail = ProgressTail(path)
    assert tail.read_new() == ([], 0)
    path.write_text(json.dumps({"stage": "a"}) + "\n" + '{"stage": "b", "do')
    events, offset = tail.read_new()
    assert [e["stage"] for e in events] == ["a"]
    with path.open("a") as handle:
        handle.write('ne": 1}\n')
    events, offset2 = tail.read_new()
    assert [(e["stage"], e["done"], e["total"]) for e in events] == [("b", 1, 0)]
    assert offset2 == path.stat().st_size > offset
    with path.open("a") as handle:  # the typed boundary: what is not an event is left out
        handle.write('["not", "an", "event"]\n{"stage": "train", "done": "x"}\n{"stage": "end"}\n')
    events, _ = tail.read_new()
    assert [e["stage"] for e in events] == ["end"]


def test_progress_summary_has_eta_loss_and_validation():
    events = [
        {"stage": "start", "time_s": 0.0},
        {"stage": "train", "done": 25, "total": 100, "time_s": 10.0, "metrics": {"loss": 0.5}},
        {
            "stage": "validate",
            "done": 50,
            "total": 100,
            "time_s": 20.0,
            "metrics": {"recall_at_cutoff": 0.8},
        },
        {"stage": "train", "done": 75, "total": 100, "time_s": 30.0, "metrics": {"loss": 0.25}},
    ]
    summary = Progress.from_events(events).to_dict()
    assert summary["step"] == 75 and summary["total_steps"] == 100
    assert summary["loss"] == 0.25
    assert summary["validation"] == {"recall_at_cutoff": 0.8}
    assert summary["eta_s"] == pytest.approx(10.0)  # 50 steps in 20 s, 25 to go
    restarted = Progress.from_events([*events, {"stage": "restart", "time_s": 40.0}])
    assert restarted.to_dict()["eta_s"] is None
    # An early stop ends the steps where it happened: the bar is full, nothing is left to wait.
    stop = {"stage": "stopped", "done": 80, "total": 80, "time_s": 33.0, "message": "stopped"}
    stopped = Progress.from_events([*events, stop]).to_dict()
    assert (stopped["step"], stopped["total_steps"], stopped["fraction"]) == (80, 80, 1.0)
    assert stopped["eta_s"] == 0.0 and stopped["loss"] == 0.25
