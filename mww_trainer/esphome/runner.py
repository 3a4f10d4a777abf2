"""Running the real `esphome` command line: streamed, cancellable, secrets masked.

Each run is its own process group, so cancelling stops ESPHome and everything it started
(PlatformIO, the compiler). Output lines are split on \\r as well as \\n (ESPHome's upload
progress bar redraws with \\r), stripped of colour codes and passed through the redactor
before anyone sees them.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mww_trainer.esphome import yamlio
from mww_trainer.esphome.errors import EsphomeBridgeError

ESPHOME_COMMAND: tuple[str, ...] = (sys.executable, "-m", "esphome")
CONFIG_TIMEOUT_S = 120.0
TERMINATE_GRACE_S = 5.0
MAX_KEPT_LINES = 2000  # the tail kept in a result; every line still reaches on_line
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\\033\[\d+m")
_BREAK = re.compile(rb"\r\n|\r|\n")

LineCallback = Callable[[str], None]
Redact = Callable[[str], str]


@dataclass(frozen=True)
class CommandResult:
    args: tuple[str, ...]
    returncode: int | None  # None when we stopped it
    lines: tuple[str, ...]  # cleaned output (stdout and stderr together), the last MAX_KEPT_LINES
    cancelled: bool = False
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not (self.cancelled or self.timed_out)


@dataclass(frozen=True)
class ConfigCheck:
    """The outcome of `esphome config FILE`."""

    ok: bool
    errors: tuple[str, ...]  # ESPHome's relevant lines when not ok
    model_ids: tuple[str, ...] | None  # micro_wake_word model ids in ESPHome's final order
    seconds: float


def clean_line(raw: str, redact: Redact | None = None) -> str:
    line = _ANSI.sub("", raw).rstrip()
    return redact(line) if redact is not None else line


def run_streaming(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    cancel_event: threading.Event | None = None,
    timeout_s: float | None = None,
    redact: Redact | None = None,
) -> CommandResult:
    """Run `args`, handing each cleaned output line to `on_line` as it arrives."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as err:
        raise EsphomeBridgeError(f"cannot run {args[0]} ({err.strerror or err})") from err
    lines: list[str] = []
    stopped = _pump(proc, lines, on_line, cancel_event, timeout_s, started, redact)
    return CommandResult(
        args=tuple(args),
        returncode=None if stopped else proc.returncode,
        lines=tuple(lines[-MAX_KEPT_LINES:]),
        cancelled=stopped == "cancelled",
        timed_out=stopped == "timeout",
        seconds=time.monotonic() - started,
    )


def _pump(proc, lines, on_line, cancel_event, timeout_s, started, redact) -> str | None:
    """Forward output until the process ends; returns why we stopped it, if we did."""
    pending: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, pending), daemon=True)
    reader.start()
    try:
        while True:
            try:
                raw = pending.get(timeout=0.1)
            except queue.Empty:
                raw = b""
            if raw is None:
                break
            if raw:
                line = clean_line(raw.decode("utf-8", "replace"), redact)
                if line:
                    lines.append(line)
                    if on_line is not None:
                        on_line(line)
            if cancel_event is not None and cancel_event.is_set():
                return _stop(proc, "cancelled")
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                return _stop(proc, "timeout")
        proc.wait()
        return None
    except BaseException:  # KeyboardInterrupt included: never leave ESPHome running
        _stop(proc, "cancelled")
        raise


def _read_lines(stream, pending: queue.Queue) -> None:
    buffer = b""
    for chunk in iter(lambda: stream.read1(65536), b""):
        buffer += chunk
        parts = _BREAK.split(buffer)
        buffer = parts.pop()
        for part in parts:
            pending.put(part)
    if buffer:
        pending.put(buffer)
    pending.put(None)


def _stop(proc: subprocess.Popen, why: str) -> str:
    """SIGTERM to the whole process group, SIGKILL if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, TERMINATE_GRACE_S), (signal.SIGKILL, TERMINATE_GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    return why


def esphome_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def validate_config(
    yaml_path: Path,
    *,
    esphome_command: Sequence[str] = ESPHOME_COMMAND,
    env: Mapping[str, str] | None = None,
    timeout_s: float = CONFIG_TIMEOUT_S,
    redact: Redact | None = None,
) -> ConfigCheck:
    """`esphome config FILE`: valid or not, ESPHome's errors, and the final model order."""
    started = time.monotonic()
    args = [*esphome_command, "config", str(yaml_path)]
    try:
        proc = subprocess.run(
            args,
            cwd=yaml_path.parent,
            env=esphome_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        message = f"esphome config did not finish within {timeout_s:.0f} s"
        return ConfigCheck(False, (message,), None, time.monotonic() - started)
    except OSError as err:
        raise EsphomeBridgeError(f"cannot run {args[0]} ({err.strerror or err})") from err
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        return ConfigCheck(False, _config_errors(stdout, stderr, redact), None, seconds)
    return ConfigCheck(True, (), _model_ids(stdout), seconds)


def _config_errors(stdout: str, stderr: str, redact: Redact | None) -> tuple[str, ...]:
    """ESPHome's failed blocks (stdout from 'Failed config') and its error log lines."""
    out = [clean_line(x, redact) for x in stdout.splitlines()]
    if "Failed config" in out:
        out = out[out.index("Failed config") :]
    err = [clean_line(x, redact) for x in stderr.splitlines()]
    err = [x for x in err if not x.startswith("INFO ")]
    return tuple(x for x in [*err, *out] if x.strip())[:60]


def _model_ids(stdout: str) -> tuple[str, ...] | None:
    """Model ids from ESPHome's printout of the validated config (packages merged)."""
    try:
        tree = yamlio.parse_text(_ANSI.sub("", stdout), source="esphome config output")
    except EsphomeBridgeError:
        return None
    mww: Any = tree.get("micro_wake_word") if isinstance(tree, CommentedMap) else None
    models = mww.get("models") if isinstance(mww, CommentedMap) else None
    if not isinstance(models, CommentedSeq):
        return ()
    # A model without an id is named by its `model:` (its manifest), never "None".
    return tuple(
        str(m.get("id") or m.get("model") or "a model without an id")
        for m in models
        if isinstance(m, CommentedMap)
    )
