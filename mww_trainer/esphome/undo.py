"""Undo the newest deploy into a device: its YAML back as it was, and our model folder gone
once no device includes it. The YAML is restored byte-for-byte from the backup, or, if the
user edited the file since, only our `packages:` entry is removed (and ESPHome validates).
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.esphome import backup as bk
from mww_trainer.esphome.deploy import DeployOptions, check_folder, read_bytes
from mww_trainer.esphome.devices import Device
from mww_trainer.esphome.errors import DeployError, ValidationError
from mww_trainer.esphome.runner import validate_config
from mww_trainer.esphome.secrets import Redactor
from mww_trainer.esphome.snippet import WAKE_WORDS_DIR
from mww_trainer.esphome.yaml_edit import PackageEntry, remove_package, unified_diff


@dataclass(frozen=True)
class UndoResult:
    device: Device
    method: str  # "restored" (byte-for-byte from the backup) or "removed_entry"
    backup: Path  # the backup used, renamed to <name>.<time>.undone.yaml
    diff: str
    validated: bool = False
    removed_folder: Path | None = None  # wake_words/<slug>/, once no device YAML includes it


def undo(
    device: Device, esphome_dir: str | Path, *, options: DeployOptions | None = None
) -> UndoResult:
    """Undo the newest deploy into `device`: its YAML back as it was before."""
    options = options or DeployOptions()
    esphome_dir = Path(esphome_dir)
    check_folder(device, esphome_dir)
    with bk.folder_lock(esphome_dir, timeout_s=options.lock_timeout_s):
        saved = bk.latest_backup(esphome_dir, device.yaml_path)
        if saved is None:
            raise DeployError(
                f"nothing to undo: no deploy backup of {device.yaml_file} in"
                f" {bk.backup_dir(esphome_dir)}"
            )
        current = read_bytes(device.yaml_path)
        written = saved.record.get("written_sha256")
        if written is None or written == bk.sha256_hex(current):
            new = read_bytes(saved.path)
            method = "restored"
        else:
            new = _without_entry(device, saved, current).encode("utf-8")
            method = "removed_entry"
        diff = unified_diff(current.decode("utf-8"), new.decode("utf-8"), device.yaml_file)
        result = _undo_write(device, saved, current, new, method, diff, options)
        removed = _drop_unused_folder(esphome_dir.resolve(), saved.record.get("include") or "")
        return dataclasses.replace(result, removed_folder=removed)


def _drop_unused_folder(esphome_dir: Path, include: str) -> Path | None:
    """Remove the model folder deploy wrote once no YAML at the top of the folder includes it;
    only a folder under wake_words/ that holds our package file."""
    package = esphome_dir / include
    folder = package.parent
    if not include or folder.parent != esphome_dir / WAKE_WORDS_DIR or not package.is_file():
        return None
    for yaml_path in [*esphome_dir.glob("*.yaml"), *esphome_dir.glob("*.yml")]:
        try:
            if include in yaml_path.read_text(encoding="utf-8", errors="replace"):
                return None
        except OSError:
            return None  # a file we cannot read may include it: keep the folder
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def _without_entry(device: Device, saved: bk.Backup, current: bytes) -> str:
    entry = PackageEntry(saved.record.get("package_key", ""), saved.record.get("include", ""))
    text = current.decode("utf-8")
    new = remove_package(text, entry, source=device.yaml_file)
    if new == text:
        raise DeployError(
            f"{device.yaml_file} was edited after the deploy of {saved.record.get('created')}"
            f" and no longer includes {entry.include}: nothing to undo"
            f" (the old file is kept in {saved.path})"
        )
    return new


def _undo_write(device, saved, current, new, method, diff, options) -> UndoResult:
    try:
        bk.write_bytes_atomic(device.yaml_path, new)
    except OSError as err:
        raise DeployError(
            f"not undone: {bk.describe_os_error(err, device.yaml_path)}. Nothing was changed"
        ) from err
    validated = False
    if method == "removed_entry" and options.validate:
        check = validate_config(
            device.yaml_path,
            esphome_command=options.esphome_command,
            env=options.env,
            redact=Redactor.for_config(device.yaml_path.parent, device.yaml_path),
        )
        if not check.ok:
            bk.write_bytes_atomic(device.yaml_path, current)
            shown = "\n".join(f"  {line}" for line in check.errors)
            raise ValidationError(
                f"ESPHome rejected {device.yaml_file} without the package;"
                f" nothing changed.\n{shown}",
                output=check.errors,
            )
        validated = True
    return UndoResult(device, method, bk.retire_backup(saved), diff, validated)
