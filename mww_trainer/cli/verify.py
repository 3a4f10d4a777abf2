"""mww-verify PATH: will ESPHome's micro_wake_word run this model (and manifest)?

Exit status: 0 compatible, 1 not compatible, 2 the input could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mww_trainer.device.tflite_model import TFLiteModel
from mww_trainer.device.verify import VerifyReport, verify_model

EXIT_COMPATIBLE = 0
EXIT_INCOMPATIBLE = 1
EXIT_UNREADABLE = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mww-verify",
        description="Check a .tflite model, or a manifest .json and the model it names,"
        " against what ESPHome's micro_wake_word runs.",
    )
    parser.add_argument("path", type=Path, help="a .tflite file or a manifest .json")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verbose", action="store_true", help="add ops and tensor details")
    args = parser.parse_args(argv)

    report = verify_model(args.path)
    if args.json:
        d = report.to_dict()
        if args.verbose and report.model is not None:
            d["subgraphs"] = model_details(report.model)
        print(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        print(format_report(report, verbose=args.verbose))
    if not report.readable:
        print(f"mww-verify: error: {report.error}", file=sys.stderr)
        return EXIT_UNREADABLE
    return EXIT_COMPATIBLE if report.compatible else EXIT_INCOMPATIBLE


def format_report(report: VerifyReport, *, verbose: bool = False) -> str:
    text = report.format(_marks())
    if not verbose or report.model is None:
        return text
    *checks, answer = text.split("\n")
    return "\n".join([*checks, "", *_verbose_lines(report.model), answer])


def model_details(model: TFLiteModel) -> list[dict[str, Any]]:
    """Every subgraph's ops and tensors, JSON-ready."""
    return [
        {
            "index": sg.index,
            "name": sg.name,
            "inputs": list(sg.inputs),
            "outputs": list(sg.outputs),
            "ops": sg.op_names,
            "tensors": [
                {
                    "index": t.index,
                    "name": t.name,
                    "shape": list(t.shape),
                    "dtype": t.dtype.lower(),
                    "constant": t.constant,
                    "scales": None if t.quantization is None else list(t.quantization.scales),
                    "zero_points": (
                        None if t.quantization is None else list(t.quantization.zero_points)
                    ),
                }
                for t in sg.tensors
            ],
        }
        for sg in model.subgraphs
    ]


def _verbose_lines(model: TFLiteModel) -> list[str]:
    lines = [f"Model: schema {model.schema_version}, {model.size_bytes:,} bytes"]
    for sg in model.subgraphs:
        lines.append(f"Subgraph {sg.index} '{sg.name}': {len(sg.operators)} ops")
        lines.append("  ops: " + " ".join(sg.op_names))
        for t in sg.tensors:
            role = "in " if t.index in sg.inputs else "out" if t.index in sg.outputs else "   "
            kind = "const" if t.constant else "     "
            lines.append(f"  {role} {kind} #{t.index:<3} {t.describe()}  {t.name}")
    return lines


def _marks() -> tuple[str, str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗–".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "[ok]", "[FAIL]", "[skip]"
    return "✓", "✗", "–"


if __name__ == "__main__":
    sys.exit(main())
