"""Put a verified model into a device's configuration, or take the last one out again.

deploy: verify the model → (under the folder lock) read the device YAML, plan the one
`packages:` line and the files of wake_words/<slug>/, show the diff, back the YAML up,
write, validate with `esphome config`, and roll everything back byte-for-byte if ESPHome
says no. Undo lives in undo.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mww_trainer.device.manifest import Manifest
from mww_trainer.device.sensitivity import Sensitivity, read_sidecar
from mww_trainer.device.verify import VerifyReport, verify_model
from mww_trainer.errors import MwwError
from mww_trainer.esphome import backup as bk
from mww_trainer.esphome.devices import Device, declared_ids
from mww_trainer.esphome.errors import (
    DeployDeclined,
    DeployError,
    ValidationError,
)
from mww_trainer.esphome.runner import ESPHOME_COMMAND, ConfigCheck, validate_config
from mww_trainer.esphome.secrets import Redactor
from mww_trainer.esphome.snippet import ModelNames, package_text
from mww_trainer.esphome.yaml_edit import PackageEntry, add_package, unified_diff

Verifier = Callable[[Path], VerifyReport]


@dataclass(frozen=True)
class DeployOptions:
    validate: bool = True  # run `esphome config` after writing (and roll back on failure)
    esphome_command: tuple[str, ...] = ESPHOME_COMMAND
    env: Mapping[str, str] | None = None  # extra environment for ESPHome
    verifier: Verifier | None = None  # None: mww_trainer.device.verify.verify_model
    lock_timeout_s: float = bk.LOCK_TIMEOUT_S


@dataclass(frozen=True)
class DeployPlan:
    """Everything deploy will change, before it changes anything."""

    device: Device
    manifest: Manifest
    names: ModelNames
    original: bytes  # the device YAML as read under the lock
    new_text: str
    files: Mapping[str, bytes]  # the content of wake_words/<slug>/
    files_changed: bool
    diff: str  # the YAML diff, then the package file's
    warnings: tuple[str, ...]

    @property
    def yaml_changed(self) -> bool:
        return self.new_text.encode("utf-8") != self.original

    @property
    def folder(self) -> Path:
        return self.device.yaml_path.parent / self.names.folder


@dataclass(frozen=True)
class DeployResult:
    device: Device
    model_id: str
    folder: Path  # wake_words/<slug>/ in the ESPHome folder
    yaml_changed: bool
    files_changed: bool
    backup: Path | None  # the saved original YAML (None when the YAML did not change)
    diff: str
    warnings: tuple[str, ...] = ()
    model_ids: tuple[str, ...] | None = None  # ESPHome's final model order, when validated
    validated: bool = False

    @property
    def changed(self) -> bool:
        return self.yaml_changed or self.files_changed


def deploy(
    manifest_path: str | Path,
    device: Device,
    esphome_dir: str | Path,
    *,
    confirm: Callable[[DeployPlan], bool] | None = None,
    options: DeployOptions | None = None,
) -> DeployResult:
    """Add the model to `device`; `confirm` sees the plan first (None: go ahead)."""
    options = options or DeployOptions()
    manifest_path, esphome_dir = Path(manifest_path), Path(esphome_dir)
    check_folder(device, esphome_dir)
    _check_platform(device)
    manifest = verified_manifest(manifest_path, options.verifier)
    with bk.folder_lock(esphome_dir, timeout_s=options.lock_timeout_s):
        plan = plan_deploy(manifest_path, device, manifest=manifest)
        if not (plan.yaml_changed or plan.files_changed):
            return _result(plan, None, None, warnings=("already deployed: nothing changed",))
        if confirm is not None and not confirm(plan):
            raise DeployDeclined(f"not deployed: {device.yaml_file} and its models are unchanged")
        return _apply(plan, esphome_dir, options)


def verified_manifest(manifest_path: Path, verifier: Verifier | None = None) -> Manifest:
    """The manifest, once the model passed every ESPHome compatibility check."""
    if manifest_path.suffix.lower() != ".json":
        raise DeployError(f"{manifest_path}: deploy takes the manifest .json, not the model file")
    report = (verifier or verify_model)(manifest_path)
    if not report.compatible:
        failed = [f"  - {line}" for line in report.failures() if line != report.error]
        reason = report.error or "the model failed these checks"
        raise DeployError(
            f"{manifest_path}: not deployed, ESPHome could not run it ({reason}):\n"
            + "\n".join(failed)
        )
    return Manifest.from_file(manifest_path)


def plan_deploy(manifest_path: Path, device: Device, *, manifest: Manifest) -> DeployPlan:
    """Read the device YAML and the model files and work out every change."""
    _check_platform(device)
    names = ModelNames.for_manifest(manifest, manifest_path)
    yaml_path = device.yaml_path
    original = read_bytes(yaml_path)
    old_text = _decode(original, yaml_path)
    _check_ids(yaml_path, names)
    entry = PackageEntry(names.package_key, names.package_path)
    new_text = add_package(old_text, entry, source=device.yaml_file)
    package = package_text(manifest, names, _sensitivity(manifest_path, manifest))
    files = {
        names.manifest_file: read_bytes(manifest_path),
        names.tflite_file: read_bytes(manifest_path.parent / manifest.model),
        names.package_file: package.encode("utf-8"),
    }
    folder = yaml_path.parent / names.folder
    if folder.exists() and not (folder / names.package_file).is_file():
        raise DeployError(
            f"{folder} exists but was not made by mww-trainer (no {names.package_file});"
            " deploy replaces that folder as a whole, so move your files elsewhere first"
        )
    swap = bk.FolderSwap(folder, files)
    old_package = _old_text(folder / names.package_file)
    redact = Redactor.for_config(yaml_path.parent, yaml_path)
    diff = redact(unified_diff(old_text, new_text, device.yaml_file)) + unified_diff(
        old_package, package, names.package_path
    )
    return DeployPlan(
        device=device,
        manifest=manifest,
        names=names,
        original=original,
        new_text=new_text,
        files=files,
        files_changed=swap.changed,
        diff=diff,
        warnings=tuple(_plan_warnings(device)),
    )


def _apply(plan: DeployPlan, esphome_dir: Path, options: DeployOptions) -> DeployResult:
    yaml_path = plan.device.yaml_path
    swap = bk.FolderSwap(plan.folder, dict(plan.files))
    saved: bk.Backup | None = None
    try:
        if plan.yaml_changed:
            record = {
                "package_key": plan.names.package_key,
                "include": plan.names.package_path,
                "model_id": plan.names.model_id,
                "written_sha256": bk.sha256_hex(plan.new_text.encode("utf-8")),
            }
            saved = bk.save_backup(esphome_dir, yaml_path, plan.original, record)
        if plan.files_changed:
            swap.apply()
        if plan.yaml_changed:
            bk.write_bytes_atomic(yaml_path, plan.new_text.encode("utf-8"))
    except OSError as err:
        _roll_back(plan, swap, saved)
        where = Path(err.filename).parent if err.filename else yaml_path.parent
        raise DeployError(
            f"not deployed: {bk.describe_os_error(err, where)}. Nothing was changed"
        ) from err
    except BaseException:
        _roll_back(plan, swap, saved)
        raise
    check = _validate(plan, swap, saved, options)
    swap.commit()
    order = _order_warnings(plan.names.model_id, check.model_ids if check else None)
    return _result(plan, saved, check, warnings=(*plan.warnings, *order))


def _validate(plan, swap, saved, options: DeployOptions) -> ConfigCheck | None:
    """`esphome config` on the edited file; anything but success rolls back."""
    if not options.validate:
        return None
    yaml_path = plan.device.yaml_path
    try:
        check = validate_config(
            yaml_path,
            esphome_command=options.esphome_command,
            env=options.env,
            redact=Redactor.for_config(yaml_path.parent, yaml_path),
        )
    except BaseException:
        _roll_back(plan, swap, saved)
        raise
    if not check.ok:
        _roll_back(plan, swap, saved)
        shown = "\n".join(f"  {line}" for line in check.errors)
        if not _valid_before(plan, options):
            raise ValidationError(
                f"ESPHome rejects {plan.device.yaml_file} as it is, without the model too:"
                f" fix the file (esphome config {plan.device.yaml_file} shows the same), then"
                f" install again. Nothing was changed.\n{shown}",
                output=check.errors,
            )
        raise ValidationError(
            f"ESPHome rejected {plan.device.yaml_file} with {plan.names.package_key} added;"
            f" the file and wake_words/{plan.names.slug}/ are back as they were.\n{shown}",
            output=check.errors,
        )
    return check


def _valid_before(plan: DeployPlan, options: DeployOptions) -> bool:
    """Whether ESPHome accepts the device YAML as it was (run once the edit is rolled back)."""
    yaml_path = plan.device.yaml_path
    return validate_config(
        yaml_path,
        esphome_command=options.esphome_command,
        env=options.env,
        redact=Redactor.for_config(yaml_path.parent, yaml_path),
    ).ok


def _roll_back(plan: DeployPlan, swap: bk.FolderSwap, saved: bk.Backup | None) -> None:
    """Put the YAML back byte-for-byte, the model folder back, and drop the backup."""
    yaml_path = plan.device.yaml_path
    try:
        if yaml_path.read_bytes() != plan.original:
            bk.write_bytes_atomic(yaml_path, plan.original)
    except OSError as err:
        where = saved.path if saved else "(no backup)"
        raise DeployError(
            f"could not restore {yaml_path} ({err.strerror or err}); its original is in {where}"
        ) from err
    finally:
        swap.rollback()
    if saved is not None:
        bk.discard_backup(saved)


def _result(plan, saved, check, *, warnings: Sequence[str]) -> DeployResult:
    return DeployResult(
        device=plan.device,
        model_id=plan.names.model_id,
        folder=plan.folder,
        yaml_changed=plan.yaml_changed,
        files_changed=plan.files_changed,
        backup=saved.path if saved else None,
        diff=plan.diff,
        warnings=tuple(warnings),
        model_ids=check.model_ids if check else None,
        validated=check is not None,
    )


def check_folder(device: Device, esphome_dir: Path) -> None:
    if device.yaml_path.parent != esphome_dir.resolve():
        raise DeployError(
            f"{device.yaml_path} is not at the top of the ESPHome folder {esphome_dir}"
        )


def _check_platform(device: Device) -> None:
    if device.error:
        raise DeployError(f"{device.yaml_file}: {device.error}")
    if device.platform not in (None, "esp32"):
        raise DeployError(
            f"{device.yaml_file} is an {device.platform} device: micro_wake_word runs only on"
            " an ESP32 (S3 recommended) with the esp-idf framework"
        )


def _check_ids(yaml_path: Path, names: ModelNames) -> None:
    ids = declared_ids(yaml_path, skip_packages={names.package_key})
    for ours in (names.model_id, names.sensitivity_id):
        if ours in ids:
            where = "the file itself" if ids[ours] == "main" else ids[ours]
            raise DeployError(
                f"{yaml_path.name} already declares id '{ours}' (in {where}); ESPHome"
                " ids must be unique. Rename that id, then deploy again"
            )


def _sensitivity(manifest_path: Path, manifest: Manifest) -> Sensitivity | None:
    """The levels measured beside the manifest (sensitivity.json), if they are this model's."""
    try:
        return read_sidecar(manifest_path, manifest.model)
    except MwwError as err:
        raise DeployError(f"not deployed: {err}") from err


def _plan_warnings(device: Device) -> list[str]:
    warnings = []
    if not device.has_micro_wake_word:
        warnings.append(
            f"{device.yaml_file} has no micro_wake_word block in the file or its local packages"
            " (remote packages were not inspected): the model needs one with a microphone"
            " and an on_wake_word_detected action"
        )
    if device.framework == "arduino":
        warnings.append("micro_wake_word needs the esp-idf framework; this device uses arduino")
    return warnings


def _order_warnings(model_id: str, ids: tuple[str, ...] | None) -> list[str]:
    if ids is None:
        return []
    if model_id not in ids:
        return [f"ESPHome's validated config does not list the model '{model_id}'"]
    position = ids.index(model_id)
    if position > 0:
        return [
            f"'{model_id}' is model {position + 1} of {len(ids)} ({', '.join(ids)}): only the"
            f" first ('{ids[0]}') is enabled on first boot. Enable '{model_id}' from Home"
            " Assistant or with micro_wake_word.enable_model"
        ]
    if len(ids) > 1:
        return [
            f"'{model_id}' is now the first of {len(ids)} models ({', '.join(ids)}): it is the"
            " one enabled on first boot (ESPHome puts package models before the file's own)"
        ]
    return []


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DeployError(f"cannot read {path} ({err.strerror or err})") from err


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DeployError(f"{path}: not UTF-8 text ({err})") from err


def _old_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


__all__ = [
    "DeployOptions",
    "DeployPlan",
    "DeployResult",
    "check_folder",
    "deploy",
    "plan_deploy",
    "read_bytes",
    "verified_manifest",
]
