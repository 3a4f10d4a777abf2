"""The DET curve (false-reject rate vs false accepts per hour) as JSON and as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from mww_trainer.evaluation.sweep import OperatingPoint, Sweep
from mww_trainer.fileio import atomic_write_bytes, atomic_write_text


def det_points(result: Sweep) -> list[dict[str, float]]:
    return [
        {
            "cutoff": p.cutoff,
            "cutoff_u8": p.cutoff_u8,
            "false_reject_rate": 1 - p.recall,
            "fa_per_hour": p.fa_per_hour,
            "hard_negative_rate": p.hard_negative_rate,
        }
        for p in result.points
    ]


def write_det_json(result: Sweep, path: Path) -> Path:
    data = {"sliding_window_size": result.window, "points": det_points(result)}
    return atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def read_det_json(path: Path) -> Sweep:
    """The sweep a det.json holds (what write_det_json wrote), for benches that replay it."""
    data = json.loads(Path(path).read_text())
    points = sorted(data["points"], key=lambda p: p["cutoff_u8"])
    return Sweep(
        data["sliding_window_size"],
        tuple(
            OperatingPoint(
                p["cutoff_u8"],
                1 - p["false_reject_rate"],
                p["fa_per_hour"],
                p["hard_negative_rate"],
            )
            for p in points
        ),
    )


def write_det_png(
    result: Sweep, path: Path, *, chosen: OperatingPoint | None = None, title: str = "DET curve"
) -> Path:
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a PNG
    from matplotlib import pyplot as plt

    points = [p for p in result.points if p.cutoff_u8 > 0]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.plot(
        [p.fa_per_hour for p in points],
        [1 - p.recall for p in points],
        marker=".",
        markersize=3,
        linewidth=1,
    )
    if chosen is not None:
        ax.plot(
            [chosen.fa_per_hour],
            [1 - chosen.recall],
            "o",
            color="red",
            label=f"cutoff {chosen.cutoff:.3f}",
        )
        ax.legend()
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("false accepts per hour (ambient audio)")
    ax.set_ylabel("false-reject rate (missed wake words)")
    ax.set_title(f"{title} (window {result.window})")
    ax.grid(True, which="both", alpha=0.3)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
