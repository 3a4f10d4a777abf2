"""mww-packs: list, fetch, locate and verify speech packs (real speech for the negatives)
and voice packs (piper voices for mww-synth).

mww-packs list [--catalog URL|FILE] [--data-dir DIR]
mww-packs fetch ID [--data-dir DIR] [--yes]     # shows size and licence, asks, resumes
mww-packs path ID [--data-dir DIR]              # the audio folder, for paths.negative_pack_dirs
                                                # (a voice pack's: for mww-synth --piper-voices)
mww-packs verify ID [--data-dir DIR]
mww-packs remove ID [--data-dir DIR] [--yes]
"""

from __future__ import annotations

import argparse
import sys

from mww_trainer.cli.common import EXIT_FAILED, EXIT_OK, run_command
from mww_trainer.errors import MwwError
from mww_trainer.packs import (
    VOICES,
    WITHOUT_REAL_SPEECH,
    DownloadOptions,
    Pack,
    PackCache,
    fetch_pack,
    human_size,
    load_catalog,
)
from mww_trainer.progress import ProgressEvent

DEFAULT_DATA_DIR = "data"  # the add-on's standalone default (python -m addon --data-dir ./data)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-packs",
        description="Speech packs: recordings of real people talking, fetched once into the "
        "data folder and used as negatives, so the model learns to stay quiet around talk. "
        "Voice packs: piper voice models that speak the wake word in many voices "
        "(mww-synth --voice-packs).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir", default=DEFAULT_DATA_DIR, help="packs live in DIR/packs (default: ./data)"
    )
    catalog = argparse.ArgumentParser(add_help=False)
    catalog.add_argument("--catalog", help="catalog file or http(s) URL (default: built-in)")
    commands.add_parser("list", parents=[data, catalog], help="packs, sizes, licences")
    fetch = commands.add_parser("fetch", parents=[data, catalog], help="download and install")
    fetch.add_argument("id")
    fetch.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    fetch.add_argument(
        "--attempts", type=int, default=6, help="connections to try before giving up (6)"
    )
    for name, text in (("path", "print the audio folder"), ("verify", "re-check every file")):
        commands.add_parser(name, parents=[data], help=text).add_argument("id")
    remove = commands.add_parser("remove", parents=[data], help="delete an installed pack")
    remove.add_argument("id")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cache = PackCache.for_data_dir(args.data_dir)
    commands = {"list": _list, "fetch": _fetch, "path": _path, "verify": _verify}
    return run_command(lambda: commands.get(args.command, _remove)(args, cache))


def _list(args: argparse.Namespace, cache: PackCache) -> int:
    catalog = load_catalog(args.catalog)
    rows = [("id", "role", "size", "hours", "licence", "status")]
    for pack in catalog.packs:
        hours = f"{pack.hours:g}" if pack.hours is not None else "-"
        size = human_size(pack.size_bytes)
        rows.append((pack.id, pack.role, size, hours, pack.licence, _status(pack, cache)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if not cache.audio_dirs():
        print(
            f"\nNo speech pack is installed in {cache.root}: a model will be {WITHOUT_REAL_SPEECH}."
        )
    return EXIT_OK


def _status(pack: Pack, cache: PackCache) -> str:
    if cache.installed(pack.id) is not None:
        return "installed"
    partial = cache.partial_bytes(pack.id)
    return f"partial ({human_size(partial)})" if partial else "-"


def _fetch(args: argparse.Namespace, cache: PackCache) -> int:
    pack = load_catalog(args.catalog).get(args.id)
    if (installed := cache.installed(pack.id)) is not None:
        print(f"{pack.id} is already installed: {installed.audio_dir}")
        return EXIT_OK
    partial = cache.partial_bytes(pack.id)
    resume = f", {human_size(partial)} of it already here" if partial else ""
    print(f"{pack.title}\n  {pack.description}".rstrip())
    print(
        f"  size: {human_size(pack.size_bytes)} to download{resume}, into {cache.folder(pack.id)}"
    )
    print(f"  licence: {pack.licence} {pack.licence_url}".rstrip())
    print(f"  attribution: {pack.attribution}")
    if not args.yes and not _confirm(f"Download {human_size(pack.size_bytes - partial)}?"):
        print("nothing was downloaded")
        return EXIT_FAILED
    options = DownloadOptions(attempts=max(args.attempts, 1))
    installed = fetch_pack(pack, cache, on_progress=_print_progress, options=options)
    if pack.role == VOICES:
        folder = installed.audio_dir
        print(f"installed {pack.id}: {installed.audio_files} piper voice(s) in {folder}")
        print(f"speak with it: mww-synth --voice-packs --data-dir {args.data_dir} ...")
    else:
        print(f"installed {pack.id}: {installed.audio_files} audio files in {installed.audio_dir}")
        print(f"train with it: paths.negative_pack_dirs: [{installed.audio_dir}]")
    return EXIT_OK


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise MwwError(f"{question} There is no terminal to ask on: give --yes to confirm")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _print_progress(event: ProgressEvent) -> None:
    if event.stage in ("download", "unpack"):
        pct = f"{100 * event.fraction:5.1f}%"
        text = f"{human_size(event.done)} of {human_size(event.total)}"
        rate = event.metrics.get("rate_bytes_per_s")
        text += f", {human_size(rate)}/s" if rate else ""
        end = "\r" if sys.stderr.isatty() and event.done < event.total else "\n"
        print(f"[{event.stage}] {pct} {text}", end=end, file=sys.stderr, flush=True)


def _path(args: argparse.Namespace, cache: PackCache) -> int:
    installed = cache.installed(args.id)
    if installed is None:
        print(
            f"{args.id} is not installed in {cache.root}: run mww-packs fetch {args.id}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(installed.audio_dir)
    return EXIT_OK


def _verify(args: argparse.Namespace, cache: PackCache) -> int:
    report = cache.verify(args.id)
    if report.ok:
        print(f"{args.id}: {report.checked} files, all as installed")
        return EXIT_OK
    for relpath in report.missing:
        print(f"missing: {relpath}")
    for relpath in report.changed:
        print(f"changed: {relpath}")
    print(
        f"{args.id}: {len(report.missing)} missing and {len(report.changed)} changed of "
        f"{report.checked} files; mww-packs remove {args.id} --yes, then fetch it again"
    )
    return EXIT_FAILED


def _remove(args: argparse.Namespace, cache: PackCache) -> int:
    if not args.yes and not _confirm(f"Delete {cache.folder(args.id)}?"):
        return EXIT_FAILED
    removed = cache.remove(args.id)
    print(f"removed {args.id}" if removed else f"{args.id} was not installed")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
