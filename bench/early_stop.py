"""What training.early_stop_steps would have kept and saved, read from finished training runs.

    .venv/bin/python bench/early_stop.py /tmp/mww-quality/stop/pico-seed*/run/checkpoints \\
        [--steps 4000 6000 8000 10000] [--config standard]

Every evaluation of a run is in its ``train_state.json``. For each number of steps without a
better checkpoint, this replays the run's evaluations through the trainer's own choice of the
best checkpoint (``is_better`` with the configuration's metrics and target), finds where
training would have stopped, and prints in how many runs the checkpoint export takes would be
the same, and the share of steps each run would have skipped. It reads where runs find their
best checkpoint; it does not predict a rerun step for step (two runs of one seed on a CPU
already differ at the first evaluation). Runs that did not finish their schedule (killed, or
stopped early) are left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mww_trainer.config import load_config
from mww_trainer.config.types import TrainingConfig
from mww_trainer.training.fit import STATE_NAME, is_better, stale


def replay(history: list[dict], patience: int, schedule: TrainingConfig) -> tuple[int, int]:
    """(the best checkpoint's step, the step training stops at) with ``patience``."""
    best, best_step = None, 0
    for metrics in history:
        if is_better(metrics, best, schedule):
            best, best_step = metrics, int(metrics["step"])
        if stale(int(metrics["step"]), best_step, patience):
            return best_step, int(metrics["step"])
    return best_step, int(history[-1]["step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path, help="mww-train checkpoint folders")
    parser.add_argument("--steps", nargs="+", type=int, default=[4000, 6000, 8000, 10000])
    parser.add_argument("--config", default="standard", help="the preset the runs trained with")
    args = parser.parse_args()
    schedule = load_config(args.config).training
    runs = {}
    for folder in args.checkpoints:
        state = json.loads((folder / STATE_NAME).read_text())
        if state["step"] == schedule.total_steps and state["history"]:
            runs[folder] = state
        else:
            print(f"{folder}: left out ({state['step']} of {schedule.total_steps} steps)")
    if not runs:
        raise SystemExit("no finished run to replay")
    for folder, state in runs.items():
        print(f"{folder}: best checkpoint at step {state['best_step']} of {state['step']}")
    for patience in args.steps:
        same, skipped = 0, []
        for state in runs.values():
            best_step, stop = replay(state["history"], patience, schedule)
            same += best_step == state["best_step"]
            skipped.append(1 - stop / state["step"])
        print(
            f"early_stop_steps {patience}: the same checkpoint in {same} of {len(runs)} runs; "
            f"steps skipped {sum(skipped) / len(skipped):.0%} on average "
            f"({min(skipped):.0%} to {max(skipped):.0%})"
        )


if __name__ == "__main__":
    main()
