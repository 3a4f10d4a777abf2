"""The process that listens with an exported model for the panel's "Try it" (never the web one).

    python -m mww_trainer.live_worker MANIFEST --rate HZ     PCM on stdin, results on stdout
    python -m mww_trainer.live_worker MANIFEST --file PATH   one recording, one result

Stream mode reads little-endian int16 mono PCM at `--rate` from stdin until it closes,
resamples it to 16 kHz (soxr, as uploads are converted) and writes one JSON line per chunk
read: {"type": "slices", "slices": [{t, p, wake}, ...]}. The first line is
{"type": "ready", ...} with the operating point. File mode scores a recording as the
evaluation does (after a quiet lead, the 3 s a device ignores after loading a model) and
writes one JSON object with the trace and the wakes, times counted from the file's start.

Only these lines reach stdout: whatever a library prints goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from collections.abc import Iterator
from typing import BinaryIO, TextIO

import numpy as np

from mww_trainer import constants
from mww_trainer.device.live import LiveScorer, Scored, slice_end_s
from mww_trainer.errors import MwwError

READ_BYTES = 8192  # at most this much PCM per read: about 85 ms at 48 kHz
MEMORY_LIMIT_BYTES = 3 << 30  # address space; a scorer needs a few hundred MB
MAX_FILE_S = 600.0  # longest recording "try on this file" scores


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = _private_stdout()
    _limit_memory()
    try:
        scorer = LiveScorer.from_manifest(args.manifest)
    except (MwwError, OSError, ValueError) as exc:  # the caller shows the last line of stderr
        print(f"cannot load the model: {exc}", file=sys.stderr)
        return 2
    if args.file:
        try:
            _emit(out, score_file(scorer, args.file))
        except MwwError as exc:  # unreadable audio: say why, as the upload check does
            _emit(out, {"type": "error", "error": str(exc)})
        return 0
    point = scorer.point
    _emit(out, {"type": "ready", "rate_hz": args.rate, **vars(point)})
    for scored in stream_scores(scorer, sys.stdin.buffer, args.rate):
        if len(scored.outputs):
            _emit(out, {"type": "slices", "slices": scored.messages()})
    return 0


def stream_scores(scorer: LiveScorer, source: BinaryIO, rate_hz: int) -> Iterator[Scored]:
    """Scores every chunk of int16 PCM read from `source` until it ends."""
    import soxr

    from mww_trainer.data.audio import to_int16

    resampler = None
    if rate_hz != constants.SAMPLE_RATE_HZ:
        resampler = soxr.ResampleStream(
            rate_hz, constants.SAMPLE_RATE_HZ, 1, dtype="float32", quality="HQ"
        )
    odd = b""
    while True:
        data = source.read1(READ_BYTES) if hasattr(source, "read1") else source.read(READ_BYTES)
        last = not data
        data, odd = _whole_samples(odd + data)
        samples = np.frombuffer(data, dtype="<i2").astype(np.int16)
        if resampler is not None:
            floats = samples.astype(np.float32) / 32768.0
            samples = to_int16(resampler.resample_chunk(floats, last=last))
        yield scorer.push(samples)
        if last:
            return


def score_file(scorer: LiveScorer, path: str) -> dict:
    """A recording's trace and wakes, scored after a quiet lead like the evaluation's clips."""
    from mww_trainer.data.audio import read_audio
    from mww_trainer.data.training_set import SCORING_LEAD_S, SCORING_TAIL_S, on_bed

    samples = read_audio(path)
    duration_s = len(samples) / constants.SAMPLE_RATE_HZ
    if duration_s > MAX_FILE_S:
        return {
            "type": "error",
            "error": f"the recording is {duration_s / 60:.1f} min long; try at most "
            f"{MAX_FILE_S / 60:.0f} min at a time",
        }
    lead = int(SCORING_LEAD_S * constants.SAMPLE_RATE_HZ)
    scored = scorer.push(on_bed(samples, lead, SCORING_TAIL_S, None))
    lead_s = lead / constants.SAMPLE_RATE_HZ
    trace = [{**m, "t": round(m["t"] - lead_s, 3)} for m in scored.messages() if m["t"] >= lead_s]
    return {
        "type": "file",
        "duration_s": round(duration_s, 3),
        "lead_s": lead_s,
        "slices": trace,
        "wakes": [round(slice_end_s(i) - lead_s, 3) for i in scored.wakes],
        **vars(scorer.point),
    }


def _whole_samples(data: bytes) -> tuple[bytes, bytes]:
    cut = len(data) // 2 * 2
    return data[:cut], data[cut:]


def _private_stdout() -> TextIO:
    """Our own handle on stdout; file descriptor 1 then points at stderr."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    return out


def _emit(out: TextIO, message: dict) -> None:
    out.write(json.dumps(message, separators=(",", ":")) + "\n")
    out.flush()


def _limit_memory() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(hard, MEMORY_LIMIT_BYTES)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mww_trainer.live_worker", description=__doc__)
    parser.add_argument("manifest", help="the exported model's manifest.json")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rate", type=int, help="stream mode: the PCM's sample rate in Hz")
    mode.add_argument("--file", help="file mode: a recording to score")
    return parser


if __name__ == "__main__":
    sys.exit(main())
