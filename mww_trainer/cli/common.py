"""What every mww-* command shares: quiet TensorFlow, user errors without tracebacks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from mww_trainer.config.loader import PRESET_NAMES
from mww_trainer.errors import MwwError
from mww_trainer.progress import ProgressEvent

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default="standard",
        help=f"preset name ({', '.join(PRESET_NAMES)}) or a YAML file",
    )
    parser.add_argument("--override", default=None, help="YAML file merged over --config")


def run_command(body: Callable[[], int]) -> int:
    """Runs a command body; user errors print one line and exit 2 (1 for a failed gate)."""
    try:
        return body()
    except MwwError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def print_progress(event: ProgressEvent) -> None:
    """One line per event on stderr; a carriage return keeps step counters on one line."""
    end = "\r" if event.stage == "train" and sys.stderr.isatty() else "\n"
    pct = f" {100 * event.fraction:5.1f}%" if event.total else ""
    metrics = " ".join(
        f"{k}={v:.4g}" for k, v in event.metrics.items() if isinstance(v, int | float)
    )
    print(
        f"[{event.stage}]{pct} {event.message} {metrics}".rstrip(),
        end=end,
        file=sys.stderr,
        flush=True,
    )


def checked(cast: Callable[[str], Any], ok: Callable[[Any], bool], words: str, name: str):
    """An argparse type: ``cast`` the text, then refuse a value ``ok`` rejects, saying why."""

    def parse(text: str) -> Any:
        value = cast(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{value} is not allowed ({words})")
        return value

    parse.__name__ = name  # argparse names the type in "invalid <name> value"
    return parse


positive_int = checked(int, lambda v: v >= 1, "a positive integer", "positive_int")
non_negative = checked(float, lambda v: v >= 0, "0 or more", "non_negative")
fraction = checked(float, lambda v: 0 <= v <= 1, "between 0 and 1", "fraction")
open_fraction = checked(float, lambda v: 0 < v < 1, "between 0 and 1", "open_fraction")
