"""mww-export: a trained checkpoint -> <name>.tflite + manifest.json, verified for the device."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mww_trainer.cli.common import (
    EXIT_OK,
    add_config_arguments,
    print_progress,
    run_command,
)
from mww_trainer.naming import slug
from mww_trainer.training.compute import quiet_tensorflow


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mww-export",
        description="Export a trained checkpoint as an ESPHome micro_wake_word model.",
    )
    parser.add_argument("--checkpoint", required=True, help="a .weights.h5 file from mww-train")
    add_config_arguments(parser)
    parser.add_argument(
        "--output", default=None, help="output folder (default: the config's paths.export_dir)"
    )
    parser.add_argument(
        "--model-name",
        default=None,
        help="file name without extension (default: from export.wake_word)",
    )
    parser.add_argument(
        "--no-quantize",
        action="store_true",
        help="write a float model for debugging (it does not run on a device)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    return run_command(lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    from mww_trainer.config import load_config
    from mww_trainer.evaluation import cutoff as cutoff_rule
    from mww_trainer.pipeline import export_checkpoint

    config = load_config(args.config, args.override)
    checkpoint = Path(args.checkpoint)
    cutoff = cutoff_rule.for_checkpoint(config.export.probability_cutoff, checkpoint)
    result = export_checkpoint(
        config,
        checkpoint,
        None if args.no_quantize else lambda: _representative(config),
        model_name=args.model_name or slug(config.export.wake_word) or "wake_word",
        cutoff=cutoff.value,
        out_dir=Path(args.output) if args.output else None,
        on_progress=print_progress,
    )
    print(f"model:    {result.tflite_path} ({result.size_bytes:,} bytes)")
    if result.manifest_path is not None:
        print(
            f"manifest: {result.manifest_path} (tensor arena {result.tensor_arena_size:,} bytes,"
            f" measured {result.measured_arena_bytes:,}; cutoff {cutoff.value}, {cutoff.source})"
        )
    else:
        print("float model written for debugging: it will not run on an ESP32 (no manifest)")
    print(f"streaming SavedModel: {result.saved_model_dir}")
    print(f"exported in {result.seconds:.1f} s")
    if cutoff.warning:
        print(f"warning: {checkpoint.name}: {cutoff.warning}", file=sys.stderr)
    return EXIT_OK


def _representative(config):
    """Calibration slices from the clips ingest accepts (never a file it would skip)."""
    from mww_trainer.data.feature_cache import FeatureCache
    from mww_trainer.device.representative import representative_from_dataset
    from mww_trainer.pipeline import load_dataset

    cache = FeatureCache(Path(config.paths.processed_dir) / "features")
    return representative_from_dataset(load_dataset(config), cache)
