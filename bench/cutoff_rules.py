"""What each sound-alikes guard (training.max_hard_negative_rate) would have shipped, replayed on
finished quality runs.

    .venv/bin/python bench/cutoff_rules.py /tmp/mww-quality/stop/pico-seed* \\
        [--guards 1 0.25 0.2 0.15 0.1] [--config standard] [--without-talk people-klettres]

For each run of bench/quality.py: stream the run's validation split through its exported
.tflite (once, kept in ``evaluate_val/outputs.npz``), choose the cutoff on that sweep with the
product's own `sweep.recommend` for each guard, and read the held-out test curves at that
cutoff: recall on held-out people saying the word (runs with ``--real-word``; "-" without),
false accepts in held-out people talking, recall on the held-out engine and its false accepts
per hour on synthetic talk.

``--without-talk`` asks what if validation had not held some talk: files whose name contains
one of the words are left out of the validation sweep (not of training, which is done).

The checkpoint does not depend on the guard: checkpoints are ranked by FA/h at the cutoff, which
meets the target with or without it, and by a recall figure that no cutoff enters. So the
replay is what training would have exported, except that training measures on the float model
and this on the quantised .tflite, which can move a cutoff by a step or two.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mww_trainer.evaluation.det_curve import read_det_json
from mww_trainer.evaluation.sweep import Sweep, recommend, sweep


@dataclass(frozen=True)
class AtCutoff:
    cutoff_u8: int
    people_recall: float | None  # None: the run had no people saying the word (--real-word)
    people_false_accepts: int
    engine_recall: float
    engine_fa_per_hour: float


@dataclass(frozen=True)
class HeldOut:
    """A run's held-out test curves, read once."""

    people: Sweep | None  # the held-out people saying the word, if --real-word gave them
    real: Sweep  # the held-out engine's wake words against the people talking
    synthetic: Sweep  # the held-out engine's wake words against its own talk
    talk_hours: float
    target_fa_per_hour: float

    @classmethod
    def read(cls, run: Path) -> HeldOut:
        real = json.loads((run / "evaluate_real.json").read_text())
        people = run / "evaluate_people" / "det.json"
        return cls(
            read_det_json(people) if people.is_file() else None,
            read_det_json(run / "evaluate_real" / "det.json"),
            read_det_json(run / "evaluate_synthetic" / "det.json"),
            real["real_speech_hours"],
            real["target_fa_per_hour"],
        )

    def at(self, u8: int) -> AtCutoff:
        real = self.real.points[u8]
        return AtCutoff(
            u8,
            None if self.people is None else self.people.points[u8].recall,
            round(real.fa_per_hour * self.talk_hours),
            real.recall,
            self.synthetic.points[u8].fa_per_hour,
        )


@dataclass(frozen=True)
class Validation:
    """A run's validation split as its exported model scored it, one uint8 stream per file."""

    positives: list[np.ndarray]
    hard_negatives: list[np.ndarray]
    talk: list[np.ndarray]
    talk_names: list[str]
    window: int

    def sweep(self, without: Sequence[str] = ()) -> Sweep:
        talk = [
            out
            for out, name in zip(self.talk, self.talk_names, strict=True)
            if not any(word in name for word in without)
        ]
        return sweep(self.positives, talk, window=self.window, hard_negatives=self.hard_negatives)


def _pack(streams: list[np.ndarray]) -> dict[str, np.ndarray]:
    lengths = np.array([len(s) for s in streams], np.int64)
    joined = np.concatenate(streams) if streams else np.zeros(0, np.uint8)
    return {"joined": joined.astype(np.uint8), "lengths": lengths}


def _unpack(joined: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(joined, np.cumsum(lengths)[:-1]) if len(lengths) else []


def validation(run: Path, preset: str) -> Validation:
    """The validation split streamed through the run's export (kept in evaluate_val/)."""
    cached = run / "evaluate_val" / "outputs.npz"
    exported = run / "run" / "exported"
    window = json.loads((exported / "manifest.json").read_text())["micro"]["sliding_window_size"]
    if not cached.is_file():
        _score_validation(run, preset, next(exported.glob("*.tflite")), cached)
    with np.load(cached) as data:
        streams = {
            key: _unpack(data[f"{key}_joined"], data[f"{key}_lengths"])
            for key in ("positives", "hard_negatives", "talk")
        }
        names = [str(n) for n in data["talk_names"]]
    return Validation(
        streams["positives"], streams["hard_negatives"], streams["talk"], names, window
    )


def _score_validation(run: Path, preset: str, tflite: Path, dest: Path) -> None:
    from mww_trainer.config.loader import load_config
    from mww_trainer.data.feature_cache import FeatureCache
    from mww_trainer.data.ingest import Split
    from mww_trainer.data.training_set import device_set
    from mww_trainer.evaluation_run import tflite_outputs
    from mww_trainer.pipeline import load_dataset

    config = load_config(preset, run / "train.yaml")
    cache = FeatureCache(Path(config.paths.processed_dir) / "features")
    device = device_set(config, load_dataset(config), cache, Split.VAL)
    outputs = tflite_outputs(tflite.read_bytes(), device)
    arrays = {"talk_names": np.array(device.ambient_names)}
    for key, streams in (
        ("positives", outputs.positives),
        ("hard_negatives", outputs.hard_negatives),
        ("talk", outputs.ambient),
    ):
        arrays |= {f"{key}_{k}": v for k, v in _pack(streams).items()}
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.stem + ".partial.npz")
    np.savez_compressed(partial, **arrays)
    partial.replace(dest)


def _recall(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench/quality.py run folders")
    parser.add_argument("--guards", nargs="+", type=float, default=[1.0, 0.25, 0.2, 0.15, 0.1])
    parser.add_argument("--config", default="standard", help="the preset the runs trained with")
    parser.add_argument(
        "--without-talk",
        nargs="+",
        default=[],
        metavar="WORD",
        help="leave validation talk files whose name holds WORD out of the sweep, e.g. "
        "people-klettres (a what-if: training is not redone)",
    )
    args = parser.parse_args()
    runs = [r for r in args.runs if (r / "evaluate_real" / "det.json").is_file()]
    if not runs:
        raise SystemExit("no finished run: a run folder holds evaluate_real/det.json")
    real = json.loads((runs[0] / "evaluate_real.json").read_text())
    print(
        f"{len(runs)} runs; each test: {real['positives']} held-out engine clips, "
        f"{real['real_speech_hours']:.2f} h of held-out people talking, and the held-out "
        f"people's takes of the word where --real-word gave them (evaluate_people.json)"
    )
    table: dict[float, list[AtCutoff]] = {g: [] for g in args.guards}
    for run in runs:
        val = validation(run, args.config).sweep(args.without_talk)
        held_out = HeldOut.read(run)
        cells = []
        for guard in args.guards:
            got = held_out.at(recommend(val, held_out.target_fa_per_hour, guard).cutoff_u8)
            table[guard].append(got)
            cells.append(
                f"{got.cutoff_u8:3d} {_recall(got.people_recall)}/{got.engine_recall:.2f}"
                f"/{got.people_false_accepts:2d}"
            )
        print(f"{run.parent.parent.name}/{run.name}: " + "  ".join(cells))
    print(
        "per guard (cutoff u8, recall on people / on the held-out engine / false accepts in "
        "people talking) above; means:"
    )
    for guard, got in table.items():
        n = len(got)
        known = [g.people_recall for g in got if g.people_recall is not None]
        print(
            f"max_hard_negative_rate {guard:4.2f}: people recall "
            f"{_recall(sum(known) / len(known) if known else None, 3)}, false accepts in people "
            "talking "
            f"{sum(g.people_false_accepts for g in got) / n:.1f} (max "
            f"{max(g.people_false_accepts for g in got)}; runs over 1: "
            f"{sum(g.people_false_accepts > 1 for g in got)} of {n}), engine recall "
            f"{sum(g.engine_recall for g in got) / n:.3f} at "
            f"{sum(g.engine_fa_per_hour for g in got) / n:.2f} FA/h on its talk"
        )


if __name__ == "__main__":
    main()
