"""MixedNet: a strided first convolution, mixed-kernel depthwise blocks, a dense head.

`MixedNet(arch)` owns the trainable layers once; `model(mode)` wires them into a
Keras model for training on clips, scoring long sequences, or streaming one
`[1, 3, 40]` slice at a time. All three share weights, so a trained clip model
becomes the device's streaming model without copying anything.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from mww_trainer import constants
from mww_trainer.config.types import ModelConfig
from mww_trainer.model.stream import Mode, RingBuffer, SlidingWindows


def _split_sizes(channels: int, groups: int) -> list[int]:
    base, extra = divmod(channels, groups)
    return [base + (1 if i < extra else 0) for i in range(groups)]


def _last_steps(x, steps):
    return x[:, -steps:] if steps is not None else x


class _BlockLayers:
    """One repeat of a block: mixed depthwise kernels, pointwise conv, batch norm, ReLU."""

    def __init__(
        self,
        *,
        name: str,
        kernels: tuple[int, ...],
        in_channels: int,
        filters: int,
        residual: bool,
        regularizer,
    ):
        self.kernels = kernels
        self.split = _split_sizes(in_channels, len(kernels))
        self.depthwise = [
            layers.DepthwiseConv2D(
                (k, 1),
                padding="valid",
                use_bias=False,
                depthwise_regularizer=regularizer,
                name=f"{name}_dw{k}",
            )
            for k in kernels
        ]
        self.pointwise = layers.Conv2D(
            filters, 1, use_bias=False, kernel_regularizer=regularizer, name=f"{name}_pw"
        )
        # Synchronised: with several GPUs the statistics come from the whole batch, as on one.
        self.norm = layers.BatchNormalization(synchronized=True, name=f"{name}_bn")
        self.projection = None
        if residual and in_channels != filters:
            self.projection = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")
        self.residual = residual
        self.buffer_steps = max(kernels) - 1

    def __call__(self, x, *, mode: Mode, prefix: str):
        block_in = x
        if mode is Mode.STREAMING and self.buffer_steps:
            x = RingBuffer(self.buffer_steps, name=f"{prefix}_ring")(x)
        out_steps = None if x.shape[1] is None else x.shape[1] - self.buffer_steps
        x = self.norm(self.pointwise(self.mix(x)))
        if self.residual:
            shortcut = (
                _last_steps(block_in, out_steps)
                if mode is not Mode.SEQUENCE
                else (block_in[:, self.buffer_steps :])
            )
            if self.projection is not None:
                shortcut = self.projection(shortcut)
            x = x + shortcut
        return ops.relu(x)

    def mix(self, x):
        """The depthwise kernels, each over its share of the channels."""
        if len(self.kernels) == 1:
            return self.depthwise[0](x)
        parts = ops.split(x, list(_cumulative(self.split)), axis=-1)
        outs = []
        for part, kernel, conv in zip(parts, self.kernels, self.depthwise, strict=True):
            # A smaller kernel only needs the newest steps to line up with the largest.
            trim = self.buffer_steps - (kernel - 1)
            outs.append(conv(part[:, trim:] if trim else part))
        return ops.concatenate(outs, axis=-1)


def _cumulative(sizes: list[int]):
    total = 0
    for size in sizes[:-1]:
        total += size
        yield total


class MixedNet:
    """The trainable layers of one MixedNet, wired into a model per mode on demand."""

    def __init__(self, arch: ModelConfig):
        if arch.first_conv_kernel_size < arch.stride:
            raise ValueError("first_conv_kernel_size must be at least the stride")
        self.arch = arch
        reg = keras.regularizers.L2(arch.l2_regularization) if arch.l2_regularization else None
        self.first_conv = layers.Conv2D(
            arch.first_conv_filters,
            (arch.first_conv_kernel_size, 1),
            strides=(arch.stride, 1),
            padding="valid",
            activation="relu",
            kernel_regularizer=reg,
            name="first_conv",
        )
        self.blocks: list[_BlockLayers] = []
        channels = arch.first_conv_filters
        for index, (kernels, filters, repeats, residual) in enumerate(
            zip(
                arch.mixconv_kernel_sizes,
                arch.pointwise_filters,
                arch.repeat_in_block,
                arch.residual_connection,
                strict=True,
            )
        ):
            for repeat in range(repeats):
                self.blocks.append(
                    _BlockLayers(
                        name=f"block{index}_{repeat}",
                        kernels=kernels,
                        in_channels=channels,
                        filters=filters,
                        residual=residual,
                        regularizer=reg,
                    )
                )
                channels = filters
        self.dropout = (
            layers.Dropout(arch.dropout_rate, name="dropout") if arch.dropout_rate else None
        )
        # float32 even under mixed precision: the probability feeds the loss and the cutoff.
        self.head = layers.Dense(
            1, activation="sigmoid", kernel_regularizer=reg, dtype="float32", name="head"
        )
        self._models: dict[Mode, keras.Model] = {}

    def model(self, mode: Mode) -> keras.Model:
        """The model for `mode`, built on first use; every mode shares the same weights."""
        if mode not in self._models:
            self._models[mode] = self._wire(mode)
        return self._models[mode]

    def _wire(self, mode: Mode) -> keras.Model:
        arch = self.arch
        if mode is Mode.STREAMING:
            inputs = keras.Input(
                batch_size=1, shape=(arch.stride, constants.MEL_BINS), name="input_audio"
            )
        elif mode is Mode.TRAINING:
            inputs = keras.Input(shape=(arch.input_frames, constants.MEL_BINS), name="features")
        else:
            inputs = keras.Input(shape=(None, constants.MEL_BINS), name="features")
        x = layers.Reshape((-1, 1, constants.MEL_BINS), name=f"{mode.value}_to_2d")(inputs)
        if mode is Mode.STREAMING and arch.first_conv_kernel_size > arch.stride:
            x = RingBuffer(arch.first_conv_kernel_size - arch.stride, name="first_conv_ring")(x)
        x = self.first_conv(x)
        for index, block in enumerate(self.blocks):
            x = block(x, mode=mode, prefix=f"block{index}")
        x = self._head(x, mode)
        return keras.Model(inputs, x, name=f"mixednet_{mode.value}")

    def _head(self, x, mode: Mode):
        steps = self.arch.head_steps
        if mode is Mode.SEQUENCE:
            x = SlidingWindows(steps, name="head_windows")(x)
            return ops.squeeze(self.head(x), axis=-1)
        if mode is Mode.STREAMING and steps > 1:
            x = RingBuffer(steps - 1, name="head_ring")(x)
        x = layers.Flatten(name=f"{mode.value}_flatten")(x)
        if self.dropout is not None and mode is Mode.TRAINING:
            x = self.dropout(x)
        return self.head(x)


def build(arch: ModelConfig, mode: Mode = Mode.TRAINING) -> keras.Model:
    """A fresh MixedNet in one mode. Use MixedNet directly to get twins that share weights."""
    return MixedNet(arch).model(mode)
