"""Streaming twin -> quantised TFLite file -> arena size -> manifest, checked before it is kept.

The device runs the streaming twin, never the clip model: one `[1, 3, 40]` int8 slice
per call, state in int8 resource variables that an init subgraph zeroes. Every file
this module leaves behind has passed `verify`; a model that fails is not written.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mww_trainer import constants
from mww_trainer.config.types import ExportConfig
from mww_trainer.device.verify import VerifyReport
from mww_trainer.errors import ExportError
from mww_trainer.fileio import atomic_directory, atomic_write_bytes
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.model.stream import Mode, reset_states
from mww_trainer.progress import ProgressCallback, ProgressEvent, Stage, ignore_progress

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Slices of real features used to calibrate quantisation: enough to see every state.
DEFAULT_REPRESENTATIVE_SLICES = 1500


@dataclass(frozen=True)
class ExportRequest:
    out_dir: Path
    model_name: str
    export: ExportConfig
    # [n, 3, 40] consecutive float feature slices from real audio (None only without quantisation).
    representative: np.ndarray | None
    quantize: bool = True
    # From evaluation; when None the config's values are used.
    probability_cutoff: float | None = None
    sliding_window_size: int | None = None


@dataclass(frozen=True)
class ExportResult:
    tflite_path: Path
    manifest_path: Path | None
    saved_model_dir: Path
    size_bytes: int
    tensor_arena_size: int | None
    measured_arena_bytes: int | None
    seconds: float
    quantisation: QuantisationError | None = None
    # The check every quantised model passed before it was written (None for a float model):
    # callers trust it rather than verifying the same bytes again.
    verify: VerifyReport | None = None


def check_model_name(name: str) -> str:
    if not MODEL_NAME_PATTERN.match(name):
        raise ExportError(
            f"model name {name!r} is not usable as a file name: use letters, digits, '_' or '-' "
            "(e.g. hey_computer)"
        )
    return name


def representative_slices(
    features: Iterable[np.ndarray], *, max_slices: int = DEFAULT_REPRESENTATIVE_SLICES
) -> np.ndarray:
    """Consecutive `[3, 40]` slices of real feature sequences, pinned to the device's input range.

    The quantiser takes the input scale from the calibration range; pinning it to
    [0, 26] gives exactly the scale 26/255 and zero point -128 that the device assumes.
    """
    stride = constants.STREAM_STRIDE_FRAMES
    chunks = []
    count = 0
    for seq in features:
        usable = (len(seq) // stride) * stride
        if usable == 0:
            continue
        chunk = np.asarray(seq[:usable], dtype=np.float32).reshape(-1, stride, constants.MEL_BINS)
        chunks.append(chunk[: max_slices - count])
        count += len(chunks[-1])
        if count >= max_slices:
            break
    if not chunks:
        raise ExportError(
            "no audio to calibrate quantisation with: the int8 model needs real feature slices "
            "(put some clips in the dataset's positive/ and negative/ folders)"
        )
    slices = np.clip(np.concatenate(chunks), 0.0, constants.INPUT_MAX_FEATURE)
    slices[0, 0, 0] = 0.0
    slices[0, 0, 1] = constants.INPUT_MAX_FEATURE
    return slices


def save_streaming_model(net: MixedNet, directory: Path) -> Path:
    """The streaming twin as a SavedModel with a fixed `(1, 3, 40)` signature and zeroed state."""
    import keras
    import tensorflow as tf

    model = net.model(Mode.STREAMING)
    reset_states(model)  # the init subgraph takes the variables' values at save time
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec(constants.INPUT_SHAPE, tf.float32, name="input_audio")],
    )
    with atomic_directory(directory) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return directory


def convert_to_tflite(saved_model_dir: Path, representative: np.ndarray | None) -> bytes:
    """TFLite bytes; int8 in, uint8 out and int8 state when `representative` is given."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.experimental_enable_resource_variables = True
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.uint8
        # Without this the ring buffers stay float and DEQUANTIZE ops appear.
        converter._experimental_variable_quantization = True

        def dataset():
            for row in representative:
                yield [row[np.newaxis]]

        converter.representative_dataset = dataset
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises many types; all mean the same here
        raise ExportError(f"TFLite conversion failed: {exc}") from exc


def export_model(
    net: MixedNet, request: ExportRequest, on_progress: ProgressCallback = ignore_progress
) -> ExportResult:
    """Writes `<name>.tflite`, `manifest.json` and `streaming/` into `request.out_dir`."""
    started = time.monotonic()
    name = check_model_name(request.model_name)
    if request.quantize and request.representative is None:
        raise ExportError("quantised export needs representative feature slices")
    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    on_progress(ProgressEvent(Stage.EXPORT, 0, 4, "saving the streaming model"))
    saved = save_streaming_model(net, out_dir / "streaming")
    on_progress(ProgressEvent(Stage.EXPORT, 1, 4, "converting to TFLite"))
    data = convert_to_tflite(saved, request.representative if request.quantize else None)
    tflite_path = out_dir / f"{name}.tflite"
    if not request.quantize:
        # A float model cannot run on the device: keep it for debugging, never with a manifest.
        atomic_write_bytes(tflite_path, data)
        return ExportResult(
            tflite_path, None, saved, len(data), None, None, time.monotonic() - started
        )
    return _finish_quantised(data, request, saved, started, on_progress, net)


@dataclass(frozen=True)
class QuantisationError:
    """How far the int8 model's uint8 outputs stray from the float model's, in output steps."""

    mean_abs: float
    p99_abs: float
    float_peak: int  # highest output of the float model on the calibration stream
    int8_peak: int  # highest output of the int8 model on the same stream
    slices: int


# A sharp model may differ a lot on single slices where its output jumps; what must hold
# is the average, and that the int8 file can still say "yes" as loudly as the float model.
# A calibration that missed the wake word clips the output (e.g. at 128 = 0.5).
MAX_MEAN_QUANTISATION_ERROR = 6.0  # of 255 output steps
MAX_PEAK_LOSS = 64


def quantisation_error(net: MixedNet, data: bytes, slices: np.ndarray) -> QuantisationError:
    """Streams the calibration slices through LiteRT and the float model and compares."""
    from mww_trainer.data.features import features_to_device_int8
    from mww_trainer.device.runtime import run_stream_litert
    from mww_trainer.evaluation.scoring import sequence_outputs

    frames = slices.reshape(-1, constants.MEL_BINS)
    quantised = run_stream_litert(data, features_to_device_int8(frames).reshape(slices.shape))
    reference = sequence_outputs(net, frames)
    warm = np.flatnonzero(reference)  # sequence scoring reports 0 until a window is full
    start = int(warm[0]) if len(warm) else len(reference)
    q, r = quantised[start:].astype(int), reference[start:].astype(int)
    if not len(q):
        return QuantisationError(0.0, 0.0, 0, 0, 0)
    diff = np.abs(q - r)
    return QuantisationError(
        float(diff.mean()), float(np.percentile(diff, 99)), int(r.max()), int(q.max()), len(diff)
    )


def check_quantisation(net: MixedNet, data: bytes, slices: np.ndarray) -> QuantisationError:
    error = quantisation_error(net, data, slices)
    clipped = error.int8_peak < error.float_peak - MAX_PEAK_LOSS
    if error.mean_abs > MAX_MEAN_QUANTISATION_ERROR or clipped:
        raise ExportError(
            f"the int8 model does not behave like the trained model on {error.slices} slices "
            f"of real audio (mean difference {error.mean_abs:.1f}/255, highest output "
            f"{error.int8_peak} vs {error.float_peak}): quantisation was calibrated on audio "
            "unlike what the model reacts to. Export with the dataset the model was trained "
            "on (paths.positive_dir must hold wake-word clips)."
        )
    return error


def _finish_quantised(
    data: bytes,
    request: ExportRequest,
    saved: Path,
    started: float,
    on_progress: ProgressCallback,
    net: MixedNet,
) -> ExportResult:
    from mww_trainer.device import arena, manifest, verify

    quant_error = check_quantisation(net, data, request.representative)

    on_progress(ProgressEvent(Stage.EXPORT, 2, 4, "measuring the tensor arena in TFLite-Micro"))
    measured = arena.measure_arena_bytes(data)
    arena_size = request.export.tensor_arena_size or arena.recommended_arena_size(measured)
    name = request.model_name
    man = manifest.manifest_from_export_config(
        request.export,
        model_file=f"{name}.tflite",
        tensor_arena_size=arena_size,
        probability_cutoff=request.probability_cutoff,
        sliding_window_size=request.sliding_window_size,
    )
    on_progress(ProgressEvent(Stage.EXPORT, 3, 4, "verifying against the device's contract"))
    # Verify in a scratch folder first: only a model that passes reaches out_dir.
    with tempfile.TemporaryDirectory(prefix="mww-export-") as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / f"{name}.tflite").write_bytes(data)
        manifest.write_manifest(man, scratch_dir / manifest.MANIFEST_NAME)
        report = verify.verify_model(scratch_dir / manifest.MANIFEST_NAME)
        if not report.compatible:
            failed = "; ".join(report.failures())
            raise ExportError(f"the exported model fails the device contract: {failed}")
        out_dir = Path(request.out_dir)
        tflite_path = atomic_write_bytes(out_dir / f"{name}.tflite", data)
        manifest_path = manifest.write_manifest(man, out_dir / manifest.MANIFEST_NAME)
    # The same bytes, checked in the scratch folder: the report names where they now are.
    report = replace(
        report, path=manifest_path, model_path=tflite_path, manifest_path=manifest_path
    )
    on_progress(ProgressEvent(Stage.EXPORT, 4, 4, "done"))
    return ExportResult(
        tflite_path,
        manifest_path,
        saved,
        len(data),
        arena_size,
        measured,
        time.monotonic() - started,
        quant_error,
        report,
    )
