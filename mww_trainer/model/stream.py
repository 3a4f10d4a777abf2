"""The streaming abstraction: one model definition, three ways to run it.

A convolution with a 'valid' time kernel needs the last `k - 1` time steps (or
`k - stride` frames for a strided one) next to the new input. In streaming mode a
RingBuffer keeps those steps in a non-trainable variable, so the exported model
carries its own state the way ESPHome expects (resource variables zeroed by an init
subgraph). In the other modes the whole sequence is present and no state is kept.
"""

from __future__ import annotations

import enum

import keras
from keras import ops


class Mode(enum.Enum):
    TRAINING = "training"  # fixed-length clips -> one probability per clip
    SEQUENCE = "sequence"  # any-length feature sequence -> one probability per stride
    STREAMING = "streaming"  # one [1, stride, 40] slice per call, state in variables


@keras.saving.register_keras_serializable(package="mww")
class RingBuffer(keras.layers.Layer):
    """Prepends the last `frames` time steps seen before this call and remembers the newest.

    Input `[batch, t, 1, c]` becomes `[batch, frames + t, 1, c]`. The batch size must
    be static: the state variable has the batch dimension baked in (1 on the device).
    """

    def __init__(self, frames: int, **kwargs):
        super().__init__(**kwargs)
        if frames < 1:
            raise ValueError(f"a ring buffer needs at least one frame, got {frames}")
        self.frames = frames

    def build(self, input_shape):
        batch, _, *rest = input_shape
        if batch is None:
            raise ValueError("streaming layers need a fixed batch size (use batch_size=1)")
        self.state = self.add_weight(
            name="state",
            shape=(batch, self.frames, *rest),
            initializer="zeros",
            trainable=False,
        )

    def call(self, inputs):
        full = ops.concatenate([ops.convert_to_tensor(self.state), inputs], axis=1)
        self.state.assign(full[:, -self.frames :])
        return full

    def compute_output_shape(self, input_shape):
        batch, steps, *rest = input_shape
        return (batch, None if steps is None else steps + self.frames, *rest)

    def reset(self) -> None:
        self.state.assign(ops.zeros_like(self.state))

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@keras.saving.register_keras_serializable(package="mww")
class SlidingWindows(keras.layers.Layer):
    """`[batch, t, 1, c]` -> `[batch, t - steps + 1, steps * c]`: every window a head would flatten.

    Lets the dense head of a clip model score every stride position of a long
    sequence in one pass, with the same weights and the same flatten order.
    """

    def __init__(self, steps: int, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps

    def call(self, inputs):
        x = ops.squeeze(inputs, axis=2)
        length = ops.shape(x)[1] - self.steps + 1
        windows = [x[:, i : i + length] for i in range(self.steps)]
        stacked = ops.stack(windows, axis=2)
        return ops.reshape(stacked, (ops.shape(x)[0], length, self.steps * ops.shape(x)[2]))

    def compute_output_shape(self, input_shape):
        batch, steps, _, channels = input_shape
        length = None if steps is None else steps - self.steps + 1
        return (batch, length, self.steps * channels)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


def reset_states(model: keras.Model) -> None:
    """Zero every ring buffer: what the device's init subgraph does after a model load."""
    for layer in model.layers:
        if isinstance(layer, RingBuffer):
            layer.reset()
