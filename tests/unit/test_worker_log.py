"""The worker's log tells the story of a job: each stage, its end, every tenth of a long one."""

from __future__ import annotations

from mww_trainer.progress import ProgressEvent
from mww_trainer.worker import LoggedProgress


def test_the_log_has_a_line_per_stage_and_tenth_not_per_step(capsys):
    written = []
    log = LoggedProgress(written.append)
    log(ProgressEvent("start", 0, 1, "train", time_s=0))
    for step in range(1, 201):
        log(ProgressEvent("train", step, 200, "phase 1\nmore", time_s=0))
    log(ProgressEvent("export", 0, 4, "saving the streaming model", time_s=0))
    lines = capsys.readouterr().out.splitlines()
    assert len(written) == 202  # progress.jsonl keeps every event
    assert [line.split(" ", 1)[1] for line in lines] == [
        "start: train (0/1)",
        *[f"train: phase 1 ({step}/200)" for step in (1, *range(20, 201, 20))],
        "export: saving the streaming model (0/4)",
    ]
