"""Measure the tensor arena a model needs in TFLite-Micro, and the size to put in the manifest.

TFLite-Micro's Python wrapper has no "arena used" call, and its RecordingMicroAllocator's
total is only a lower bound (the memory planner also needs scratch space while it plans, so
the smallest arena that works is some hundred bytes above it). So: one probe at a generous
size records that lower bound, then a parallel k-ary search finds the exact smallest arena
with which the model allocates AND invokes. Every probe runs in its own process
(``python -m mww_trainer.device.arena --probe FILE SIZE``), because a failed allocation can crash
the interpreter (segfaults were seen just below the minimum).

Measured on this host (64-bit x86, tflite-micro 0.dev20261023182759), exact to the byte:
hey_jarvis 20,320, alexa 20,720, hey_mycroft 21,728, okay_nabu 27,872 bytes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.errors import MwwError

# The ESP32 is 32-bit and runs ESP-NN kernels, so host figures are only a guide: pointers
# are smaller there, but alignment differs and optimised conv kernels ask for scratch
# buffers. The official manifests sit 7.9 % (alexa), 8.7 % (hey_mycroft), 12.5 %
# (hey_jarvis: exactly 20,320 * 1.125 = 22,860) and 32.7 % (okay_nabu, a round 37,000)
# above the host minimum. We add 12.5 %, at least 1 KiB, rounded up to 64 bytes: that
# matches or exceeds three of the four official choices and costs a few KiB at most.
ARENA_MARGIN = 0.125  # fraction of the measured host arena
ARENA_MARGIN_MIN_BYTES = 1024
ARENA_ALIGN_BYTES = 64

PROBE_MAX_BYTES = 1 << 20  # the generous first probe; also the search's upper bound
PROBE_STEP_BYTES = 16  # search resolution: TFLite-Micro aligns the arena to 16 bytes
PROBE_TIMEOUT_S = 60.0
_TOTAL_RE = re.compile(rb"Arena allocation total (\d+) bytes")


class ArenaError(MwwError):
    """The arena could not be measured (the model does not run in TFLite-Micro)."""


@dataclass(frozen=True)
class ArenaMeasurement:
    bytes: int  # smallest arena that allocates and invokes on this host
    recorded_bytes: int  # RecordingMicroAllocator's total at the generous size
    probes: int
    seconds: float


def recommended_arena_size(measured: int) -> int:
    """The manifest's tensor_arena_size for a host measurement (see ARENA_MARGIN)."""
    margin = max(math.ceil(measured * ARENA_MARGIN), ARENA_MARGIN_MIN_BYTES)
    return math.ceil((measured + margin) / ARENA_ALIGN_BYTES) * ARENA_ALIGN_BYTES


def measure_arena_bytes(model: bytes | str | Path) -> int:
    """Smallest tensor arena (bytes) with which TFLite-Micro allocates and invokes `model`."""
    return measure_arena(model).bytes


def measure_arena(
    model: bytes | str | Path, *, max_bytes: int = PROBE_MAX_BYTES, workers: int | None = None
) -> ArenaMeasurement:
    start = time.monotonic()
    workers = workers or max(2, min(8, os.cpu_count() or 2))
    if isinstance(model, bytes | bytearray):
        with tempfile.TemporaryDirectory(prefix="mww-arena-") as tmp:
            path = Path(tmp) / "model.tflite"
            path.write_bytes(model)
            return _measure(path, max_bytes, workers, start)
    path = Path(model)
    if not path.is_file():
        raise ArenaError(f"{path}: no such model file")
    return _measure(path, max_bytes, workers, start)


def _measure(path: Path, max_bytes: int, workers: int, start: float) -> ArenaMeasurement:
    proc = _run_probe(path, max_bytes, report=True)
    found = _TOTAL_RE.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ArenaError(
            f"{path.name} does not allocate and invoke in TFLite-Micro even with a"
            f" {max_bytes:,}-byte arena: {' / '.join(tail) or f'exit {proc.returncode}'}"
        )
    recorded = int(found.group(1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        size, probes = _search(path, recorded, max_bytes, workers, pool)
    return ArenaMeasurement(
        bytes=size, recorded_bytes=recorded, probes=probes + 1, seconds=time.monotonic() - start
    )


def _search(path: Path, recorded: int, max_bytes: int, workers: int, pool) -> tuple[int, int]:
    """Smallest fitting multiple of PROBE_STEP_BYTES in [recorded, max_bytes] (monotone).

    `recorded` bytes were in use, so nothing smaller fits; `max_bytes` is known to fit.
    """
    step = PROBE_STEP_BYTES
    lo, hi = math.ceil(recorded / step) - 1, max_bytes // step  # in steps: fails / fits
    # Gallop up from the recorded total (the minimum was 0..2 KiB above it), then a k-ary
    # search with `workers` probes a round.
    gallop = [lo + 1 + (4**k - 1) * 16 // step for k in range(12)]
    probes = 0
    while hi - lo > 1:
        if gallop and gallop[0] < hi:
            sizes, gallop = gallop[:workers], gallop[workers:]
        else:
            sizes = [lo + (hi - lo) * (i + 1) // (workers + 1) for i in range(workers)]
        sizes = sorted({s for s in sizes if lo < s < hi})
        fits = list(pool.map(lambda s: _run_probe(path, s * step).returncode == 0, sizes))
        probes += len(sizes)
        hi = min([s for s, ok in zip(sizes, fits, strict=True) if ok], default=hi)
        failed = [s for s, ok in zip(sizes, fits, strict=True) if not ok]
        if any(s > hi for s in failed):
            raise ArenaError(
                f"{path.name}: arena probes are not monotone"
                f" ({hi * step} bytes fit, {max(failed) * step} fail)"
            )
        lo = max([lo, *failed])
        if any(fits):
            gallop = []
    return hi * step, probes


def _run_probe(path: Path, size: int, *, report: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mww_trainer.device.arena", "--probe", str(path), str(size)]
    if report:
        cmd.append("--report")
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        return subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as err:
        raise ArenaError(f"{path.name}: arena probe at {size} bytes timed out") from err


def probe(model_path: str | Path, arena_bytes: int, *, report: bool = False) -> bool:
    """In this process: allocate with `arena_bytes`, invoke twice on zeros. True if it fits."""
    import numpy as np
    from tflite_micro.python.tflite_micro import runtime

    data = Path(model_path).read_bytes()
    model = runtime.convert_bytearray_to_object(data)
    try:
        interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena_bytes)
        for _ in range(2):
            for i in range(len(model.subgraphs[0].inputs)):
                details = interpreter.get_input_details(i)
                interpreter.set_input(np.zeros(details["shape"], details["dtype"]), i)
            interpreter.invoke()
    except (RuntimeError, ValueError):
        return False
    if report:
        sys.stderr.flush()
        interpreter.print_allocations()
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mww_trainer.device.arena",
        description="Measure a model's TFLite-Micro tensor arena (or run one probe).",
    )
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("size", type=int, nargs="?", help="arena bytes (with --probe)")
    parser.add_argument("--probe", action="store_true", help="exit 0 if SIZE fits, 1 if not")
    parser.add_argument("--report", action="store_true", help="print_allocations() to stderr")
    args = parser.parse_args(argv)
    if args.probe:
        if args.size is None:
            parser.error("--probe needs SIZE")
        return 0 if probe(args.model, args.size, report=args.report) else 1
    m = measure_arena(args.model)
    print(
        f"{args.model.name}: {m.bytes} bytes (recorded {m.recorded_bytes}); recommended"
        f" {recommended_arena_size(m.bytes)}; {m.probes} probes in {m.seconds:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
