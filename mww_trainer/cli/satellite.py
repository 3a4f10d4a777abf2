"""mww-satellite list|record: record takes through Home Assistant's voice satellites.

mww-satellite list --url http://homeassistant.local:8123 --token-file ~/.ha_token
mww-satellite record --url ... --token-file ... --satellite assist_satellite.kitchen \
    --phrase "hey computer" --count 30 --out dataset/
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from mww_trainer.cli.common import EXIT_OK, run_command
from mww_trainer.data.audio import write_wav
from mww_trainer.errors import MwwError
from mww_trainer.satellite.client import HomeAssistant, check_url, connect
from mww_trainer.satellite.listing import list_satellites
from mww_trainer.satellite.session import SESSION_LABELS, Runner, SessionSpec, Take, Target

TOKEN_ENV = "MWW_TRAINER_HA_TOKEN"
LABEL_FOLDERS = {"positive": "positive", "negative": "negative", "hard_negative": "hard_negative"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-satellite",
        description="Record wake-word takes (or other speech, or sound-alikes) through Home "
        "Assistant's voice satellites: their microphones, their rooms. Needs Home Assistant "
        "2023.12 or newer, a satellite whose pipeline has speech-to-text, and a long-lived "
        f"access token of an administrator (--token-file, or ${TOKEN_ENV}).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("list", "the satellites and how takes start on each"),
        ("record", "a session of takes, written as 16 kHz WAV files"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--url", required=True, help="Home Assistant, http://HOST:8123")
        command.add_argument("--token-file", type=Path, help="a file holding the token")
    record = sub.choices["record"]
    record.add_argument(
        "--satellite",
        action="append",
        required=True,
        metavar="ENTITY_ID",
        help="assist_satellite.… (repeat for several)",
    )
    record.add_argument("--out", type=Path, required=True, help="the dataset folder")
    record.add_argument("--label", choices=SESSION_LABELS, default="positive")
    record.add_argument(
        "--phrase",
        action="append",
        default=[],
        help="what to say (the wake word; repeat for sound-alikes)",
    )
    record.add_argument("--count", type=int, default=10, help="takes per satellite")
    record.add_argument("--speaker", help="who speaks (default: the satellite's area or name)")
    record.add_argument("--timeout-s", type=float, default=15.0, help="longest wait per take")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: asyncio.run(_run(args)))


def _home_assistant(args: argparse.Namespace) -> HomeAssistant:
    try:
        url = check_url(args.url)
    except ValueError as err:
        raise MwwError(f"--url: {err}") from None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise MwwError(f"--token-file: cannot read {args.token_file} ({err})") from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise MwwError(f"no access token: give --token-file FILE or set ${TOKEN_ENV}")
    return HomeAssistant(url, token)


async def _run(args: argparse.Namespace) -> int:
    async with connect(_home_assistant(args)) as client:
        satellites = await list_satellites(client)
        if args.command == "list":
            print(f"Home Assistant {client.version}: {len(satellites)} satellite(s)")
            for s in satellites:
                print(
                    f"{s.entity_id}  {s.name}  area={s.area or '-'}  {s.integration}  "
                    f"{s.state}  takes: {s.prompt}" + (f"\n    {s.why_not}" if s.why_not else "")
                )
            return EXIT_OK
        found = {s.entity_id: s for s in satellites}
        missing = [e for e in args.satellite if e not in found]
        if missing:
            raise MwwError(f"--satellite: {', '.join(missing)} not found; see mww-satellite list")
        spec = SessionSpec(
            targets=tuple(Target.from_dict(found[e].to_dict()) for e in args.satellite),
            label=args.label,
            phrases=tuple(args.phrase),
            count=args.count,
            speaker=args.speaker,
            timeout_s=args.timeout_s,
        )
        runner = Runner(client, spec, _writer(args.out, spec), _no_discard, _print)
        await runner.run()
    return EXIT_OK


def _writer(out: Path, spec: SessionSpec):
    async def store(take: Take) -> dict:
        speaker = (spec.speaker or take.target.area or take.target.name).replace(" ", "_").lower()
        folder = out / LABEL_FOLDERS[spec.label] / speaker
        folder.mkdir(parents=True, exist_ok=True)
        name = take.target.entity_id.split(".", 1)[-1]
        path = folder / f"satellite_{name}_{take.index + 1:04d}.wav"
        await asyncio.to_thread(write_wav, path, take.check.samples)
        return {"path": str(path)}

    return store


async def _no_discard(_target: Target, _index: int) -> None:
    return None


def _print(event: dict) -> None:
    kind = event["type"]
    if kind == "take_started":
        how = f"wake {event['name']}, then " if event["mode"] == "manual" else ""
        print(f"take {event['n']}/{event['of']} on {event['name']}: {how}{event['prompt']}")
    elif kind == "take_stored":
        print(f"  stored {event['sample']['path']}: {event['summary']}")
    elif kind == "take_failed":
        print(f"  {event['message']}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
