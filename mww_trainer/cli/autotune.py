"""mww-autotune --checkpoint C: fine-tune a trained model until its FA/h and recall targets hold.

mww-autotune --checkpoint checkpoints/best_weights.weights.h5 --config standard
mww-autotune --checkpoint C --target-fah 0.2 --target-recall 0.95 --output-dir tuning
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mww_trainer.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_config_arguments,
    fraction,
    non_negative,
    positive_int,
    print_progress,
    run_command,
)
from mww_trainer.errors import MwwError
from mww_trainer.training.compute import quiet_tensorflow


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-autotune",
        description="Fine-tune a trained checkpoint in short rounds (hard negatives mined from "
        "its false accepts, class weights and learning rate adjusted, cutoff re-chosen) until "
        "FA/h and recall meet the targets on the validation split, or patience runs out. "
        "Run it again with the same --output-dir to continue.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .weights.h5 file")
    add_config_arguments(parser)
    parser.add_argument("--target-fah", type=non_negative, default=0.3, metavar="F")
    parser.add_argument("--target-recall", type=fraction, default=0.92, metavar="R")
    parser.add_argument("--max-iterations", type=positive_int, default=100, metavar="N")
    parser.add_argument("--patience", type=positive_int, default=10, metavar="N")
    parser.add_argument(
        "--steps-per-iteration",
        type=positive_int,
        default=None,
        metavar="N",
        help="training steps per round (default: training.eval_step_interval)",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("tuning"), metavar="D")
    parser.add_argument("--dry-run", action="store_true", help="check the inputs; train nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every progress line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from mww_trainer.config import load_config
    from mww_trainer.tuning.autotune import TuneRequest, TuningTarget, autotune

    config = load_config(args.config, args.override)
    if not args.checkpoint.is_file():
        raise MwwError(f"{args.checkpoint}: checkpoint not found (a .weights.h5 from mww-train)")
    target = TuningTarget(args.target_fah, args.target_recall, args.max_iterations, args.patience)
    if args.dry_run:
        quiet_tensorflow()
        from mww_trainer.training.checkpoint import load_checkpoint

        load_checkpoint(config.model, args.checkpoint)
        print(
            f"dry run: {args.checkpoint} loads into the configured model; would tune towards "
            f"FA/h <= {target.max_fah} and recall >= {target.min_recall} in at most "
            f"{target.max_iterations} iterations (patience {target.patience}) into "
            f"{args.output_dir}"
        )
        return EXIT_OK
    quiet_tensorflow()

    def progress(event) -> None:
        if args.verbose or event.stage == "tune":
            print_progress(event)

    request = TuneRequest(
        checkpoint=args.checkpoint,
        output_dir=args.output_dir,
        target=target,
        steps_per_iteration=args.steps_per_iteration,
        on_progress=progress,
    )
    result = autotune(config, request)
    before, after = result.before, result.after
    print(
        f"before: FA/h {before.fa_per_hour:.2f}, recall {before.recall:.3f} at cutoff "
        f"{before.cutoff:.3f}\nafter {result.iterations} iteration(s): FA/h "
        f"{after.fa_per_hour:.2f}, recall {after.recall:.3f} at cutoff {after.cutoff:.3f} "
        f"(FA/h at the old cutoff {before.start_cutoff:.3f}: {before.fa_per_hour_at_start:.2f}"
        f" -> {after.fa_per_hour_at_start:.2f})\nstopped: {result.reason}\n"
        f"export it with: mww-export --checkpoint {result.best_path} --config {args.config}"
        + (f" --override {args.override}" if args.override else "")
    )
    if not result.met:
        print("the targets were not met; the best tuned checkpoint is kept", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
