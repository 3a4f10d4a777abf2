"""'Try it': a trained model listening to the browser's microphone, or to one uploaded file.

Each session is a scoring process of its own (`python -m mww_trainer.live_worker`): the web
process only moves bytes and JSON lines between the browser and that process, and never
loads a model runtime. At most `max_sessions` run at once; a session ends when the browser
closes it, when no audio arrived for `idle_s`, or after `max_session_s`; its process group
is killed then, whatever state it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from addon.errors import UserError
from addon.jobs import worker_environment

LIVE_COMMAND = (sys.executable, "-m", "mww_trainer.live_worker")
LOG_NAME = "try.log"
MIN_RATE_HZ, MAX_RATE_HZ = 8_000, 192_000
MAX_LINE_BYTES = 1 << 22  # one JSON line of a file's trace (10 min is ~20,000 slices)
FILE_TIMEOUT_S = 300.0
STOP_GRACE_S = 2.0
MAX_LOG_BYTES = 256 * 1024  # the log starts afresh past this


@dataclass
class TrySessions:
    """The running scoring processes, bounded in number and in time."""

    max_sessions: int = 2
    idle_s: float = 30.0
    max_session_s: float = 15 * 60.0
    command: tuple[str, ...] = LIVE_COMMAND
    running: set[asyncio.subprocess.Process] = field(default_factory=set)

    @asynccontextmanager
    async def process(
        self, manifest: Path, mode: list[str], log_dir: Path
    ) -> AsyncIterator[asyncio.subprocess.Process]:
        """A scoring process for `manifest`, killed when the block ends."""
        if len(self.running) >= self.max_sessions:
            raise UserError(
                429,
                f"{len(self.running)} “Try it” sessions are already listening (at most "
                f"{self.max_sessions} at a time): close one in another tab, then try again",
            )
        log_path = log_dir / LOG_NAME
        if log_path.is_file() and log_path.stat().st_size > MAX_LOG_BYTES:
            log_path.unlink()
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                str(manifest),
                *mode,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env=worker_environment(os.environ),
                limit=MAX_LINE_BYTES,
            )
        self.running.add(process)
        try:
            yield process
        finally:
            self.running.discard(process)
            await stop(process)

    async def close(self) -> None:
        await asyncio.gather(*(stop(p) for p in list(self.running)))


async def stop(process: asyncio.subprocess.Process) -> None:
    """Closes its input, gives it a moment to finish, then kills its whole group."""
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def check_rate(text: str) -> int:
    if not (text.isascii() and text.isdigit() and MIN_RATE_HZ <= int(text) <= MAX_RATE_HZ):
        raise UserError(
            400,
            f"rate: {text[:12]!r} is not allowed (the microphone's sample rate in Hz, "
            f"{MIN_RATE_HZ}-{MAX_RATE_HZ})",
        )
    return int(text)


async def read_message(process: asyncio.subprocess.Process) -> dict | None:
    """The scoring process's next JSON line; None once it has ended."""
    assert process.stdout is not None
    line = await process.stdout.readline()
    return json.loads(line) if line else None


async def score_file(
    sessions: TrySessions, manifest: Path, path: Path, log_dir: Path, *, shown_name: str
) -> dict:
    """One recording's trace and wakes, from a scoring process of its own."""
    async with sessions.process(manifest, ["--file", str(path)], log_dir) as process:
        try:
            result = await asyncio.wait_for(read_message(process), FILE_TIMEOUT_S)
        except TimeoutError:
            raise UserError(
                504, f"scoring the file took longer than {FILE_TIMEOUT_S:.0f} s"
            ) from None
        await process.wait()
    if result is None or result.get("type") == "error":
        reason = (result or {}).get("error") or last_line(log_dir / LOG_NAME)
        reason = reason.replace(str(path), shown_name).replace(path.name, shown_name)
        raise UserError(400, f"{shown_name} could not be scored: {reason}")
    return result


def last_line(path: Path) -> str:
    """The scorer's own explanation: the last line it wrote to its log."""
    try:
        lines = path.read_text("utf-8", "replace").strip().splitlines()
    except OSError:
        return "the scoring process ended without a result"
    return lines[-1][:300] if lines else "the scoring process ended without a result"
