"""A stand-in training worker: reports 50 of 200 steps of `train` (25 %), then trains until
cancelled. Give it as `worker_command=(sys.executable, str(path))` after `write_to(path)`."""

from __future__ import annotations

from pathlib import Path

PROGRESS_WORKER = """
import json, sys, time
events = [{"stage": "train", "done": step, "total": 200, "time_s": time.time()} for step in (0, 50)]
with open(sys.argv[1] + "/progress.jsonl", "a") as f:
    f.write("".join(json.dumps(e) + "\\n" for e in events))  # one write: one poll sees both
time.sleep(60)  # still training until cancelled
"""


def write_to(path: Path) -> Path:
    path.write_text(PROGRESS_WORKER)
    return path
