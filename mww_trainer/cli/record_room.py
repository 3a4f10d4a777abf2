"""mww-record-room --out DIR: record the room (people talking, TV, radio) as chunked negatives.

mww-record-room --out dataset/negative/room --minutes 10
mww-record-room --out dataset/negative/room --input talk.flac --no-realtime   # from a file
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from mww_trainer.cli.common import EXIT_OK, run_command
from mww_trainer.data.room import (
    ARECORD_PACKAGE,
    MAX_CHUNK_S,
    MIN_CHUNK_S,
    MIN_PARTIAL_S,
    Chunk,
    RoomPlan,
    arecord_source,
    file_source,
    find_arecord,
    record_room,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-record-room",
        description="Record the room where the satellite stands while people talk (TV or radio "
        "on too) and write it as 16 kHz mono WAV chunks: negatives that teach the model to stay "
        "quiet around talk. Don't say the wake word while it records. Records with arecord "
        f"(Debian package {ARECORD_PACKAGE}). Ctrl-C stops and keeps every chunk, the "
        f"unfinished one included (from {MIN_PARTIAL_S:g} s, the shortest negative training "
        "uses).",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder for the chunks, e.g. dataset/negative/room (created if missing)",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        metavar="N",
        help="stop after this long (default: at Ctrl-C)",
    )
    parser.add_argument(
        "--chunk-s",
        type=float,
        default=30.0,
        metavar="S",
        help=f"seconds per file ({MIN_CHUNK_S:g}-{MAX_CHUNK_S:g}; default 30)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--device",
        default=None,
        metavar="NAME",
        help="ALSA capture device as `arecord -L` names it",
    )
    source.add_argument(
        "--input",
        type=Path,
        default=None,
        metavar="FILE",
        help="record from this audio file instead of the microphone (WAV, FLAC, OGG, MP3)",
    )
    parser.add_argument(
        "--no-realtime",
        action="store_true",
        help="with --input: read the file as fast as possible, not at its own pace",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: _record(args))


def _record(args: argparse.Namespace) -> int:
    max_s = None if args.minutes is None else args.minutes * 60
    plan = RoomPlan.checked(args.out, chunk_s=args.chunk_s, max_s=max_s)
    if args.input is not None:
        source = file_source(args.input, realtime=not args.no_realtime)
        what = str(args.input)
    else:
        source = arecord_source(find_arecord(), args.device)
        what = f"the microphone ({args.device or 'default device'})"
    stop = _StopRequest()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    until = "the file ends or Ctrl-C" if args.input is not None else "Ctrl-C"
    length = f"{args.minutes:g} min" if args.minutes else f"until {until}"
    print(f"recording {what} into {plan.out_dir}, {length}", file=sys.stderr, flush=True)
    total = [0.0]

    def report(chunk: Chunk) -> None:
        total[0] += chunk.duration_s
        warning = "  silent: is the microphone muted?" if chunk.silent else ""
        print(
            f"{chunk.path.name}  {chunk.duration_s:.1f} s  peak {chunk.peak_dbfs:.0f} dBFS  "
            f"(total {total[0] / 60:.1f} min){warning}",
            file=sys.stderr,
            flush=True,
        )

    chunks = record_room(source, plan, should_stop=stop.requested, on_chunk=report)
    print(f"{len(chunks)} files, {total[0] / 60:.1f} min of room audio", file=sys.stderr)
    return EXIT_OK


class _StopRequest:
    """The first Ctrl-C (or SIGTERM) asks to stop after the current block; a second one aborts."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt
        print("\nstopping: writing the unfinished chunk", file=sys.stderr, flush=True)

    def requested(self) -> bool:
        return self.count > 0


if __name__ == "__main__":
    sys.exit(main())
