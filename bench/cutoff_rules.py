"""What each sound-alikes guard (training.max_hard_negative_rate) would have shipped, replayed on
finished quality runs.

    .venv/bin/python bench/cutoff_rules.py /tmp/mww-quality/stop/pico-seed* \\
        [--guards 1 0.25 0.2 0.15 0.1] [--config standard]

For each run of bench/quality.py (with ``--real-word``): mww-evaluate its exported .tflite on
the run's validation split (once, kept in ``evaluate_val/``), choose the cutoff on that sweep
with the product's own `sweep.recommend` for each guard, and read the held-out test curves at
that cutoff: recall on held-out people saying the word, false accepts in held-out people
talking, recall on the held-out engine and its false accepts per hour on synthetic talk.

The checkpoint does not depend on the guard: checkpoints are ranked by FA/h at the cutoff, which
meets the target with or without it, and by a recall figure that no cutoff enters. So the
replay is what training would have exported, except that training measures on the float model
and this on the quantised .tflite, which can move a cutoff by a step or two.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.evaluation.det_curve import read_det_json
from mww_trainer.evaluation.sweep import Sweep, recommend

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class AtCutoff:
    cutoff_u8: int
    people_recall: float
    people_false_accepts: int
    engine_recall: float
    engine_fa_per_hour: float


@dataclass(frozen=True)
class HeldOut:
    """A run's held-out test curves, read once."""

    people: Sweep  # the held-out people saying the word
    real: Sweep  # the held-out engine's wake words against the people talking
    synthetic: Sweep  # the held-out engine's wake words against its own talk
    talk_hours: float
    target_fa_per_hour: float

    @classmethod
    def read(cls, run: Path) -> HeldOut:
        real = json.loads((run / "evaluate_real.json").read_text())
        return cls(
            read_det_json(run / "evaluate_people" / "det.json"),
            read_det_json(run / "evaluate_real" / "det.json"),
            read_det_json(run / "evaluate_synthetic" / "det.json"),
            real["real_speech_hours"],
            real["target_fa_per_hour"],
        )

    def at(self, u8: int) -> AtCutoff:
        real = self.real.points[u8]
        return AtCutoff(
            u8,
            self.people.points[u8].recall,
            round(real.fa_per_hour * self.talk_hours),
            real.recall,
            self.synthetic.points[u8].fa_per_hour,
        )


def validation_sweep(run: Path, preset: str) -> Sweep:
    det = run / "evaluate_val" / "det.json"
    if not det.is_file():
        # A copy of the export: mww-evaluate writes its sensitivity levels beside the model.
        model = run / "evaluate_val_model"
        model.mkdir(exist_ok=True)
        for name in ("stop.tflite", "manifest.json"):
            shutil.copy2(run / "run" / "exported" / name, model / name)
        tflite = next(model.glob("*.tflite"))
        command = [str(BIN / "mww-evaluate"), "--tflite", str(tflite), "--config", preset]
        command += ["--override", str(run / "train.yaml"), "--split", "val", "--json"]
        command += ["--output", str(run / "evaluate_val")]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return read_det_json(det)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench/quality.py run folders")
    parser.add_argument("--guards", nargs="+", type=float, default=[1.0, 0.25, 0.2, 0.15, 0.1])
    parser.add_argument("--config", default="standard", help="the preset the runs trained with")
    args = parser.parse_args()
    runs = [r for r in args.runs if (r / "evaluate_people" / "det.json").is_file()]
    if not runs:
        raise SystemExit("no finished run: a run folder holds evaluate_people/det.json")
    real = json.loads((runs[0] / "evaluate_real.json").read_text())
    print(
        f"{len(runs)} runs; each test: {real['positives']} held-out engine clips, "
        f"{real['real_speech_hours']:.2f} h of held-out people talking, and the held-out "
        f"people's takes of the word (evaluate_people.json)"
    )
    table: dict[float, list[AtCutoff]] = {g: [] for g in args.guards}
    for run in runs:
        val, held_out = validation_sweep(run, args.config), HeldOut.read(run)
        cells = []
        for guard in args.guards:
            got = held_out.at(recommend(val, held_out.target_fa_per_hour, guard).cutoff_u8)
            table[guard].append(got)
            people = f"{got.people_recall:.2f}/{got.people_false_accepts:2d}"
            cells.append(f"{got.cutoff_u8:3d} {people}")
        print(f"{run.parent.parent.name}/{run.name}: " + "  ".join(cells))
    print("per guard (cutoff u8, people recall / false accepts in their talk) above; means:")
    for guard, got in table.items():
        n = len(got)
        print(
            f"max_hard_negative_rate {guard:4.2f}: people recall "
            f"{sum(g.people_recall for g in got) / n:.3f}, false accepts in people talking "
            f"{sum(g.people_false_accepts for g in got) / n:.1f} (max "
            f"{max(g.people_false_accepts for g in got)}; runs over 1: "
            f"{sum(g.people_false_accepts > 1 for g in got)} of {n}), engine recall "
            f"{sum(g.engine_recall for g in got) / n:.3f} at "
            f"{sum(g.engine_fa_per_hour for g in got) / n:.2f} FA/h on its talk"
        )


if __name__ == "__main__":
    main()
