"""Check a model (and its manifest) against what ESPHome's micro_wake_word demands.

`verify_model` never stops at the first problem: every check is reported, and a check that
cannot run because an earlier one failed is reported as failed with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mww_trainer import constants
from mww_trainer.device import arena, runtime
from mww_trainer.device.manifest import (
    Manifest,
    esphome_schema_problems,
    manifest_problems,
    read_manifest_json,
)
from mww_trainer.device.tflite_model import Tensor, TFLiteFormatError, TFLiteModel
from mww_trainer.errors import ManifestError, MwwError

SCALE_TOLERANCE = 1e-6
MODEL_CHECKS = (
    "Schema",
    "Subgraphs",
    "Input",
    "Output",
    "Quantisation",
    "Ops",
    "Variables",
    "Runtime",
    "Arena",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    skipped: bool = False  # did not run (ok=False when an earlier failure prevented it)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "skipped": self.skipped, "detail": self.detail}


@dataclass
class VerifyReport:
    path: Path
    model_path: Path | None = None
    manifest_path: Path | None = None
    checks: list[Check] = field(default_factory=list)
    readable: bool = True  # False: the input could not be read at all (CLI exit 2)
    error: str | None = None  # why it could not be read
    model: TFLiteModel | None = None
    measured_arena_bytes: int | None = None
    seconds: float = 0.0

    @property
    def compatible(self) -> bool:
        return self.readable and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str, *, skipped: bool = False) -> Check:
        check = Check(name, ok, detail, skipped)
        self.checks.append(check)
        return check

    def passed(self, name: str) -> bool:
        return any(c.name == name and c.ok and not c.skipped for c in self.checks)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyReport:
        """A report another process made (to_dict's output); `model` is not carried over."""

        def path(key: str) -> Path | None:
            return None if data.get(key) is None else Path(data[key])

        checks = [
            Check(c["name"], bool(c["ok"]), c["detail"], bool(c.get("skipped")))
            for c in data.get("checks", [])
        ]
        return cls(
            Path(data["path"]),
            path("model"),
            path("manifest"),
            checks,
            readable=bool(data.get("readable", True)),
            error=data.get("error"),
            measured_arena_bytes=data.get("measured_arena_bytes"),
            seconds=float(data.get("seconds", 0.0)),
        )

    def failures(self) -> list[str]:
        """ "name: detail" for each failed check, or why the input could not be read."""
        failed = [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]
        return failed or ([self.error] if self.error else [])

    def format(self, marks: tuple[str, str, str] = ("[ok]", "[FAIL]", "[skip]")) -> str:
        """Every check on its own line with its mark (ok, failed, skipped), then the answer."""
        ok_mark, fail_mark, skip_mark = marks
        target = str(self.path)
        if self.manifest_path is not None and self.model_path is not None:
            target += f" (model {self.model_path.name})"
        lines = [f"Verifying {target}"]
        for c in self.checks:
            mark = fail_mark if not c.ok else skip_mark if c.skipped else ok_mark
            lines.append(f"{mark} {c.name}: {c.detail}")
        verdict = "YES" if self.compatible else "NO"
        unchecked = [c.name for c in self.checks if c.ok and c.skipped]
        if self.compatible and unchecked:  # a check that could not run never counts as passed
            verdict += f", but not checked: {', '.join(unchecked)}"
        lines.append(f"ESPHome compatible: {verdict}  ({self.seconds:.1f} s)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "model": None if self.model_path is None else str(self.model_path),
            "manifest": None if self.manifest_path is None else str(self.manifest_path),
            "compatible": self.compatible,
            "readable": self.readable,
            "error": self.error,
            "measured_arena_bytes": self.measured_arena_bytes,
            "recommended_arena_bytes": (
                None
                if self.measured_arena_bytes is None
                else arena.recommended_arena_size(self.measured_arena_bytes)
            ),
            "seconds": round(self.seconds, 3),
            "checks": [c.to_dict() for c in self.checks],
        }


def verify_model(
    path: str | Path, *, manifest: Manifest | Mapping[str, Any] | None = None
) -> VerifyReport:
    """Check a .tflite file, or a manifest .json together with the .tflite it names.

    `manifest` checks a .tflite against a manifest that is not (yet) written to disk.
    """
    started = time.monotonic()
    report = VerifyReport(path=Path(path))
    manifest_dict = _manifest_dict(manifest)
    if report.path.suffix.lower() == ".json":
        if manifest is not None:
            raise ValueError("pass either a manifest .json path or manifest=, not both")
        manifest_dict = _load_manifest(report)
    else:
        report.model_path = report.path
    data = _read_model(report) if report.model_path is not None else None
    if data is not None:
        _model_checks(report, data, manifest_dict)
    else:
        for name in MODEL_CHECKS:
            report.add(name, False, "not run: no readable model (see File)", skipped=True)
    _manifest_checks(report, manifest_dict, explicit=manifest is not None)
    report.seconds = time.monotonic() - started
    return report


def _manifest_dict(manifest: Manifest | Mapping[str, Any] | None) -> Any:
    return manifest.to_dict() if isinstance(manifest, Manifest) else manifest


def _load_manifest(report: VerifyReport) -> Any:
    """Parse the manifest and find the model it names; an unreadable one ends the run."""
    report.manifest_path = report.path
    try:
        d = read_manifest_json(report.path)
    except ManifestError as err:
        report.readable, report.error = False, str(err)
        report.add("File", False, str(err))
        return None
    name = d.get("model") if isinstance(d, Mapping) else None
    if not isinstance(name, str) or not name:
        report.readable = False
        report.error = f"{report.path}: the manifest names no model file (key 'model')"
        report.add("File", False, report.error)
        return d
    report.model_path = report.path.parent / name
    return d


def _read_model(report: VerifyReport) -> bytes | None:
    path = report.model_path
    try:
        data = path.read_bytes()
        report.model = TFLiteModel.from_bytes(data)
    except OSError as err:
        report.error = f"{path}: cannot read the model ({err.strerror or err})"
    except TFLiteFormatError as err:
        report.error = f"{path}: not a TFLite model: {err}"
    if report.model is None:
        report.readable = False
        report.add("File", False, report.error)
        return None
    report.add("File", True, f"{path.name}, {len(data):,} bytes, a TFLite flatbuffer")
    return data


def _model_checks(report: VerifyReport, data: bytes, manifest_dict: Any) -> None:
    model = report.model
    _check_schema(report, model)
    _check_subgraphs(report, model)
    _check_io(report, "Input", model.inputs, constants.INPUT_SHAPE, "INT8", _input_quant())
    _check_io(report, "Output", model.outputs, constants.OUTPUT_SHAPE, "UINT8", _output_quant())
    _check_weights(report, model)
    _check_ops(report, model)
    _check_variables(report, model)
    _check_runtime(report, data)
    _check_arena(report, data, manifest_dict)


def _input_quant() -> tuple[float, int, str]:
    return constants.INPUT_SCALE, constants.INPUT_ZERO_POINT, "26/255"


def _output_quant() -> tuple[float, int, str]:
    return constants.OUTPUT_SCALE, constants.OUTPUT_ZERO_POINT, "1/256"


def _check_schema(report: VerifyReport, model: TFLiteModel) -> None:
    want = constants.TFLITE_SCHEMA_VERSION
    ok = model.schema_version == want
    detail = f"version {model.schema_version}" + ("" if ok else f", expected {want}")
    report.add("Schema", ok, detail)


def _check_subgraphs(report: VerifyReport, model: TFLiteModel) -> None:
    n = len(model.subgraphs)
    if n != 2:
        report.add(
            "Subgraphs",
            False,
            f"{n}, expected 2: main plus an init subgraph (CALL_ONCE) that zeroes the"
            " streaming state" + (" — this model has no state" if n == 1 else ""),
        )
    elif model.init_subgraphs != [1]:
        report.add("Subgraphs", False, "2, but main does not CALL_ONCE subgraph 1 (the init)")
    else:
        report.add("Subgraphs", True, "2 (correct)")


def _check_io(report, name, tensors: list[Tensor], shape, dtype, quant) -> None:
    scale, zero_point, scale_text = quant
    if len(tensors) != 1:
        report.add(name, False, f"{len(tensors)} tensors, expected exactly 1")
        return
    t = tensors[0]
    problems = []
    if t.shape != tuple(shape):
        problems.append(f"shape {list(t.shape)}, expected {list(shape)}")
    if t.dtype != dtype:
        problems.append(f"{t.dtype.lower()}, expected {dtype.lower()}")
    q = t.quantization
    if q is None or not q.per_tensor:
        problems.append(f"not quantised per tensor, expected scale {scale_text} zp {zero_point}")
    else:
        if abs(q.scales[0] - scale) > SCALE_TOLERANCE:
            problems.append(f"scale {q.scales[0]:.8g}, expected {scale_text} = {scale:.8g}")
        if q.zero_points[0] != zero_point:
            problems.append(f"zero point {q.zero_points[0]}, expected {zero_point}")
    if problems:
        report.add(name, False, "; ".join(problems))
    else:
        detail = f"{list(shape)} {dtype.lower()}, scale {scale_text}, zero point {zero_point}"
        report.add(name, True, detail)


def _check_weights(report: VerifyReport, model: TFLiteModel) -> None:
    weights = model.weight_tensors
    bad = [
        f"{op.name} {t.name or t.index} ({t.dtype.lower()})"
        for op, t in weights
        if t.dtype != "INT8"
    ]
    floats = model.float_tensors
    problems = []
    if bad:
        problems.append(f"weights not int8: {_listing(bad)}")
    if floats:
        names = [f"{t.name or t.index} ({t.dtype.lower()})" for t in floats]
        problems.append(f"{len(floats)} float tensors, e.g. {_listing(names, 3)}")
    if problems:
        report.add("Quantisation", False, "; ".join(problems) + " — the model must be fully int8")
    else:
        n = len(weights)
        detail = f"{n} conv/FC weight tensor{'' if n == 1 else 's'} int8; no float tensors"
        report.add("Quantisation", True, detail)


def _check_ops(report: VerifyReport, model: TFLiteModel) -> None:
    names = model.op_names
    missing = [n for n in names if n not in constants.DEVICE_OPS]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        report.add("Ops", False, f"{', '.join(missing)} {verb} not registered on the device")
    else:
        n_ops = sum(len(sg.operators) for sg in model.subgraphs)
        report.add("Ops", True, f"{n_ops} ops of {len(names)} kinds, all registered on the device")


def _check_variables(report: VerifyReport, model: TFLiteModel) -> None:
    variables = model.resource_variables
    limit = constants.MAX_RESOURCE_VARIABLES
    problems = []
    if len(variables) > limit:
        problems.append(f"{len(variables)} resource variables, the device allows {limit}")
    not_int8 = [
        f"{n} ({'/'.join(sorted(t)).lower() or 'unused'})"
        for n, t in variables.items()
        if t != {"INT8"}
    ]
    if not_int8:
        problems.append(f"state not int8: {_listing(not_int8)} (turn variable quantisation on)")
    old_style = [t.name for t in model.variable_tensors if t.dtype != "INT8"]
    if old_style:
        problems.append(f"variable tensors not int8: {_listing(old_style)}")
    if problems:
        report.add("Variables", False, "; ".join(problems))
    elif variables:
        n = len(variables)
        detail = f"{n} resource variable{'' if n == 1 else 's'} (max {limit}), int8"
        report.add("Variables", True, detail)
    else:
        report.add("Variables", True, "0 resource variables (a stateless model)")


# How much the two interpreters may disagree before the model is called incompatible.
ONE_STEP = 1  # of 255: a rounding difference, allowed on any slice
MAX_DIFFERING_SHARE = 0.01  # of the slices that may differ by more than one step
MAX_ROUNDING_GAP = 16  # output steps of 255, never exceeded


def _check_runtime(report: VerifyReport, data: bytes) -> None:
    blockers = [n for n in ("Input", "Output", "Ops") if not report.passed(n)]
    if blockers:
        reason = f"not run: the {', '.join(blockers)} check(s) failed"
        report.add("Runtime", False, reason, skipped=True)
        return
    slices = runtime.verification_stream()
    try:
        micro = runtime.run_stream_tflm(data, slices)
    except (RuntimeError, ValueError) as err:
        report.add("Runtime", False, f"TFLite-Micro failed: {err}")
        return
    try:
        litert = runtime.run_stream_litert(data, slices)
    except (RuntimeError, ValueError) as err:
        report.add("Runtime", False, f"LiteRT (BUILTIN_REF) failed: {err}")
        return
    ok, detail = runtime_agreement(micro, litert)
    report.add("Runtime", ok, detail)


def runtime_agreement(micro: np.ndarray, litert: np.ndarray) -> tuple[bool, str]:
    """Whether the two interpreters' outputs on the same stream agree closely enough.

    Exact agreement is the rule, but the two reference kernels can round one intermediate
    value differently and the model's streaming state carries that on: a one-step
    difference (1/255, below any cutoff's resolution) was seen on up to 21 of 250 slices of
    a tiny model. TFLite-Micro is what the device runs, so one-step differences anywhere
    and rare larger ones up to a bound are reported; frequent or large ones fail.
    """
    gap = np.abs(micro.astype(int) - litert.astype(int))
    differ = np.flatnonzero(gap)
    wide = np.flatnonzero(gap > ONE_STEP)
    total = len(micro)
    rare = wide.size <= MAX_DIFFERING_SHARE * total
    if differ.size and not (rare and gap.max() <= MAX_ROUNDING_GAP):
        i = int(wide[0])
        return False, (
            f"outputs differ by more than one step on {wide.size} of {total} slices"
            f" (first: slice {i}, TFLite-Micro {micro[i]}, LiteRT {litert[i]})"
        )
    agreement = (
        f"agree on {total} slices"
        if not differ.size
        else f"agree on {total - differ.size} of {total} slices "
        f"(largest difference {gap.max()}/255; TFLite-Micro is the device's runtime)"
    )
    return True, (
        f"TFLite-Micro and LiteRT (BUILTIN_REF) {agreement}"
        f" (noise + silence; outputs {micro.min()}..{micro.max()})"
    )


def _check_arena(report: VerifyReport, data: bytes, manifest_dict: Any) -> None:
    if not report.passed("Ops"):
        report.add("Arena", False, "not run: the Ops check failed", skipped=True)
        return
    try:
        measured = arena.measure_arena_bytes(data)
    except MwwError as err:
        report.add("Arena", False, f"cannot measure: {err}")
        return
    report.measured_arena_bytes = measured
    recommended = arena.recommended_arena_size(measured)
    host = f"measured {measured:,} B on this 64-bit host"
    micro = manifest_dict.get("micro") if isinstance(manifest_dict, Mapping) else None
    if micro is None:
        report.add("Arena", True, f"{host}; recommended tensor_arena_size {recommended:,} B")
        return
    size = micro.get("tensor_arena_size") if isinstance(micro, Mapping) else None
    if not isinstance(size, int) or isinstance(size, bool):
        report.add("Arena", False, f"{host}; the manifest's tensor_arena_size is not an integer")
    elif size < measured:
        report.add(
            "Arena",
            False,
            f"manifest {size:,} B < {host}: the model will not load; use {recommended:,} B",
        )
    else:
        note = "" if size >= recommended else f" (our 32-bit margin would give {recommended:,} B)"
        report.add("Arena", True, f"manifest {size:,} B >= {host}{note}")


def _manifest_checks(report: VerifyReport, d: Any, *, explicit: bool) -> None:
    if d is None:
        reason = "no manifest given (verify the .json to check it)"
        if report.manifest_path is not None:
            reason = "not run: the manifest could not be read"
        ok = report.manifest_path is None
        report.add("Manifest", ok, reason, skipped=True)
        report.add("ESPHome schema", ok, reason, skipped=True)
        return
    problems = manifest_problems(d)
    path = report.model_path
    if explicit and path is not None and not problems and d["model"] != path.name:
        problems.append(f'model: "{d["model"]}" is not the file being verified')
    if problems:
        report.add("Manifest", False, "; ".join(problems))
    else:
        m = Manifest.from_dict(d)
        report.add(
            "Manifest",
            True,
            f'valid v2 manifest for "{m.wake_word}" (cutoff {m.probability_cutoff},'
            f" window {m.sliding_window_size})",
        )
    esphome = esphome_schema_problems(d)
    if esphome is None:
        report.add(
            "ESPHome schema",
            True,
            "not checked: ESPHome is not installed here (pip install esphome to check it)",
            skipped=True,
        )
    elif esphome:
        report.add("ESPHome schema", False, "; ".join(esphome))
    else:
        report.add("ESPHome schema", True, "accepted by ESPHome's MANIFEST_SCHEMA_V2")


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
