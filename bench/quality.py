"""Quality bar: train "hey computer" on half of espeak-ng's voices, test on the other half.

    .venv/bin/python bench/quality.py --work /tmp/mww-quality [--preset standard]

1. mww-synth: a training set from the even voice variants (and voices derived from them),
   a test set from the odd ones as shipped, with at least two hours of ambient speech;
2. mww-train with the preset (paths pointed at the training set), timed, peak RSS taken;
3. mww-export, mww-verify, then mww-evaluate of the .tflite on the whole test set.
Prints recall at the chosen cutoff, false accepts per hour and the timings. Each step
is the real console command, so this is also what a user would run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(args: list[str], log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(f"{' '.join(args[:2])} failed ({proc.returncode}); see {log}")
    return seconds


def synth(
    out: Path,
    split: str,
    positives: int,
    hard: int,
    minutes: float,
    seed: int,
    log: Path,
    timbre_fraction: float,
) -> float:
    if (out / "synth_manifest.json").is_file():
        return 0.0
    return run(
        [
            str(BIN / "mww-synth"),
            "--phrase",
            "hey computer",
            "--out",
            str(out),
            "--voices-split",
            split,
            "--positives",
            str(positives),
            "--hard-negatives",
            str(hard),
            "--ambient-minutes",
            str(minutes),
            "--background",
            "10",
            "--rirs",
            "5",
            "--seed",
            str(seed),
            "--timbre-fraction",
            str(timbre_fraction),
        ],
        log,
    )


def override(work: Path, data: Path, name: str, extra: list[str] = ()) -> Path:
    text = f"""paths:
  positive_dir: {data}/positive
  negative_dir: {data}/negative
  hard_negative_dir: {data}/hard_negative
  background_dir: {data}/background
  rir_dir: {data}/rirs
  processed_dir: {work}/{name}/processed
  checkpoint_dir: {work}/{name}/checkpoints
  export_dir: {work}/{name}/exported
augmentation:
  impulse_paths: [{data}/rirs]
  background_paths: [{data}/background]
performance:
  tensorboard_log_dir: {work}/{name}/logs
export:
  wake_word: Hey Computer
  author: mww-trainer quality bench
"""
    for item in extra:  # "augmentation.PitchShift=0.5"
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        marker = f"{section}:\n"
        if marker in text:
            text = text.replace(marker, f"{marker}  {field}: {value}\n", 1)
        else:
            text += f"{section}:\n  {field}: {value}\n"
    path = work / f"{name}.override.yaml"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/mww-quality")
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--positives", type=int, default=1000)
    parser.add_argument("--ambient-minutes", type=float, default=60)
    parser.add_argument("--test-ambient-minutes", type=float, default=120)
    parser.add_argument(
        "--timbre-fraction",
        type=float,
        default=0.5,
        help="share of the training speech spoken by derived voices (mww-synth's option)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="an extra override for training, e.g. augmentation.PitchShift=0.5",
    )
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train_data, test_data = work / "train_data", work / "test_data"
    t_synth = synth(
        train_data,
        "even",
        args.positives,
        args.positives // 2,
        args.ambient_minutes,
        1,
        work / "synth_train.log",
        args.timbre_fraction,
    )
    # The test set is espeak-ng's odd variants exactly as shipped: no derived voices.
    t_synth += synth(
        test_data, "odd", 400, 200, args.test_ambient_minutes, 2, work / "synth_test.log", 0.0
    )
    train_override = override(work, train_data, "run", args.set)
    test_override = override(work, test_data, "test")
    t_train = run(
        [str(BIN / "mww-train"), "--config", args.preset, "--override", str(train_override)],
        work / "train.log",
    )
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    best = work / "run" / "checkpoints" / "best_weights.weights.h5"
    t_export = run(
        [
            str(BIN / "mww-export"),
            "--checkpoint",
            str(best),
            "--config",
            args.preset,
            "--override",
            str(train_override),
            "--model-name",
            "hey_computer",
        ],
        work / "export.log",
    )
    tflite = work / "run" / "exported" / "hey_computer.tflite"
    run([str(BIN / "mww-verify"), str(tflite.with_name("manifest.json"))], work / "verify.log")
    t_eval = run(
        [
            str(BIN / "mww-evaluate"),
            "--tflite",
            str(tflite),
            "--config",
            args.preset,
            "--override",
            str(test_override),
            "--split",
            "all",
            "--json",
        ],
        work / "evaluate.json",
    )
    report = json.loads((work / "evaluate.json").read_text())
    at = report["at_cutoff"]
    print(
        f"preset {args.preset}: train {t_train / 60:.1f} min, export {t_export:.0f} s, "
        f"evaluate {t_eval:.0f} s, synth {t_synth / 60:.1f} min, peak RSS {rss_mb:.0f} MB"
    )
    print(
        f"held-out test: {report['positives']} wake words (odd voices), "
        f"{report['ambient_hours']:.2f} h ambient, {report['hard_negatives']} hard negatives"
    )
    print(
        f"cutoff {report['cutoff']} window {report['sliding_window_size']}: "
        f"recall {at['recall']:.4f}, {at['fa_per_hour']:.3f} FA/h, "
        f"hard-negative triggers {at['hard_negative_rate']:.4f}"
    )
    rec = report["recommended"]
    print(
        f"recommended: cutoff {rec['cutoff']} window {rec['sliding_window_size']}: "
        f"recall {rec['recall']:.4f} at {rec['fa_per_hour']:.3f} FA/h"
    )


if __name__ == "__main__":
    main()
