"""The add-on as the README starts it, `python -m addon --data-dir DIR`, in its own process.

For what the in-process test client cannot show: the server's own memory (peak RSS from
/proc), a second instance on the same data folder, signals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class AddonProcess:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float:
        """The most memory the server has held so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc status")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_addon(
    data_dir: Path,
    log: Path,
    *,
    port: int | None = None,
    wait: bool = True,
    args: tuple[str, ...] = (),
):
    """Starts the server; with `wait`, returns once /api/health answers (fails if it exits)."""
    port = port or free_port()
    command = [sys.executable, "-m", "addon", "--data-dir", str(data_dir), "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    served = AddonProcess(process, port, log)
    if wait:
        _wait_for_health(served)
    return served


@contextlib.contextmanager
def running_addon(data_dir: Path, log: Path):
    served = start_addon(data_dir, log)
    try:
        yield served
    finally:
        served.stop()


def _wait_for_health(served: AddonProcess, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"the add-on exited:\n{served.log.read_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{served.url}/api/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    served.stop()
    raise AssertionError(f"the add-on did not answer:\n{served.log.read_text()[-3000:]}")
