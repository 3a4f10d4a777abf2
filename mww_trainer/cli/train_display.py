"""What mww-train shows: one progress line, a validation table per evaluation, a log file."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from mww_trainer.progress import ProgressEvent, Stage

TABLE_ROWS = (
    ("Accuracy", "accuracy"),
    ("Precision", "precision"),
    ("Recall", "recall"),
    ("F1 Score", "f1"),
    ("AUC-ROC", "auc_roc"),
    ("Recall @ cutoff", "recall_at_cutoff"),
    ("Ambient FA/Hour", "ambient_false_positives_per_hour"),
    ("Recall @ No FAPH", "recall_at_no_faph"),
    ("Avg viable recall", "average_viable_recall"),
    ("Cutoff", "cutoff"),
)


def clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_line(event: ProgressEvent, elapsed_s: float, rate_start: tuple[float, int]) -> str:
    t0, step0 = rate_start
    done_here = event.done - step0
    per_step = (time.monotonic() - t0) / done_here if done_here > 0 else 0.0
    remaining = per_step * (event.total - event.done)
    m = event.metrics
    return (
        f"{event.message.capitalize()} • {event.done}/{event.total} • {100 * event.fraction:.1f}%"
        f" • {clock(elapsed_s)} elapsed • {clock(remaining)} remaining"
        f" • loss={m.get('loss', 0):.4f} acc={m.get('accuracy', 0):.4f} lr={m.get('lr', 0):.6f}"
    )


def validation_table(event: ProgressEvent) -> str:
    rows = [(label, event.metrics[key]) for label, key in TABLE_ROWS if key in event.metrics]
    width = max(len(label) for label, _ in rows) if rows else 10
    lines = [
        f"Validation Results — Step {event.done}/{event.total}",
        "┌" + "─" * (width + 2) + "┬" + "─" * 10 + "┐",
    ]
    lines += [f"│ {label:<{width}} │ {value:>8.4f} │" for label, value in rows]
    lines.append("└" + "─" * (width + 2) + "┴" + "─" * 10 + "┘")
    return "\n".join(lines)


class TrainingDisplay:
    """A progress callback: terminal output plus `logs/terminal_<time>.log`."""

    def __init__(self, log_dir: Path, stream: TextIO = sys.stderr):
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
        self.log_path = log_dir / f"terminal_{stamp}.log"
        self.log = self.log_path.open("a", encoding="utf-8")
        self.stream = stream
        self.started = time.monotonic()
        self.rate_start: tuple[float, int] | None = None
        self.tty = stream.isatty()
        self.shown_tenth: dict[str, int] = {}  # per stage: the last tenth shown
        self._write_log("Training Log Started")

    def _write_log(self, text: str) -> None:
        self.log.write(f"{datetime.now().isoformat(timespec='seconds')} {text}\n")
        self.log.flush()

    def __call__(self, event: ProgressEvent) -> None:
        elapsed = time.monotonic() - self.started
        if event.stage == Stage.TRAIN:
            if self.rate_start is None:
                self.rate_start = (time.monotonic(), event.done)
            line = progress_line(event, elapsed, self.rate_start)
            self._write_log(line)
            if self.tty or event.done % 500 == 0:
                print(line, end="\r" if self.tty else "\n", file=self.stream, flush=True)
            return
        text = (
            validation_table(event)
            if event.stage == "validate"
            else (
                f"[{event.stage}] {event.message}"
                + (f" ({event.done}/{event.total})" if event.total > 1 else "")
            )
        )
        self._write_log(text)
        if not self._worth_showing(event):
            return
        if self.tty:
            print(" " * 120, end="\r", file=self.stream)
        print(text, file=self.stream, flush=True)

    def _worth_showing(self, event: ProgressEvent) -> bool:
        """Every event of a one-step stage; of a long one, its end and each new tenth.

        A stage that counts thousands of files would otherwise print thousands of lines; the
        log file keeps them all.
        """
        if event.total <= 1 or event.done >= event.total:
            return True
        tenth = 10 * event.done // event.total
        if self.shown_tenth.get(event.stage) == tenth:
            return False
        self.shown_tenth[event.stage] = tenth
        return True

    def close(self) -> None:
        self._write_log("Training Log Ended")
        self.log.close()
