"""mww-export: a trained checkpoint -> <name>.tflite + manifest.json, verified for the device."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from mww_trainer.cli.common import (
    EXIT_OK,
    add_config_arguments,
    print_progress,
    quiet_tensorflow,
    run_command,
)

OPERATING_POINT_NAME = "operating_point.json"


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


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "wake_word"


def read_operating_point(checkpoint: Path) -> dict:
    """The cutoff and window mww-train measured for this checkpoint, if it wrote one."""
    path = checkpoint.parent / OPERATING_POINT_NAME
    if not path.is_file():
        return {}
    point = json.loads(path.read_text())
    return point if point.get("checkpoint") == checkpoint.name else {}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    return run_command(lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    from mww_trainer.config import load_config
    from mww_trainer.device.export import ExportRequest, export_model
    from mww_trainer.training.checkpoint import load_checkpoint
    from mww_trainer.training.validation import FALLBACK_CUTOFF

    config = load_config(args.config, args.override)
    checkpoint = Path(args.checkpoint)
    net = load_checkpoint(config.model, checkpoint)
    point = read_operating_point(checkpoint)
    cutoff = config.export.probability_cutoff or point.get("cutoff")
    if cutoff is None:
        cutoff = FALLBACK_CUTOFF
        print(f"note: no measured cutoff beside {checkpoint.name}; using {cutoff}", file=sys.stderr)
    request = ExportRequest(
        out_dir=Path(args.output or config.paths.export_dir),
        model_name=args.model_name or slug(config.export.wake_word),
        export=config.export,
        representative=None if args.no_quantize else _representative(config),
        quantize=not args.no_quantize,
        probability_cutoff=cutoff,
    )
    result = export_model(net, request, on_progress=print_progress)
    print(f"model:    {result.tflite_path} ({result.size_bytes:,} bytes)")
    if result.manifest_path is not None:
        print(
            f"manifest: {result.manifest_path} (tensor arena {result.tensor_arena_size:,} bytes,"
            f" measured {result.measured_arena_bytes:,}; cutoff {cutoff})"
        )
    else:
        print("float model written for debugging: it will not run on an ESP32 (no manifest)")
    print(f"streaming SavedModel: {result.saved_model_dir}")
    print(f"exported in {result.seconds:.1f} s")
    return EXIT_OK


def _representative(config):
    """Calibration slices from the clips ingest accepts (never a file it would skip)."""
    from mww_trainer.device.representative import representative_from_dataset
    from mww_trainer.pipeline import load_dataset

    accepted = [clip.path for clip in load_dataset(config).select(role=None)]
    return representative_from_dataset(config.paths, accepted=accepted)
