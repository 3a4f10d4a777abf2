"""mww-evaluate: recall and false accepts per hour, detected exactly as the ESP32 detects."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mww_trainer.cli.common import EXIT_OK, add_config_arguments, run_command
from mww_trainer.device.manifest import MANIFEST_NAME
from mww_trainer.training.compute import quiet_tensorflow

SWEEP_ROWS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mww-evaluate",
        description="Evaluate a checkpoint or an exported .tflite on a dataset split, "
        "detecting as ESPHome does (int8 features, 3 frames per inference, "
        "sliding-window mean strictly above the cutoff, 100-slice cool-down).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a .weights.h5 file from mww-train")
    source.add_argument("--tflite", help="an exported .tflite (its manifest.json is read too)")
    add_config_arguments(parser)
    parser.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test", "all"),
        help="which part of the dataset (all: every file, for a held-out set)",
    )
    parser.add_argument(
        "--target-fah",
        type=float,
        default=None,
        help="FA/h target for the recommended cutoff (default: training.target_minimization)",
    )
    parser.add_argument(
        "--output", default=None, help="folder for det.png and det.json (default: beside the model)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--analyze", action="store_true", help="list missed wake words and each false accept"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    return run_command(lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> int:
    from mww_trainer.config import load_config
    from mww_trainer.evaluation_run import EvaluationRequest, run_evaluation

    config = load_config(args.config, args.override)
    model = Path(args.checkpoint or args.tflite)
    request = EvaluationRequest(
        model=model,
        is_tflite=bool(args.tflite),
        split=args.split,
        target_fa_per_hour=args.target_fah,
        analyze=args.analyze,
        output_dir=Path(args.output) if args.output else model.parent / "evaluation",
    )
    report = run_evaluation(config, request)
    sidecar = _write_levels(report, model, args.split) if args.tflite else None
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
        return EXIT_OK
    print(format_report(report))
    if sidecar is not None:
        print(f"sensitivity levels for the ESPHome select: {sidecar}")
    return EXIT_OK


def _write_levels(report: dict, tflite: Path, split: str) -> Path | None:
    """sensitivity.json beside the exported model's manifest, measured on held-out audio."""
    from mww_trainer.device.sensitivity import Sensitivity, write_sidecar

    beside_manifest = (tflite.parent / MANIFEST_NAME).is_file()
    if split not in ("val", "test") or "sensitivity" not in report or not beside_manifest:
        return None
    return write_sidecar(Sensitivity.from_dict(report["sensitivity"]), tflite.parent)


def format_report(report: dict) -> str:
    from mww_trainer.evaluation.verdict import judge

    at = report["at_cutoff"]
    rec = report["recommended"]
    lines = [
        f"Evaluation of {report['model']} on the {report['split']} split "
        f"({report['positives']} wake words, {report['ambient_hours']:.2f} h ambient, "
        f"{report['hard_negatives']} hard negatives)",
        f"cutoff {report['cutoff']} (window {report['sliding_window_size']}):",
        f"  recall                   {at['recall']:.4f}",
        f"  false accepts per hour   {at['fa_per_hour']:.3f}",
        f"  hard-negative triggers   {at['hard_negative_rate']:.4f}",
        f"  average viable recall    {report['average_viable_recall']:.4f}",
        "cutoff sweep:        recall   FA/h   hard-neg",
    ]
    for row in report["sweep"]:
        lines.append(
            f"  {row['cutoff']:<16} {row['recall']:8.4f} {row['fa_per_hour']:7.3f}"
            f" {row['hard_negative_rate']:8.4f}"
        )
    guard = report.get("max_hard_negative_rate", 1.0)
    sound_alikes = f" and <= {guard:.0%} of the sound-alikes" if guard < 1 else ""
    lines.append(
        f"recommended for <= {report['target_fa_per_hour']} FA/h{sound_alikes}: "
        f"probability_cutoff {rec['cutoff']}, sliding_window_size {rec['sliding_window_size']} "
        f"(recall {rec['recall']:.4f}, {rec['fa_per_hour']:.3f} FA/h, "
        f"{rec['hard_negative_rate']:.0%} of the sound-alikes)"
    )
    for key in ("missed", "false_accepts"):
        for item in report.get("analysis", {}).get(key, []):
            lines.append(f"  {key}: {item}")
    for level in report.get("sensitivity", {}).get("levels", []):
        lines.append(
            f"  {level['name']:<22} cutoff {level['cutoff']:<8} recall {level['recall']:.4f},"
            f" {level['fa_per_hour']:.3f} FA/h"
        )
    lines.append(f"DET curve: {report['det_png']} ({report['det_json']})")
    verdict = judge(report)
    lines.append(f"verdict: {verdict.headline}")
    lines += [f"  - {figure.text}" for figure in verdict.figures]
    lines += [f"  to do: {action}" for action in verdict.actions]
    return "\n".join(lines)
