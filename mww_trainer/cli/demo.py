"""mww-demo: the whole pipeline on generated speech, on the CPU, in a few minutes."""

from __future__ import annotations

import argparse
from pathlib import Path

from mww_trainer.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    print_progress,
    run_command,
)
from mww_trainer.training.compute import quiet_tensorflow


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mww-demo",
        description="Synthesise a small 'hey computer' dataset, train a tiny model, export "
        "and verify it, then stream test clips through TFLite-Micro.",
    )
    parser.add_argument("--out", default="./demo", help="folder for everything (default ./demo)")
    parser.add_argument(
        "--steps",
        type=int,
        nargs=2,
        default=[1500, 500],
        metavar=("PHASE1", "PHASE2"),
        help="training steps per phase",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    return run_command(lambda: _demo(args))


def _demo(args: argparse.Namespace) -> int:
    from mww_trainer.demo import DemoOptions, run_demo

    result = run_demo(
        DemoOptions(out_dir=Path(args.out), steps=tuple(args.steps), seed=args.seed),
        on_progress=print_progress,
    )
    print("\n".join(result.verify_lines))
    print(f"\ndataset:  {result.dataset_dir}")
    print(f"model:    {result.tflite_path}")
    print(f"manifest: {result.manifest_path}")
    for key in ("recall_at_cutoff", "ambient_false_positives_per_hour", "cutoff"):
        if key in result.metrics:
            print(f"validation {key}: {result.metrics[key]:.4g}")
    print(
        f"TFLite-Micro woke on {result.detections_on_test} of {result.test_clips} "
        "held-out test clips"
    )
    return EXIT_OK if result.compatible else EXIT_FAILED
