"""Install a trained model on an ESPHome device: devices, preview, deploy, undo, flash jobs.

The panel's side of mww_trainer.esphome. Everything here that reads the ESPHome folder,
verifies a model or runs `esphome config` is blocking, so the public coroutines run it in a
thread: the event loop keeps serving while ESPHome validates. Compile and upload take minutes
and run as a "flash" job in a worker process (mww_trainer.worker), like training.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from addon.errors import UserError, conflict
from addon.results import EXPORT_DIR
from addon.settings import Settings
from addon.store import MODEL_KINDS, Job
from mww_trainer.device.manifest import MANIFEST_NAME, Manifest
from mww_trainer.device.verify import VerifyReport
from mww_trainer.esphome import (
    DeployOptions,
    Device,
    DeviceNotFoundError,
    deploy,
    find_device,
    list_devices,
    plan_deploy,
    undo,
)
from mww_trainer.esphome.backup import Backup, latest_backup
from mww_trainer.esphome.deploy import Verifier
from mww_trainer.esphome.snippet import ModelNames
from mww_trainer.fileio import sha256_file
from mww_trainer.job_specs import FlashSpec, spec_to_dict

BUILD_DIR = "esphome-build"  # in the data folder: PlatformIO's toolchain cache and builds
INSTALLABLE_PLATFORMS = ("esp32", None)  # None: declared elsewhere, e.g. in a remote package
ADDON_HINT = (
    "set the add-on option esphome_dir to the folder that holds your device YAML files"
    " (the ESPHome add-on keeps them in /homeassistant/esphome)"
)
STANDALONE_HINT = (
    "start the panel with --esphome-dir FOLDER, the folder that holds your device YAML files"
)

# mww-verify runs TFLite-Micro on the model once: seconds, even on a slow machine.
VERIFY_TIMEOUT_S = 120


def folder_hint(settings: Settings) -> str:
    """How to choose the ESPHome folder: the add-on's option, or the standalone flag."""
    return ADDON_HINT if settings.supervisor else STANDALONE_HINT


def esphome_folder(settings: Settings) -> Path:
    """The ESPHome folder of the options, or a 409 that says how to set it."""
    folder = settings.esphome_dir
    if folder is None:
        raise conflict(f"no ESPHome folder is configured: {folder_hint(settings)}")
    if not folder.is_dir():
        where = "the add-on" if settings.supervisor else "this panel"
        raise conflict(
            f"{folder} is not a folder {where} can see"
            f"{' (is the ESPHome add-on installed?)' if settings.supervisor else ''};"
            f" {folder_hint(settings)}"
        )
    return folder


def model_manifest(job: Job, job_dir: Path) -> Path:
    """The manifest a succeeded training job exported (the model file lies beside it)."""
    if job.kind not in MODEL_KINDS or job.state != "succeeded":
        raise conflict(f"job {job.id} has no model to install ({job.kind}, {job.state})")
    manifest = job_dir / EXPORT_DIR / MANIFEST_NAME
    if not manifest.is_file():
        raise UserError(410, f"job {job.id}: its manifest.json is no longer on disk")
    return manifest


async def devices(settings: Settings) -> dict[str, Any]:
    folder = esphome_folder(settings)
    return await asyncio.to_thread(_devices, folder) | {"folder_help": folder_hint(settings)}


def _devices(folder: Path) -> dict[str, Any]:
    found = list_devices(folder)
    usable = [d for d in found if d.platform in INSTALLABLE_PLATFORMS]
    return {
        "esphome_dir": str(folder),
        "devices": [device_view(d, folder) for d in usable],
        "skipped": [f"{d.name} ({d.yaml_file}): {d.platform}" for d in found if d not in usable],
    }


def device_view(device: Device, folder: Path) -> dict[str, Any]:
    """What the panel shows of a device; the Device never holds a secret's value."""
    last = latest_backup(folder, device.yaml_path)
    return {
        "name": device.name,
        "yaml_file": device.yaml_file,
        "friendly_name": device.friendly_name,
        "platform": device.platform,
        "board": device.board,
        "micro_wake_word": device.has_micro_wake_word,
        "wake_words": [w.id or w.model for w in device.wake_words],
        "address": device.address,
        "ota_password": device.ota_password,
        "notes": list(device.notes),
        "error": device.error,
        # The install that undo would take back: {"model_id", "at": epoch seconds}, or None.
        "last_install": None if last is None else _install_record(last),
    }


def _install_record(backup: Backup) -> dict[str, Any]:
    return {"model_id": backup.record.get("model_id"), "at": backup.path.stat().st_mtime}


async def preview(settings: Settings, manifest: Path, device_name: str) -> dict[str, Any]:
    """The diff deploy would make, and what to know before: nothing is written."""
    folder = esphome_folder(settings)
    return await asyncio.to_thread(_preview, folder, manifest, device_name)


def _preview(folder: Path, manifest_path: Path, device_name: str) -> dict[str, Any]:
    device = _device(folder, device_name)
    plan = plan_deploy(manifest_path, device, manifest=Manifest.from_file(manifest_path))
    return {
        "device": device.name,
        "yaml_file": device.yaml_file,
        "model_id": plan.names.model_id,
        "folder": str(plan.names.folder),
        "changed": plan.yaml_changed or plan.files_changed,
        "diff": plan.diff,
        "warnings": [*plan.warnings, *order_warnings(device, plan.names)],
    }


def order_warnings(device: Device, names: ModelNames) -> list[str]:
    """Where the model will land among the device's models (ESPHome merges packages first)."""
    ours = names.package_key
    from_packages = [w.id or w.model for w in device.wake_words if w.origin not in ("main", ours)]
    own = [w.id or w.model for w in device.wake_words if w.origin == "main"]
    ids = [*from_packages, names.model_id, *own]
    if len(ids) == 1:
        return []
    listed = ", ".join(ids)
    if from_packages:
        return [
            f"'{names.model_id}' will be model {len(from_packages) + 1} of {len(ids)} ({listed}):"
            f" only the first ('{ids[0]}') is enabled on first boot; enable '{names.model_id}'"
            " from Home Assistant afterwards"
        ]
    return [
        f"'{names.model_id}' will be the first of {len(ids)} models ({listed}): ESPHome puts"
        f" package models before the file's own, so it is the one enabled on first boot and"
        f" '{ids[1]}' starts disabled (enable it from Home Assistant)"
    ]


async def install(settings: Settings, manifest: Path, device_name: str, job: Job) -> dict[str, Any]:
    """Back up, write, validate with `esphome config`; rolled back if ESPHome says no."""
    folder = esphome_folder(settings)
    return await asyncio.to_thread(_install, folder, manifest, device_name, job)


def trusted_verifier(job: Job) -> Verifier:
    """The check the worker made when it exported the model, while the files are the ones it
    checked; else mww-verify in a child process. Either way the web process never loads a
    model runtime (LiteRT, TFLite-Micro)."""

    def verify(manifest_path: Path) -> VerifyReport:
        result = job.result or {}
        recorded = result.get("verify") or {}
        files = result.get("sha256") or {}
        tflite = Path(result.get("tflite") or manifest_path.with_suffix(".tflite"))
        if (
            recorded.get("compatible")
            and files.get("manifest") == _sha256(manifest_path)
            and files.get("tflite") == _sha256(tflite)
        ):
            return VerifyReport.from_dict(recorded)
        return verify_in_child(manifest_path)

    return verify


def verify_in_child(manifest_path: Path) -> VerifyReport:
    """`mww-verify --json` in its own process, read back as a report."""
    command = [sys.executable, "-m", "mww_trainer.cli.verify", "--json", str(manifest_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=VERIFY_TIMEOUT_S)
    try:
        return VerifyReport.from_dict(json.loads(done.stdout))
    except (ValueError, KeyError, TypeError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(
            500, f"{manifest_path.name}: could not verify the model: {tail[0]}"
        ) from None


def _sha256(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def _install(folder: Path, manifest_path: Path, device_name: str, job: Job) -> dict[str, Any]:
    device = _device(folder, device_name)
    options = DeployOptions(verifier=trusted_verifier(job))
    result = deploy(manifest_path, device, folder, options=options)
    return {
        "device": device.name,
        "yaml_file": device.yaml_file,
        "model_id": result.model_id,
        "changed": result.changed,
        "validated": result.validated,
        "model_ids": list(result.model_ids) if result.model_ids is not None else None,
        "backup": _relative(result.backup, folder),
        "folder": _relative(result.folder, folder),
        "diff": result.diff,
        "warnings": list(result.warnings),
    }


async def undo_last(settings: Settings, device_name: str) -> dict[str, Any]:
    folder = esphome_folder(settings)
    return await asyncio.to_thread(_undo, folder, device_name)


def _undo(folder: Path, device_name: str) -> dict[str, Any]:
    device = _device(folder, device_name)
    result = undo(device, folder)
    return {
        "device": device.name,
        "yaml_file": device.yaml_file,
        "method": result.method,  # "restored" byte-for-byte, or "removed_entry"
        "validated": result.validated,
        "backup": _relative(result.backup, folder),
        "removed_folder": _relative(result.removed_folder, folder),
        "diff": result.diff,
    }


async def flash_request(settings: Settings, model_job: Job, device_name: str) -> dict[str, Any]:
    """The stored request of a flash job, once the device is known to be flashable."""
    folder = esphome_folder(settings)
    device = await asyncio.to_thread(_device, folder, device_name)
    if device.error or device.platform not in INSTALLABLE_PLATFORMS:
        raise conflict(
            f"{device.yaml_file}: {device.error or f'an {device.platform} device'};"
            " only ESP32 devices run micro_wake_word"
        )
    return {"device": device.yaml_file, "model_job": model_job.id}


def flash_spec(request: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """job.json of a flash job: ESPHome's caches live in the add-on's data folder."""
    build = settings.data_dir / BUILD_DIR
    spec = FlashSpec(
        esphome_dir=str(esphome_folder(settings)),
        device=request["device"],
        platformio_core_dir=str(build / "platformio"),
        data_dir=str(build / "esphome"),
    )
    return spec_to_dict(spec)


def _device(folder: Path, name: str) -> Device:
    try:
        return find_device(folder, name)
    except DeviceNotFoundError as err:
        raise UserError(404, str(err)) from None


def _relative(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.relative_to(folder.resolve()))
    except ValueError:
        return str(path)
