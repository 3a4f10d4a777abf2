"""Start a MixedNet from the weights of a published microWakeWord model of the same shape.

The published models learned from hundreds of hours of real people talking, which no user
can give us; starting from one, training teaches a new wake word to a network that already
hears people. A device model is a quantised streaming TFLite graph: each convolution carries
its batch norm folded into int8 weights and an int32 bias, and each depthwise convolution a
bias of its own. Those are read back to float and placed into the trainer's layers, and each
batch norm is set so that, on the training data, it gives back what the folded graph computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mww_trainer.errors import ConfigError
from mww_trainer.model.mixednet import MixedNet
from mww_trainer.model.stream import Mode

KEY = "model.start_from"
# Feature windows whose statistics set each batch norm.
CALIBRATION_WINDOWS = 2048


@dataclass(frozen=True)
class Conv:
    weights: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Block:
    depthwise: tuple[Conv, ...]  # one per kernel, in the order the graph runs them
    pointwise: Conv

    @property
    def kernels(self) -> tuple[int, ...]:
        return tuple(c.weights.shape[1] for c in self.depthwise)

    def in_split_order(self, kernels: tuple[int, ...]) -> tuple[Conv, ...]:
        """The depthwise convolutions in the order a block with these kernels splits its
        channels (the converter may run them in another order)."""
        return tuple(self.depthwise[self.kernels.index(k)] for k in kernels)


@dataclass(frozen=True)
class Published:
    """The float weights of a published streaming model, layer by layer."""

    name: str
    first: Conv
    blocks: tuple[Block, ...]
    head: Conv

    def shape(self) -> str:
        kernels = ",".join(
            "[" + ",".join(str(k) for k in sorted(b.kernels)) + "]" for b in self.blocks
        )
        filters = ",".join(str(b.pointwise.weights.shape[0]) for b in self.blocks)
        return (
            f"first_conv_filters {self.first.weights.shape[0]}, first_conv_kernel_size "
            f"{self.first.weights.shape[1]}, pointwise_filters '{filters}', "
            f"mixconv_kernel_sizes '{kernels}', head of {self.head.weights.shape[1]} inputs"
        )


def _models_folder():
    try:
        return resources.files("pymicro_wakeword") / "models"
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"{KEY}: the published models come with pymicro-wakeword, which is not installed "
            "(pip install pymicro-wakeword==2.5.0), or give the path of a .tflite"
        ) from exc


def published_names() -> list[str]:
    return sorted(
        p.name[: -len(".tflite")] for p in _models_folder().iterdir() if p.name.endswith(".tflite")
    )


def resolve(value: str) -> Path:
    """The .tflite a ``start_from`` value names: a path, or a model pymicro-wakeword ships."""
    path = Path(value).expanduser()
    if path.suffix == ".tflite" or path.parent != Path("."):
        if not path.is_file():
            raise ConfigError(f"{KEY}: {path} is not a file; give a .tflite streaming model")
        return path
    names = published_names()
    if value not in names:
        raise ConfigError(
            f"{KEY}: no published model named {value!r}; choose one of {', '.join(names)}, "
            "give the path of a .tflite, or null for random weights"
        )
    return Path(str(_models_folder() / f"{value}.tflite"))


def read(path: Path) -> Published:
    """The float weights of a streaming model, in the order its graph runs them."""
    from ai_edge_litert.interpreter import Interpreter

    from mww_trainer.device.tflite_model import TFLiteFormatError, TFLiteModel

    try:
        graph = TFLiteModel.from_file(path).main
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    except (TFLiteFormatError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"{KEY}: {path} is not a TFLite model LiteRT can read ({exc})") from exc

    def value(index: int, size: int) -> np.ndarray:
        if index < 0:
            return np.zeros(size, dtype=np.float32)
        return _dequantize(interpreter.get_tensor(index), graph.tensors[index].quantization)

    layers: list[tuple[str, Conv]] = []
    for op in graph.operators:
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            weights = value(op.inputs[1], 0)
            channels = weights.shape[-1] if op.name == "DEPTHWISE_CONV_2D" else weights.shape[0]
            bias = value(op.inputs[2] if len(op.inputs) > 2 else -1, channels)
            layers.append((op.name, Conv(weights, bias)))
    return _group(path, layers)


def _dequantize(raw: np.ndarray, quantization) -> np.ndarray:
    if quantization is None or not quantization.scales:
        return raw.astype(np.float32)
    scales = np.asarray(quantization.scales, dtype=np.float64)
    zero = np.asarray(quantization.zero_points, dtype=np.float64)
    shape = [1] * raw.ndim
    if scales.size > 1:
        shape[quantization.quantized_dimension] = scales.size
    return ((raw - zero.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def _group(path: Path, layers: list[tuple[str, Conv]]) -> Published:
    kinds = [kind for kind, _ in layers]
    if len(layers) < 3 or kinds[0] != "CONV_2D" or kinds[-1] != "FULLY_CONNECTED":
        raise ConfigError(
            f"{KEY}: {path} is not a MixedNet streaming model (its layers: {', '.join(kinds)})"
        )
    blocks: list[Block] = []
    depthwise: list[Conv] = []
    for kind, conv in layers[1:-1]:
        if kind == "DEPTHWISE_CONV_2D":
            depthwise.append(conv)
        elif kind == "CONV_2D" and depthwise:
            blocks.append(Block(tuple(depthwise), conv))
            depthwise = []
        else:
            raise ConfigError(
                f"{KEY}: {path} is not a MixedNet streaming model ({kind} out of place)"
            )
    return Published(path.stem, layers[0][1], tuple(blocks), layers[-1][1])


def start_from(net: MixedNet, value: str, windows: np.ndarray) -> Published:
    """Puts the published model's weights into ``net``; ``windows`` are training feature
    windows [n, frames, 40] whose statistics set the batch norms."""
    published = read(resolve(value))
    _check_shape(net, published, value)
    net.model(Mode.TRAINING)  # builds the layers
    net.first_conv.set_weights(
        [published.first.weights.transpose(1, 2, 3, 0), published.first.bias]
    )
    x = np.asarray(net.first_conv(windows[:, :, np.newaxis, :]))
    for block, source in zip(net.blocks, published.blocks, strict=True):
        depthwise = source.in_split_order(block.kernels)
        for conv, dw in zip(block.depthwise, depthwise, strict=True):
            conv.set_weights([dw.weights[0][..., np.newaxis]])  # [1,k,1,C] -> [k,1,C,1]
        pointwise = source.pointwise.weights.transpose(1, 2, 3, 0)
        block.pointwise.set_weights([pointwise])
        # The depthwise biases pass through the pointwise convolution as a constant.
        dw_bias = np.concatenate([dw.bias for dw in depthwise])
        bias = source.pointwise.bias + dw_bias @ pointwise[0, 0]
        y = np.asarray(block.pointwise(block.mix(x))).astype(np.float64)
        mean = y.mean(axis=(0, 1, 2))
        std = np.maximum(y.std(axis=(0, 1, 2)), 1e-3)
        epsilon = block.norm.epsilon
        # Batch statistics close to these give back y + bias, in training as in inference.
        block.norm.set_weights([std, mean + bias, mean, np.maximum(std**2 - epsilon, 0.0)])
        x = np.maximum(y + bias, 0.0).astype(np.float32)
    net.head.set_weights([published.head.weights.T, published.head.bias])
    return published


def _check_shape(net: MixedNet, published: Published, value: str) -> None:
    arch = net.arch
    ours = (
        arch.first_conv_filters,
        arch.first_conv_kernel_size,
        tuple(tuple(sorted(b.kernels)) for b in net.blocks),
        tuple(b.pointwise.filters for b in net.blocks),
        arch.head_steps * arch.pointwise_filters[-1],
    )
    theirs = (
        published.first.weights.shape[0],
        published.first.weights.shape[1],
        tuple(tuple(sorted(b.kernels)) for b in published.blocks),
        tuple(b.pointwise.weights.shape[0] for b in published.blocks),
        published.head.weights.shape[1],
    )
    repeated = any(len(set(b.kernels)) < len(b.kernels) for b in net.blocks)
    if any(arch.residual_connection) or repeated or ours != theirs:
        raise ConfigError(
            f"{KEY}: {value} has {published.shape()}, no residual connections and no kernel "
            "twice in a block; this configuration's model differs: give model: that shape, or "
            "start_from: null"
        )
