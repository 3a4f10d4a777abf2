"""Compile a device's firmware and flash it over the air, through ESPHome itself.

    esphome compile FILE                                 (or the dashboard's /compile)
    esphome upload FILE --device ADDRESS [--file BIN]    (or the dashboard's /upload)

ESPHome reads the OTA password from the config (secrets included): we never touch it.
Every output line goes to `on_line` (and as a ProgressEvent to `on_progress`); the
outcome is classified from ESPHome's own messages into something a user can act on.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from mww_trainer.esphome.devices import Device
from mww_trainer.esphome.runner import (
    ESPHOME_COMMAND,
    CommandResult,
    LineCallback,
    esphome_env,
    run_streaming,
)
from mww_trainer.esphome.secrets import Redactor
from mww_trainer.progress import ProgressCallback, ProgressEvent

COMPILE_TIMEOUT_S = 3600.0  # the first compile downloads and builds the whole toolchain
UPLOAD_TIMEOUT_S = 600.0
EVIDENCE_CHARS = 240
_PERCENT = re.compile(r"(\d{1,3})%")


class Failure(StrEnum):
    CONFIG = "config"  # ESPHome rejected the YAML
    TOOLCHAIN_DOWNLOAD = "toolchain_download"  # platform/toolchain/library download failed
    COMPILE = "compile"  # the C++ build failed
    OFFLINE = "offline"  # the device could not be reached
    AUTH = "auth"  # the device rejected the OTA password
    FLASH = "flash"  # the device took the connection but the update failed
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


_BOTH, _COMPILE, _UPLOAD = ("compile", "upload"), ("compile",), ("upload",)
# (kind, stages, output patterns): the first kind with a matching line wins, in this order.
_RULES: tuple[tuple[Failure, tuple[str, ...], tuple[str, ...]], ...] = (
    (Failure.CONFIG, _BOTH, (r"^Failed config", r"Error while reading config", r"Invalid YAML")),
    (
        Failure.TOOLCHAIN_DOWNLOAD,
        _COMPILE,
        (
            r"Package download failed",
            r"(Platform|Tool|Library) Manager: .*Error",
            r"Failed to resolve '",
            r"Could not resolve host",
            r"HTTPClientError|HTTPSConnectionPool|NameResolutionError",
            r"Failed to download",
        ),
    ),
    (Failure.COMPILE, _COMPILE, (r"\berror:", r"\*\*\* \[", r"compilation terminated")),
    (
        Failure.AUTH,
        _UPLOAD,
        (r"Authentication invalid", r"requests password, but no password given", r"Unauthorized"),
    ),
    (
        Failure.OFFLINE,
        _UPLOAD,
        (
            r"Connecting to .* failed",
            r"Error resolving IP address",
            r"could not be resolved",
            r"Connection refused|timed out|No route to host|Network is unreachable",
        ),
    ),
    (
        Failure.FLASH,
        _UPLOAD,
        (
            r"Device closed connection without responding",
            r"Unexpected response from ESP",
            r"^ERROR ",  # any other device-side error espota2 reports
        ),
    ),
)


@dataclass(frozen=True)
class FlashOptions:
    esphome_command: tuple[str, ...] = ESPHOME_COMMAND
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment for ESPHome
    platformio_core_dir: Path | None = None  # PlatformIO's cache; keep it to compile fast
    data_dir: Path | None = None  # ESPHome's build folder (default <config>/.esphome)
    address: str | None = None  # where to upload; default: the device's (or ESPHome's "OTA")
    dashboard_url: str | None = None  # go through ESPHome Device Builder instead
    compile_timeout_s: float = COMPILE_TIMEOUT_S
    upload_timeout_s: float = UPLOAD_TIMEOUT_S

    def environment(self) -> dict[str, str]:
        extra = dict(self.env)
        if self.platformio_core_dir is not None:
            extra["PLATFORMIO_CORE_DIR"] = str(self.platformio_core_dir)
        if self.data_dir is not None:
            extra["ESPHOME_DATA_DIR"] = str(self.data_dir)
        return esphome_env(extra)


@dataclass(frozen=True)
class FlashResult:
    ok: bool
    stage: str  # "compile" or "upload": where it ended
    failure: Failure | None
    message: str  # one paragraph for the user: what happened and what to do
    returncode: int | None
    lines: tuple[str, ...]  # the tail of the output, secrets masked
    seconds: float


@dataclass(frozen=True)
class _Job:
    device: Device
    esphome_dir: Path
    on_line: LineCallback | None
    on_progress: ProgressCallback | None
    cancel_event: threading.Event | None
    options: FlashOptions
    redact: Redactor

    def line_handler(self, stage: str) -> LineCallback:
        def handle(line: str) -> None:
            if self.on_line is not None:
                self.on_line(line)
            if self.on_progress is not None:
                self.on_progress(_event(stage, line))

        return handle


def flash(
    device: Device,
    esphome_dir: str | Path,
    *,
    on_line: LineCallback | None = None,
    cancel_event: threading.Event | None = None,
    dashboard_url: str | None = None,
    on_progress: ProgressCallback | None = None,
    options: FlashOptions | None = None,
) -> FlashResult:
    """Compile, then upload over the air."""
    job = _job(device, esphome_dir, on_line, on_progress, cancel_event, options, dashboard_url)
    compiled = _compile(job)
    if not compiled.ok:
        return compiled
    uploaded = _upload(job, firmware=None)
    return dataclasses.replace(uploaded, seconds=compiled.seconds + uploaded.seconds)


def upload_firmware(
    device: Device,
    esphome_dir: str | Path,
    firmware: str | Path,
    *,
    on_line: LineCallback | None = None,
    cancel_event: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    options: FlashOptions | None = None,
) -> FlashResult:
    """Upload an existing firmware image (`esphome upload --file`), no compile."""
    firmware = Path(firmware).resolve()
    if not firmware.is_file():
        return FlashResult(
            False, "upload", Failure.UNKNOWN, f"no firmware image at {firmware}", None, (), 0.0
        )
    job = _job(device, esphome_dir, on_line, on_progress, cancel_event, options, None)
    return _upload(job, firmware=firmware)


def _job(device, esphome_dir, on_line, on_progress, cancel_event, options, dashboard_url):
    options = options or FlashOptions()
    if dashboard_url is not None:
        options = dataclasses.replace(options, dashboard_url=dashboard_url)
    esphome_dir = Path(esphome_dir)
    return _Job(
        device=device,
        esphome_dir=esphome_dir,
        on_line=on_line,
        on_progress=on_progress,
        cancel_event=cancel_event,
        options=options,
        redact=Redactor.for_config(esphome_dir, device.yaml_path),
    )


def _compile(job: _Job) -> FlashResult:
    if job.options.dashboard_url:
        result = _dashboard(job, "compile", port=None)
    else:
        args = [*job.options.esphome_command, "compile", str(job.device.yaml_path)]
        result = _run(job, args, "compile", job.options.compile_timeout_s)
    return classify("compile", result, job.device, job.options)


def _upload(job: _Job, firmware: Path | None) -> FlashResult:
    address = job.options.address or upload_address(job.device)
    if job.options.dashboard_url and firmware is None:
        result = _dashboard(job, "upload", port=address)
    else:
        args = [*job.options.esphome_command, "upload", str(job.device.yaml_path)]
        args += ["--device", address]
        if firmware is not None:
            args += ["--file", str(firmware)]
        result = _run(job, args, "upload", job.options.upload_timeout_s)
    return classify("upload", result, job.device, job.options)


def upload_address(device: Device) -> str:
    """A fixed address from the YAML, else "OTA": ESPHome then resolves the name itself."""
    if device.address and device.address_source in ("use_address", "static_ip"):
        return device.address
    return "OTA"


def _run(job: _Job, args: list[str], stage: str, timeout_s: float) -> CommandResult:
    return run_streaming(
        args,
        cwd=job.esphome_dir,
        env=job.options.environment(),
        on_line=job.line_handler(stage),
        cancel_event=job.cancel_event,
        timeout_s=timeout_s,
        redact=job.redact,
    )


def _dashboard(job: _Job, command: str, port: str | None) -> CommandResult:
    from mww_trainer.esphome.dashboard import DashboardClient

    client = DashboardClient(job.options.dashboard_url or "")
    timeout_s = job.options.compile_timeout_s if command == "compile" else None
    return client.run(
        command,
        job.device.yaml_file,
        port=port,
        on_line=job.line_handler(command),
        cancel_event=job.cancel_event,
        timeout_s=timeout_s or job.options.upload_timeout_s,
        redact=job.redact,
    )


def classify(stage: str, result: CommandResult, device: Device, options: FlashOptions):
    """A FlashResult whose message says what failed and what to do about it."""
    tail = result.lines[-200:]
    if result.ok:
        done = "compiled" if stage == "compile" else f"flashed {device.name}"
        return FlashResult(True, stage, None, done, 0, tail, result.seconds)
    if result.cancelled:
        kind = Failure.CANCELLED
    elif result.timed_out:
        kind = Failure.TIMEOUT
    else:
        kind = failure_kind(result.lines, stage)
    message = _message(kind, stage, device, options, _evidence(kind, result.lines))
    return FlashResult(False, stage, kind, message, result.returncode, tail, result.seconds)


def failure_kind(lines: tuple[str, ...] | list[str], stage: str) -> Failure:
    """The first rule for `stage` that any output line matches."""
    for kind, stages, patterns in _RULES:
        if stage in stages and any(re.search(p, x) for p in patterns for x in lines):
            return kind
    return Failure.COMPILE if stage == "compile" else Failure.UNKNOWN


def _evidence(kind: Failure, lines: tuple[str, ...]) -> str:
    """The output line that decided the classification (or the last line), shortened."""
    found = lines[-1].strip() if lines else ""
    for rule_kind, _, patterns in _RULES:
        if rule_kind is kind:
            found = next((x for x in lines if any(re.search(p, x) for p in patterns)), found)
    return found if len(found) <= EVIDENCE_CHARS else found[: EVIDENCE_CHARS - 1] + "…"


def _message(kind, stage, device: Device, options: FlashOptions, evidence: str) -> str:
    name, where = device.name, options.address or upload_address(device)
    cache = options.environment().get("PLATFORMIO_CORE_DIR", "~/.platformio")
    texts = {
        Failure.CONFIG: f"ESPHome rejected {device.yaml_file}; fix the YAML and try again",
        Failure.TOOLCHAIN_DOWNLOAD: (
            "the first compile downloads the ESP32 platform and toolchain (about 1 GB) and"
            " that download failed: this machine needs internet access for it. Later"
            f" compiles reuse the cache in {cache}"
        ),
        Failure.COMPILE: f"the firmware for {name} did not compile; see ESPHome's log",
        Failure.OFFLINE: (
            f"could not reach {name} at {where}: is it powered and on the network? If its"
            " address changed, set wifi: use_address in its YAML"
        ),
        Failure.AUTH: (
            f"{name} rejected the OTA password: the ota: password in {device.yaml_file}"
            " (or secrets.yaml) must match the one the device was last flashed with"
        ),
        Failure.FLASH: (
            f"{name} accepted the connection but the update failed; the device keeps its"
            " old firmware. Try again, or restart the device"
        ),
        Failure.CANCELLED: f"{stage} cancelled; the device keeps its old firmware",
        Failure.TIMEOUT: f"{stage} took too long and was stopped",
        Failure.UNKNOWN: f"{stage} failed; see ESPHome's log",
    }
    text = texts[kind]
    return f"{text} ({evidence})" if evidence and kind is not Failure.CANCELLED else text


def _event(stage: str, line: str) -> ProgressEvent:
    match = _PERCENT.search(line) if "Uploading" in line else None
    if match:
        return ProgressEvent(stage="upload", done=int(match.group(1)), total=100, message=line)
    return ProgressEvent(stage=stage, message=line)


__all__ = [
    "Failure",
    "FlashOptions",
    "FlashResult",
    "classify",
    "failure_kind",
    "flash",
    "upload_address",
    "upload_firmware",
]
