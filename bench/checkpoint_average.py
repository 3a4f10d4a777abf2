"""Averaged checkpoints: would a run ship a better model by averaging its checkpoints' weights?

    .venv/bin/python bench/checkpoint_average.py /tmp/mww-quality/stop/pico-seed* \\
        [--around 0 1000 2000] [--false-accepts 0 1 2 4 8]

For each finished run of bench/quality.py (its ``run/checkpoints`` keep a checkpoint every
evaluation) and each span K of ``--around``: the mean of the weights of every checkpoint within
K steps of the one training chose (0: that checkpoint alone, what the run shipped), with the
cutoff chosen on the run's validation split as training chooses it, read on what the run never
heard: the held-out engine's wake words and talk, the held-out people talking and, with
``--real-word``, the held-out people saying the word (also at equal false accepts in their
talk). Then the mean over runs for each span.

Averaging nearby checkpoints is a cheap way to a flatter, steadier model; seeds of one recipe
wake for people 13-45 points apart, and the two runs that woke most in people's talk had chosen
early checkpoints. Figures are on the float model, as training measures, not on the export.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from people_by_step import (  # a sibling script: bench/ is on sys.path
    finished_runs,
    recall_within,
    run_device_set,
)

from mww_trainer.config.types import Config
from mww_trainer.data.ingest import Split
from mww_trainer.data.training_set import DeviceSet
from mww_trainer.evaluation import cutoff as cutoff_rule
from mww_trainer.evaluation.detection import cutoff_to_u8
from mww_trainer.evaluation.scoring import outputs_for_all
from mww_trainer.evaluation.sweep import count_false_accepts, summary_metrics, sweep
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.model.stream import Mode
from mww_trainer.training.checkpoint import load_checkpoint
from mww_trainer.training.fit import STATE_NAME, is_better


@dataclass
class Sets:
    """A run's validation split and held-out tests, as the device hears them."""

    config: Config
    validation: DeviceSet
    engine: DeviceSet
    talk: list[np.ndarray]  # the held-out people talking
    talk_hours: float
    people: DeviceSet | None  # the held-out people saying the word (--real-word)


def run_sets(run: Path, preset: str) -> Sets:
    config, validation = run_device_set(run, "train", preset, Split.VAL)
    _, engine = run_device_set(run, "test", preset)
    _, real = run_device_set(run, "real", preset)
    talk = [o for o, human in zip(real.ambient, real.ambient_human, strict=True) if human]
    # The talk as quality.py counts it (a stream may be scored in several pieces).
    talk_hours = json.loads((run / "evaluate_real.json").read_text())["real_speech_hours"]
    people = run_device_set(run, "people", preset)[1] if (run / "people.yaml").is_file() else None
    return Sets(config, validation, engine, talk, talk_hours, people)


def averaged(config: Config, paths: list[Path]) -> MixedNet:
    """One model holding the mean of the checkpoints' weights (moving statistics included)."""
    nets = [load_checkpoint(config.model, p) for p in paths]
    weights = [n.model(Mode.TRAINING).get_weights() for n in nets]
    mean = [np.mean(np.stack(ws), axis=0) for ws in zip(*weights, strict=True)]
    nets[0].model(Mode.TRAINING).set_weights(mean)
    return nets[0]


def measure(net: MixedNet, sets: Sets, budgets: list[int]) -> dict[str, float]:
    cfg = sets.config
    window = cfg.export.sliding_window_size
    val = sweep(
        outputs_for_all(net, sets.validation.positives),
        outputs_for_all(net, sets.validation.ambient),
        window=window,
        hard_negatives=outputs_for_all(net, sets.validation.hard_negatives),
    )
    cutoff = cutoff_rule.choose(
        None, val, cfg.training.target_minimization, cfg.training.max_hard_negative_rate
    ).value
    talk = outputs_for_all(net, sets.talk)
    engine = sweep(
        outputs_for_all(net, sets.engine.positives),
        outputs_for_all(net, sets.engine.ambient),
        window=window,
    )
    at = engine.at(cutoff)
    judged = summary_metrics(val, cutoff)
    row = {
        "cutoff": cutoff,
        # What training judges a checkpoint by (is_better), to replay "keep it if better".
        "ambient_false_positives_per_hour": judged["ambient_false_positives_per_hour"],
        "average_viable_recall": judged["average_viable_recall"],
        "engine_recall": at.recall,
        "engine_fah": at.fa_per_hour,
        "talk_fa": count_false_accepts(talk, cutoff_to_u8(cutoff), window),
    }
    if sets.people is not None:
        people = sweep(outputs_for_all(net, sets.people.positives), talk, window=window)
        row["people_recall"] = people.at(cutoff).recall
        for b in budgets:
            row[f"people<={b}"] = recall_within(people, sets.talk_hours, b)
    return row


def checkpoints_around(folder: Path, step: int, span: int) -> list[Path]:
    found = []
    for path in folder.glob("checkpoint_step_*.weights.h5"):
        n = int(path.name.removeprefix("checkpoint_step_").split(".")[0])
        if abs(n - step) <= span:
            found.append((n, path))
    return [p for _, p in sorted(found)]


def describe(row: dict[str, float], budgets: list[int]) -> str:
    text = (
        f"cutoff {row['cutoff']:.3f}: engine {row['engine_recall']:.3f} "
        f"({row['engine_fah']:.2f} FA/h), people's talk {row['talk_fa']:.1f} FA"
    )
    if "people_recall" in row:
        sweep_cells = " ".join(f"{row[f'people<={b}']:.3f}" for b in budgets)
        text += f", people {row['people_recall']:.3f}; at <= {budgets} FA: {sweep_cells}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench/quality.py run folders")
    parser.add_argument("--around", nargs="+", type=int, default=[0, 1000, 2000])
    parser.add_argument("--false-accepts", nargs="+", type=int, default=[0, 1, 2, 4, 8])
    parser.add_argument("--config", default="standard", help="the preset the runs trained with")
    args = parser.parse_args()
    runs = finished_runs(args.runs)
    table: dict[int, list[dict[str, float]]] = defaultdict(list)
    for run in runs:
        sets = run_sets(run, args.config)
        folder = run / "run" / "checkpoints"
        best = json.loads((folder / STATE_NAME).read_text())["best_step"]
        print(f"{run.name} (chose step {best})", flush=True)
        rows = {}
        for span in args.around:
            paths = checkpoints_around(folder, best, span)
            row = rows[span] = measure(averaged(sets.config, paths), sets, args.false_accepts)
            table[span].append(row)
            print(f"  +-{span:5d} ({len(paths)} checkpoints): {describe(row, args.false_accepts)}")
        for span, avg in rows.items():
            # The average where validation judges it better, else the checkpoint chosen.
            if span and 0 in rows:
                keep = is_better(avg, rows[0], sets.config.training)
                table[-span].append(avg if keep else rows[0])
    print("mean over runs (a negative span: the average only where validation prefers it):")
    for span, measured in sorted(table.items()):
        # Runs without --real-word have no people's figures: a mix of runs leaves them out.
        shared = [k for k in measured[0] if all(k in r for r in measured)]
        mean = {k: sum(r[k] for r in measured) / len(measured) for k in shared}
        print(f"  +-{span:5d}: {describe(mean, args.false_accepts)} ({len(measured)} runs)")


if __name__ == "__main__":
    main()
