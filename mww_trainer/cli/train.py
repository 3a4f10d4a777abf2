"""mww-train: train a wake word from the configured dataset (continues an interrupted run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mww_trainer.cli.common import EXIT_OK, add_config_arguments, run_command
from mww_trainer.training.compute import quiet_tensorflow


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mww-train",
        description="Train a MixedNet wake-word model. Run the same command again to continue "
        "an interrupted run from its last checkpoint.",
    )
    add_config_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    return run_command(lambda: _train(args))


def _train(args: argparse.Namespace) -> int:
    from mww_trainer.cli.train_display import TrainingDisplay
    from mww_trainer.config import load_config
    from mww_trainer.pipeline import train

    config = load_config(args.config, args.override)
    perf = config.performance
    display = TrainingDisplay(Path(perf.tensorboard_log_dir))
    callbacks = [display]
    if perf.tensorboard_enabled:
        from mww_trainer.training.tensorboard import TensorBoardWriter

        callbacks.append(TensorBoardWriter(Path(perf.tensorboard_log_dir)))
    try:
        outcome = train(config, seed=args.seed, on_progress=lambda e: [c(e) for c in callbacks])
    finally:
        for callback in callbacks:
            callback.close()
    if outcome.resumed_from:
        print(f"continued from step {outcome.resumed_from}")
    print(f"BEST MODEL: step {outcome.best_step} -> {outcome.best_path}")
    for key in ("recall_at_cutoff", "ambient_false_positives_per_hour", "average_viable_recall"):
        if key in outcome.metrics:
            print(f"  {key}: {outcome.metrics[key]:.4f}")
    print(f"  cutoff: {outcome.cutoff}")
    print(
        f"trained {outcome.steps} steps in {outcome.seconds / 60:.1f} min; log: {display.log_path}"
    )
    for warning in outcome.warnings:
        print(f"warning: {warning}")
    print(
        f"next: mww-export --checkpoint {outcome.best_path} --config {args.config}"
        + (f" --override {args.override}" if args.override else "")
    )
    return EXIT_OK
