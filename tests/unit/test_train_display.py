"""mww-train's terminal output: long stages print a line per tenth, the log keeps every event."""

from __future__ import annotations

import io

from mww_trainer.cli.train_display import TrainingDisplay
from mww_trainer.progress import ProgressEvent


def test_a_long_stage_prints_each_tenth_and_its_end_but_logs_everything(tmp_path):
    out = io.StringIO()
    display = TrainingDisplay(tmp_path / "logs", stream=out)
    for done in range(0, 1001, 5):
        display(ProgressEvent("ingest", done, 1000, f"checked {done} files"))
    display(ProgressEvent("dataset", 0, 0, "3 clips used"))
    display(ProgressEvent("validate", 500, 1000, metrics={"recall": 0.5}))
    display.close()

    lines = out.getvalue().splitlines()
    ingest = [line for line in lines if line.startswith("[ingest]")]
    assert len(ingest) == 11  # tenths 0-9, then the end
    assert ingest[-1] == "[ingest] checked 1000 files (1000/1000)"
    assert "[dataset] 3 clips used" in lines
    assert any(line.startswith("Validation Results — Step 500/1000") for line in lines)
    log = display.log_path.read_text(encoding="utf-8")
    assert log.count("[ingest]") == 201


def test_steps_print_as_progress_and_an_early_stop_as_its_own_line(tmp_path):
    out = io.StringIO()
    display = TrainingDisplay(tmp_path / "logs", stream=out)
    display(ProgressEvent("train", 500, 1000, "phase 1", {"loss": 0.1, "accuracy": 0.9}))
    display(ProgressEvent("stopped", 600, 600, "stopped early at step 600: no better"))
    display.close()

    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and not lines[0].startswith("[")
    assert "500/1000" in lines[0] and "loss=0.1000" in lines[0]
    assert lines[1] == "[stopped] stopped early at step 600: no better (600/600)"
