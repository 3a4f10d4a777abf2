"""mww-esphome: list ESPHome devices, add a trained wake word to one, flash it.

    mww-esphome devices [--esphome-dir DIR] [--json]
    mww-esphome deploy MANIFEST --device NAME_OR_YAML [--esphome-dir DIR] [--yes]
    mww-esphome undo --device NAME_OR_YAML [--esphome-dir DIR]
    mww-esphome snippet MANIFEST
    mww-esphome flash --device NAME_OR_YAML [--esphome-dir DIR] [--dashboard URL]

Exit status: 0 done, 1 not done (declined, rejected by ESPHome, flash failed), 2 a user
error (bad path, unknown device, incompatible model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from mww_trainer.cli.common import EXIT_FAILED, EXIT_OK, run_command
from mww_trainer.esphome import (
    DeployDeclined,
    DeployPlan,
    Device,
    EsphomeBridgeError,
    FlashOptions,
    ValidationError,
    deploy,
    find_device,
    flash,
    list_devices,
    snippet,
    undo,
)

ENV_DIR = "MWW_ESPHOME_DIR"
HA_ESPHOME_DIR = Path("/homeassistant/esphome")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mww-esphome",
        description="Put a trained wake word into an ESPHome device's YAML and flash it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    devices = sub.add_parser("devices", help="list the device configurations")
    _dir_option(devices)
    devices.add_argument("--json", action="store_true", help="print JSON (no secrets)")
    devices.set_defaults(handler=_devices)
    dep = sub.add_parser("deploy", help="add a model to a device's YAML (shows the diff first)")
    dep.add_argument("manifest", type=Path, help="the model's manifest .json")
    _device_options(dep)
    dep.add_argument("--yes", action="store_true", help="apply without asking")
    dep.set_defaults(handler=_deploy)
    und = sub.add_parser("undo", help="undo the last deploy into a device")
    _device_options(und)
    und.set_defaults(handler=_undo)
    snip = sub.add_parser("snippet", help="print the YAML to add a model by hand")
    snip.add_argument("manifest", type=Path, help="the model's manifest .json")
    snip.set_defaults(handler=_snippet)
    fl = sub.add_parser("flash", help="compile the device's firmware and flash it over the air")
    _device_options(fl)
    fl.add_argument("--dashboard", metavar="URL", help="use this ESPHome Device Builder")
    fl.set_defaults(handler=_flash)
    return parser


def _dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--esphome-dir",
        type=Path,
        help=f"the ESPHome config folder (default: ${ENV_DIR} or {HA_ESPHOME_DIR})",
    )


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True, help="device name or its YAML file name")
    _dir_option(parser)


def esphome_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    if HA_ESPHOME_DIR.is_dir():
        return HA_ESPHOME_DIR
    raise EsphomeBridgeError(f"no ESPHome config folder: pass --esphome-dir DIR (or set {ENV_DIR})")


def _devices(args: argparse.Namespace) -> int:
    devices = list_devices(esphome_dir(args.esphome_dir))
    if args.json:
        print(json.dumps([d.to_dict() for d in devices], indent=2, ensure_ascii=False))
    else:
        print(format_devices(devices))
    return EXIT_OK


def format_devices(devices: list[Device]) -> str:
    if not devices:
        return "no device configurations found"
    rows = [("NAME", "FILE", "BOARD", "WAKE WORDS", "ADDRESS", "OTA PASSWORD")]
    for d in devices:
        if d.error:
            rows.append((d.name, d.yaml_file, "-", "-", "-", f"unreadable: {d.error}"))
            continue
        words = ", ".join(w.id or w.model for w in d.wake_words) or (
            "yes" if d.has_micro_wake_word else "-"
        )
        board = d.board or d.platform or "?"
        address = d.address or f"({d.address_source})"
        rows.append((d.name, d.yaml_file, board, words, address, "yes" if d.ota_password else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
    ]
    notes = [f"{d.yaml_file}: {n}" for d in devices for n in d.notes]
    return "\n".join([*lines, "", *notes] if notes else lines)


def _deploy(args: argparse.Namespace) -> int:
    folder = esphome_dir(args.esphome_dir)
    device = find_device(folder, args.device)
    try:
        result = deploy(args.manifest, device, folder, confirm=None if args.yes else _ask)
    except DeployDeclined as declined:
        print(declined, file=sys.stderr)
        return EXIT_FAILED
    except ValidationError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.yes and result.diff:
        print(result.diff, end="")
    if not result.changed:
        print(f"{device.yaml_file} already has this model: nothing changed")
        return EXIT_OK
    print(f"Deployed '{result.model_id}' to {device.name} ({device.yaml_file})")
    print(f"  model files: {result.folder}")
    if result.backup:
        print(f"  backup: {result.backup}  (mww-esphome undo --device {device.yaml_path.stem})")
    if result.validated:
        print("  esphome config: valid")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"Next: mww-esphome flash --device {device.yaml_path.stem}")
    return EXIT_OK


def _ask(plan: DeployPlan) -> bool:
    print(plan.diff, end="")
    for warning in plan.warnings:
        print(f"warning: {warning}")
    print(f"Apply these changes to {plan.device.yaml_file}? [y/N] ", end="", flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print("\n(no answer on stdin: pass --yes to apply without asking)")
    return answer.strip().lower() in ("y", "yes")


def _undo(args: argparse.Namespace) -> int:
    folder = esphome_dir(args.esphome_dir)
    device = find_device(folder, args.device)
    try:
        result = undo(device, folder)
    except ValidationError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(result.diff, end="")
    if result.method == "restored":
        print(f"Undone: {device.yaml_file} restored byte-for-byte (backup kept: {result.backup})")
    else:
        print(f"Undone: removed the package entry from {device.yaml_file} (edited since)")
    if result.removed_folder is not None:
        print(f"Removed {result.removed_folder}: no device includes it any more")
    return EXIT_OK


def _snippet(args: argparse.Namespace) -> int:
    print(snippet(args.manifest), end="")
    return EXIT_OK


def _flash(args: argparse.Namespace) -> int:
    folder = esphome_dir(args.esphome_dir)
    device = find_device(folder, args.device)
    cancel = threading.Event()
    try:
        result = flash(
            device,
            folder,
            on_line=lambda line: print(line, flush=True),
            cancel_event=cancel,
            dashboard_url=args.dashboard,
            options=FlashOptions(),
        )
    except KeyboardInterrupt:
        cancel.set()
        raise
    if result.ok:
        print(f"Done: {result.message} in {result.seconds:.0f} s")
        return EXIT_OK
    print(f"error: {result.stage} failed [{result.failure}]: {result.message}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
