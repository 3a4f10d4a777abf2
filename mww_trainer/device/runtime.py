"""Run a streaming model the way the device does: one invoke per int8 feature slice.

The model's state (ring buffers in resource variables) is carried across invokes, so the
output for slice i depends on every slice before it. Two interpreters:

- TFLite-Micro (the runtime on the ESP32, reference kernels on the host);
- LiteRT with OpResolverType.BUILTIN_REF, whose reference kernels match TFLite-Micro
  exactly (its default XNNPACK path can differ by a few LSB).
"""

from __future__ import annotations

import numpy as np

from mww_trainer import constants

DEFAULT_ARENA_BYTES = 1 << 20  # generous: a streaming wake-word model needs ~20-40 KiB
STREAM_SEED = 20240700


def verification_stream(n_random: int = 200, n_silence: int = 50, *, seed: int = STREAM_SEED):
    """Deterministic int8 slices [n, 3, 40]: uniform noise, then silence (all -128)."""
    rng = np.random.default_rng(seed)
    shape = constants.INPUT_SHAPE[1:]
    noise = rng.integers(-128, 128, size=(n_random, *shape), dtype=np.int8)
    silence = np.full((n_silence, *shape), constants.INPUT_ZERO_POINT, dtype=np.int8)
    return np.concatenate([noise, silence])


def run_stream_tflm(
    model_bytes: bytes, int8_slices: np.ndarray, *, arena_bytes: int = DEFAULT_ARENA_BYTES
) -> np.ndarray:
    """uint8 outputs [n] of TFLite-Micro, one invoke per slice of `int8_slices` [n, 3, 40]."""
    from tflite_micro.python.tflite_micro import runtime

    slices = _check_slices(int8_slices)
    interpreter = runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_bytes)
    in_details = interpreter.get_input_details(0)
    _check_io(in_details["dtype"], interpreter.get_output_details(0)["dtype"])
    shape = tuple(in_details["shape"])
    out = np.empty(len(slices), dtype=np.uint8)
    for i, s in enumerate(slices):
        interpreter.set_input(s.reshape(shape), 0)
        interpreter.invoke()
        out[i] = interpreter.get_output(0).reshape(-1)[0]
    return out


def run_stream_litert(model_bytes: bytes, int8_slices: np.ndarray) -> np.ndarray:
    """uint8 outputs [n] of LiteRT (BUILTIN_REF kernels), one invoke per slice."""
    return LiteRTStream(model_bytes).run(int8_slices)


class LiteRTStream:
    """One LiteRT interpreter (BUILTIN_REF kernels) whose model state lasts across calls."""

    def __init__(self, model_bytes: bytes) -> None:
        from ai_edge_litert import interpreter as litert

        self._interpreter = litert.Interpreter(
            model_content=bytes(model_bytes),
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        )
        self._interpreter.allocate_tensors()
        in_details = self._interpreter.get_input_details()[0]
        out_details = self._interpreter.get_output_details()[0]
        _check_io(in_details["dtype"], out_details["dtype"])
        self._input, self._output = in_details["index"], out_details["index"]
        self._shape = tuple(in_details["shape"])

    def run(self, int8_slices: np.ndarray) -> np.ndarray:
        """uint8 outputs [n], one invoke per slice of `int8_slices` [n, 3, 40]."""
        slices = _check_slices(int8_slices)
        out = np.empty(len(slices), dtype=np.uint8)
        for i, s in enumerate(slices):
            self._interpreter.set_tensor(self._input, s.reshape(self._shape))
            self._interpreter.invoke()
            out[i] = self._interpreter.get_tensor(self._output).reshape(-1)[0]
        return out


def _check_slices(int8_slices: np.ndarray) -> np.ndarray:
    slices = np.asarray(int8_slices)
    if slices.dtype != np.int8 or slices.ndim != 3 or slices.shape[2] != constants.MEL_BINS:
        raise ValueError(
            f"expected int8 slices [n, stride, {constants.MEL_BINS}],"
            f" got {slices.dtype} {list(slices.shape)}"
        )
    return slices


def _check_io(input_dtype, output_dtype) -> None:
    if np.dtype(input_dtype) != np.int8 or np.dtype(output_dtype) != np.uint8:
        raise ValueError(
            f"the model takes {np.dtype(input_dtype)} and gives {np.dtype(output_dtype)};"
            " a device model takes int8 and gives uint8"
        )
