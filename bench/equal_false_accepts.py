"""Recall at equal false accepts: which of several quality runs is better, whatever the cutoff?

    .venv/bin/python bench/equal_false_accepts.py /tmp/mww-quality/stop/pico-seed0-* \\
        [--false-accepts 0 1 2 4 8]

Two models whose exported cutoffs differ trade recall for false wakes at different points, so
their lines in bench/quality.py cannot be compared directly. This reads the DET curves that
mww-evaluate wrote for each run of bench/quality.py (``evaluate_real/det.json``: the held-out
engine's wake words against the held-out people talking; ``evaluate_people/det.json``: the
held-out people saying the word, with ``--real-word``), takes for each budget of false accepts
in the held-out talk the lowest cutoff that keeps within it, and prints the recall there on
real people and on the held-out engine. Prints the mean over runs whose folder names differ
only by the seed, so two seeds read as one arm.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path


def _points(det: Path) -> dict[int, dict]:
    return {p["cutoff_u8"]: p for p in json.loads(det.read_text())["points"]}


def at_budgets(run: Path, budgets: list[int]) -> list[tuple[int, float | None, float]]:
    """(cutoff_u8, recall on people or None, recall on the held-out engine) per budget."""
    real = _points(run / "evaluate_real" / "det.json")
    people_det = run / "evaluate_people" / "det.json"
    people = _points(people_det) if people_det.is_file() else {}
    hours = json.loads((run / "evaluate_real.json").read_text())["real_speech_hours"]
    rows = []
    for budget in budgets:
        # u8 0 accepts nothing at all in the stream's first step: not a usable cutoff
        usable = [
            u for u in sorted(real) if u > 0 and round(real[u]["fa_per_hour"] * hours) <= budget
        ]
        u = usable[0] if usable else 255
        point = real.get(u, {"false_reject_rate": 1.0})
        said = people.get(u)
        rows.append(
            (
                u,
                None if said is None else 1 - said["false_reject_rate"],
                1 - point["false_reject_rate"],
            )
        )
    return rows


def arm_of(run: Path) -> str:
    return re.sub(r"-seed\d+", "-seed*", run.name)


def _cell(people: float | None, engine: float) -> str:
    return f"{'-' if people is None else f'{people:.3f}':>8} ({engine:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench/quality.py run folders")
    parser.add_argument("--false-accepts", nargs="+", type=int, default=[0, 1, 2, 4, 8])
    args = parser.parse_args()
    runs = [r for r in args.runs if (r / "evaluate_real" / "det.json").is_file()]
    if not runs:
        raise SystemExit("no finished run: a run folder holds evaluate_real/det.json")
    hours = json.loads((runs[0] / "evaluate_real.json").read_text())["real_speech_hours"]
    print(
        f"recall on held-out people (and on the held-out engine) at the lowest cutoff with at "
        f"most N false accepts in {hours:.2f} h of held-out people talking"
    )
    header = "".join(f"{f'FA<={n}':>16}" for n in args.false_accepts)
    print(f"{'run':<44}{header}")
    arms: dict[str, list[list]] = defaultdict(list)
    for run in sorted(runs):
        rows = at_budgets(run, args.false_accepts)
        arms[arm_of(run)].append(rows)
        cells = "".join(_cell(p, e) for _, p, e in rows)
        print(f"{run.name:<44}{cells}")
    for arm, seeds in sorted(arms.items()):
        if len(seeds) < 2:
            continue
        cells = ""
        for i in range(len(args.false_accepts)):
            people = [s[i][1] for s in seeds if s[i][1] is not None]
            engine = sum(s[i][2] for s in seeds) / len(seeds)
            cells += _cell(sum(people) / len(people) if people else None, engine)
        print(f"{f'mean of {len(seeds)}: {arm}':<44}{cells}")


if __name__ == "__main__":
    main()
