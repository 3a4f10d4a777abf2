"""How a training run's checkpoints fare on real people, step by step.

    .venv/bin/python bench/people_by_step.py /tmp/mww-quality/stop/pico-seed* \\
        [--steps 500 1000 2000 3000 5000 10000 20000 30000] [--false-accepts 0 1 2 4 8]

For each finished run of bench/quality.py with ``--real-word`` (its ``run/checkpoints`` keep a
checkpoint every evaluation): the float model of each checkpoint asked for scores the held-out
people saying the word and the held-out people talking, and this prints the recall on the
people at the lowest cutoff that keeps within each budget of false accepts in their talk, what
the checkpoint would ship (recall and false accepts at the cutoff validation chose for it), and
what validation measured for it. Then the mean over runs at each step.

It shows what validation (the held-out engine's wake words) cannot: when a model stops getting
better for people it never heard. Figures are on the float model, as training measures, not on
the quantised export.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from mww_trainer.config.loader import load_config
from mww_trainer.config.types import Config
from mww_trainer.data.feature_cache import FeatureCache
from mww_trainer.data.ingest import Split
from mww_trainer.data.training_set import DeviceSet, device_set
from mww_trainer.evaluation.scoring import outputs_for_all
from mww_trainer.evaluation.sweep import Sweep, sweep
from mww_trainer.pipeline import load_dataset
from mww_trainer.training.checkpoint import load_checkpoint
from mww_trainer.training.fit import STATE_NAME


def run_device_set(
    run: Path, name: str, preset: str, split: Split | None = None
) -> tuple[Config, DeviceSet]:
    """One of a run's configs (``NAME.yaml``: train, test, real, people) as the device hears
    it: the whole dataset, or one split of it."""
    config = load_config(preset, run / f"{name}.yaml")
    cache = FeatureCache(Path(config.paths.processed_dir) / "features")
    return config, device_set(config, load_dataset(config), cache, split)


def recall_within(result: Sweep, talk_hours: float, budget: int) -> float:
    """Recall at the lowest cutoff with at most ``budget`` false accepts in the talk."""
    counts = [(p, round(p.fa_per_hour * talk_hours)) for p in result.offerable()]
    return max((p.recall for p, n in counts if n <= budget), default=0.0)


def by_step(run: Path, steps: list[int], budgets: list[int], preset: str) -> dict[int, list]:
    """{step: [recall per budget]} for the steps whose checkpoint the run kept."""
    config, people = run_device_set(run, "people", preset)
    _, real = run_device_set(run, "real", preset)
    talk = [o for o, human in zip(real.ambient, real.ambient_human, strict=True) if human]
    # The talk as quality.py counts it (a stream may be scored in several pieces).
    talk_hours = json.loads((run / "evaluate_real.json").read_text())["real_speech_hours"]
    folder = run / "run" / "checkpoints"
    history = json.loads((folder / STATE_NAME).read_text())["history"]
    validation = {m["step"]: m for m in history}
    window = config.export.sliding_window_size
    rows = {}
    for step in steps:
        path = folder / f"checkpoint_step_{step}.weights.h5"
        if not path.is_file():
            continue
        net = load_checkpoint(config.model, path)
        result = sweep(
            outputs_for_all(net, people.positives), outputs_for_all(net, talk), window=window
        )
        rows[step] = [recall_within(result, talk_hours, b) for b in budgets]
        val = validation.get(step, {})
        # What this checkpoint would ship: validation's own cutoff, read on the held-out people.
        shipped = result.at(val["cutoff"]) if "cutoff" in val else None
        at_cutoff = (
            f"recall {shipped.recall:.3f} with {round(shipped.fa_per_hour * talk_hours)} FA"
            if shipped
            else "no cutoff"
        )
        print(
            f"  step {step:6d}: "
            + "  ".join(f"{r:.3f}" for r in rows[step])
            + f"   at validation's cutoff: {at_cutoff}"
            + f"   (validation: average viable recall {val.get('average_viable_recall', 0):.3f})",
            flush=True,
        )
    return rows


def finished_runs(folders: list[Path]) -> list[Path]:
    """The bench/quality.py run folders whose tests are done."""
    runs = [r for r in folders if (r / "evaluate_real.json").is_file()]
    if not runs:
        raise SystemExit("no finished run: a run folder holds evaluate_real.json")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench/quality.py run folders")
    parser.add_argument(
        "--steps", nargs="+", type=int, default=[500, 1000, 2000, 3000, 5000, 10000, 20000, 30000]
    )
    parser.add_argument("--false-accepts", nargs="+", type=int, default=[0, 1, 2, 4, 8])
    parser.add_argument("--config", default="standard", help="the preset the runs trained with")
    args = parser.parse_args()
    runs = finished_runs(args.runs)
    budgets = " ".join(f"FA<={b}" for b in args.false_accepts)
    print(f"recall on held-out people at {budgets} in their talk, per checkpoint")
    table: dict[int, list[list[float]]] = defaultdict(list)
    for run in runs:
        print(run.name, flush=True)
        for step, row in by_step(run, args.steps, args.false_accepts, args.config).items():
            table[step].append(row)
    print(f"mean over runs ({budgets}):")
    for step in sorted(table):
        rows = table[step]
        means = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
        cells = "  ".join(f"{m:.3f}" for m in means)
        print(f"  step {step:6d}: {cells}  ({len(rows)} runs)")


if __name__ == "__main__":
    main()
