"""One onnxruntime session per piper model, shared by every worker thread, with its noise drawn
from each utterance's seed.

A piper (VITS) model draws Gaussian noise inside its graph (``RandomNormalLike`` nodes: the
duration predictor's and the prior's) from a generator that onnxruntime seeds once, when a
session is created, and advances at every run. A shared session would make each clip depend on
the order the clips happen to be rendered in; a session per clip is slow (en_US-joe-medium,
63 MB: 0.35 s to create a session, 0.06 s to speak "hey computer" on one thread), and creating
them had to be serialised, because onnxruntime's seed is global to the process.

So each model is loaded once with every ``RandomNormalLike`` node replaced by a slice of a new
float input (``mww_noise_<k>``) reshaped like the node's input, and :class:`SeededRuns` feeds
those inputs from numpy generators seeded by (seed, run, node): speech is a function of
(model, speaker, text, length scale, seed) alone, whichever thread renders it. A noise input
too short for a long sentence makes the run fail in our own Reshape node; the run is repeated
with twice the noise (the same stream, longer), so the result does not depend on the guess.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mww_trainer.errors import ConfigError

NOISE_INPUT = "mww_noise_{}"
_PREFIX = "mww_noise"
# A first guess at the noise one phoneme id needs (VITS medium: 192 latent channels times a
# few frames per id), doubled while a run asks for more.
NOISE_PER_ID = 4096
MAX_DOUBLINGS = 8
# Random nodes the rewrite does not handle: a model with one of them cannot be seeded.
_OTHER_RANDOM = ("RandomNormal", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli")


def load_session(onnxruntime: ModuleType, path: Path) -> tuple[Any, int]:
    """The model at ``path``, its random nodes fed from inputs: (session, number of inputs)."""
    data, count = seedable_model(path.read_bytes(), str(path))
    options = onnxruntime.SessionOptions()
    # The synthesiser already runs one clip per worker thread; more threads per run would
    # only compete with them.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # Fatal only: a piper model's warnings are not the user's, and a run whose noise was too
    # short logs an error before it is repeated; every failure still raises with its message.
    options.log_severity_level = 4
    session = onnxruntime.InferenceSession(
        data, sess_options=options, providers=["CPUExecutionProvider"]
    )
    return session, count


def seedable_model(data: bytes, where: str) -> tuple[bytes, int]:
    """The ONNX model ``data`` with each RandomNormalLike node replaced by a noise input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # protobuf's DecodeError, or anything onnx finds wrong
        raise ValueError(f"not an ONNX model ({exc})") from exc
    graph = model.graph
    _refuse_other_random(graph, where)
    nodes, count = [], 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        nodes += _noise_nodes(node, count, helper, where)
        graph.input.append(
            helper.make_tensor_value_info(NOISE_INPUT.format(count), TensorProto.FLOAT, [None])
        )
        count += 1
    if count:
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([0], dtype=np.int64), f"{_PREFIX}_start"),
                numpy_helper.from_array(np.array([1], dtype=np.int64), f"{_PREFIX}_one"),
            ]
        )
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString(), count


def _noise_nodes(node: Any, k: int, helper: ModuleType, where: str) -> list[Any]:
    """y = mean + scale * reshape(noise_k[:size(x)], shape(x)), for y = RandomNormalLike(x)."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("dtype", 1) != 1:  # TensorProto.FLOAT
        raise ConfigError(f"{where}: its RandomNormalLike node {node.name!r} is not float32")
    (x,), (y,) = node.input, node.output
    p = f"{_PREFIX}_{k}_"
    normal = y if attrs.get("mean", 0.0) == 0.0 and attrs.get("scale", 1.0) == 1.0 else p + "std"
    out = [
        helper.make_node("Shape", [x], [p + "shape"], name=p + "shape"),
        helper.make_node("Size", [x], [p + "size"], name=p + "size"),
        helper.make_node("Reshape", [p + "size", f"{_PREFIX}_one"], [p + "end"], name=p + "end"),
        helper.make_node(
            "Slice", [NOISE_INPUT.format(k), f"{_PREFIX}_start", p + "end"], [p + "flat"]
        ),
        helper.make_node("Reshape", [p + "flat", p + "shape"], [normal], name=p + "reshape"),
    ]
    if normal != y:
        mean, scale = attrs.get("mean", 0.0), attrs.get("scale", 1.0)
        out += [
            helper.make_node("Constant", [], [p + "scale"], value_float=scale),
            helper.make_node("Constant", [], [p + "mean"], value_float=mean),
            helper.make_node("Mul", [normal, p + "scale"], [p + "scaled"]),
            helper.make_node("Add", [p + "scaled", p + "mean"], [y]),
        ]
    return out


def _refuse_other_random(graph: Any, where: str) -> None:
    for node in graph.node:
        if node.op_type in _OTHER_RANDOM:
            raise ConfigError(
                f"{where}: its graph draws random numbers with {node.op_type}, which mww-synth "
                "cannot seed (piper's own voices use RandomNormalLike only); remove this model"
            )
        for attribute in node.attribute:
            if attribute.g.node:
                _refuse_other_random(attribute.g, where)
            for sub in attribute.graphs:
                _refuse_other_random(sub, where)


class SeededRuns:
    """A piper session as ``PiperVoice`` uses it (``run(None, feeds)``), adding the noise of one
    utterance: run ``i`` of it draws from ``default_rng([seed, i, node])``."""

    def __init__(self, session: Any, noise_inputs: int, seed: int):
        self.session, self.noise_inputs, self.seed = session, noise_inputs, seed
        self.runs = 0

    def run(self, output_names: Any, feeds: dict[str, np.ndarray]) -> Any:
        run, self.runs = self.runs, self.runs + 1
        ids = int(feeds["input"].shape[-1])
        length_scale = float(feeds["scales"][1]) if "scales" in feeds else 1.0
        size = NOISE_PER_ID * max(ids, 1) * max(1, int(np.ceil(length_scale)))
        doublings = 0
        while True:
            noise = {
                NOISE_INPUT.format(k): np.random.default_rng([self.seed, run, k]).standard_normal(
                    size, dtype=np.float32
                )
                for k in range(self.noise_inputs)
            }
            try:
                return self.session.run(output_names, feeds | noise)
            except Exception as exc:  # onnxruntime's errors derive from Exception only
                too_short = self.noise_inputs and f"{_PREFIX}_" in str(exc)
                if not too_short or doublings == MAX_DOUBLINGS:
                    raise
                size, doublings = size * 2, doublings + 1  # the same noise, longer
