"""Read a .tflite file into plain, typed facts: subgraphs, ops, tensors, quantisation, state.

Built on LiteRT's generated flatbuffer reader (``ai_edge_litert.schema_py_generated``); it
never imports TensorFlow and never runs the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

from mww_trainer.errors import MwwError

FILE_IDENTIFIER = b"TFL3"
# Ops whose input 1 holds the weights (input 2 the int32 bias).
WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})
FLOAT_TYPES = frozenset({"FLOAT16", "FLOAT32", "FLOAT64", "BFLOAT16"})

_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


class TFLiteFormatError(MwwError):
    """The bytes are not a readable TFLite flatbuffer."""


@dataclass(frozen=True)
class Quantization:
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    quantized_dimension: int

    @property
    def per_tensor(self) -> bool:
        return len(self.scales) == 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # the schema's TensorType name: "INT8", "UINT8", "FLOAT32", "RESOURCE", ...
    constant: bool  # backed by data in the file (weights, biases, shape constants)
    is_variable: bool  # an old-style variable tensor (not a resource variable)
    quantization: Quantization | None

    def describe(self) -> str:
        text = f"{list(self.shape)} {self.dtype.lower()}"
        q = self.quantization
        if q is not None and q.per_tensor:
            text += f" scale {q.scales[0]:.8g} zp {q.zero_points[0]}"
        elif q is not None:
            text += f" per-channel ({len(q.scales)} scales, axis {q.quantized_dimension})"
        return text


@dataclass(frozen=True)
class Operator:
    index: int
    name: str  # builtin op name ("CONV_2D") or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # tensor indices; -1 for an omitted optional input
    outputs: tuple[int, ...]
    shared_name: str | None  # VAR_HANDLE: the resource variable's name
    init_subgraph: int | None  # CALL_ONCE: the subgraph it runs


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]

    @property
    def op_names(self) -> list[str]:
        return [op.name for op in self.operators]


@dataclass(frozen=True)
class TFLiteModel:
    size_bytes: int
    schema_version: int
    description: str
    subgraphs: tuple[Subgraph, ...]

    @classmethod
    def from_file(cls, path: str | Path) -> TFLiteModel:
        return cls.from_bytes(Path(path).read_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> TFLiteModel:
        return _parse(bytes(data))

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    @property
    def inputs(self) -> list[Tensor]:
        return [self.main.tensors[i] for i in self.main.inputs]

    @property
    def outputs(self) -> list[Tensor]:
        return [self.main.tensors[i] for i in self.main.outputs]

    @property
    def op_names(self) -> list[str]:
        """Distinct op names over all subgraphs, in order of first use."""
        return list(dict.fromkeys(op.name for sg in self.subgraphs for op in sg.operators))

    def iter_ops(self) -> Iterator[tuple[Subgraph, Operator]]:
        for sg in self.subgraphs:
            for op in sg.operators:
                yield sg, op

    @property
    def init_subgraphs(self) -> list[int]:
        """Subgraphs run by a CALL_ONCE (where the state is zeroed)."""
        return [op.init_subgraph for _, op in self.iter_ops() if op.init_subgraph is not None]

    @property
    def resource_variables(self) -> dict[str, frozenset[str]]:
        """Resource variable name -> the dtypes read from or assigned to it."""
        found: dict[str, set[str]] = {}
        for sg in self.subgraphs:
            handles = {}
            for op in sg.operators:
                if op.name == "VAR_HANDLE":
                    name = op.shared_name or f"<unnamed {sg.index}:{op.index}>"
                    handles[op.outputs[0]] = name
                    found.setdefault(name, set())
            for op in sg.operators:
                if op.name == "ASSIGN_VARIABLE" and op.inputs[0] in handles:
                    found[handles[op.inputs[0]]].add(sg.tensors[op.inputs[1]].dtype)
                elif op.name == "READ_VARIABLE" and op.inputs[0] in handles:
                    found[handles[op.inputs[0]]].add(sg.tensors[op.outputs[0]].dtype)
        return {name: frozenset(types) for name, types in found.items()}

    @property
    def variable_tensors(self) -> list[Tensor]:
        return [t for sg in self.subgraphs for t in sg.tensors if t.is_variable]

    @property
    def weight_tensors(self) -> list[tuple[Operator, Tensor]]:
        """(op, weights) for every conv, depthwise conv and fully connected op."""
        return [
            (op, sg.tensors[op.inputs[1]])
            for sg, op in self.iter_ops()
            if op.name in WEIGHT_OPS and len(op.inputs) > 1 and op.inputs[1] >= 0
        ]

    @property
    def float_tensors(self) -> list[Tensor]:
        return [t for sg in self.subgraphs for t in sg.tensors if t.dtype in FLOAT_TYPES]


def _parse(data: bytes) -> TFLiteModel:
    if len(data) < 8:
        raise TFLiteFormatError(f"{len(data)} bytes is too short to be a TFLite flatbuffer")
    if not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise TFLiteFormatError(
            f"no TFLite file identifier (expected {FILE_IDENTIFIER!r} at byte 4,"
            f" found {data[4:8]!r})"
        )
    try:
        raw = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
        return _build(raw, len(data))
    except TFLiteFormatError:
        raise
    except Exception as err:  # a truncated or corrupt flatbuffer fails in many ways
        reason = str(err).split(" (actual buffer size")[0][:120]
        raise TFLiteFormatError(
            f"corrupt or truncated flatbuffer ({len(data):,} bytes): {reason}"
        ) from err


def _build(raw: schema.ModelT, size: int) -> TFLiteModel:
    if not raw.subgraphs:
        raise TFLiteFormatError("the flatbuffer holds no subgraphs")
    buffers = raw.buffers or []
    constant = []
    for i, buf in enumerate(buffers):
        if buf.offset > 1 and buf.offset + buf.size > size:
            raise TFLiteFormatError(f"buffer {i} lies past the end of the file (truncated)")
        constant.append(bool(buf.data is not None and len(buf.data)) or buf.offset > 1)
    opcodes = [_op_name(code) for code in raw.operatorCodes or []]
    subgraphs = tuple(_subgraph(i, sg, opcodes, constant) for i, sg in enumerate(raw.subgraphs))
    return TFLiteModel(
        size_bytes=size,
        schema_version=int(raw.version),
        description=_text(raw.description),
        subgraphs=subgraphs,
    )


def _subgraph(index: int, raw, opcodes: list[str], constant: list[bool]) -> Subgraph:
    tensors = tuple(_tensor(i, t, constant) for i, t in enumerate(raw.tensors or []))
    operators = []
    for i, op in enumerate(raw.operators or []):
        if not 0 <= op.opcodeIndex < len(opcodes):
            raise TFLiteFormatError(f"subgraph {index} op {i}: bad opcode index {op.opcodeIndex}")
        ins, outs = _indices(op.inputs), _indices(op.outputs)
        if any(t >= len(tensors) for t in ins + outs):
            raise TFLiteFormatError(f"subgraph {index} op {i}: tensor index out of range")
        options = op.builtinOptions
        shared = getattr(options, "sharedName", None)
        operators.append(
            Operator(
                index=i,
                name=opcodes[op.opcodeIndex],
                inputs=ins,
                outputs=outs,
                shared_name=None if shared is None else _text(shared),
                init_subgraph=getattr(options, "initSubgraphIndex", None),
            )
        )
    sg = Subgraph(
        index=index,
        name=_text(raw.name),
        inputs=_indices(raw.inputs),
        outputs=_indices(raw.outputs),
        tensors=tensors,
        operators=tuple(operators),
    )
    if any(not 0 <= t < len(tensors) for t in sg.inputs + sg.outputs):
        raise TFLiteFormatError(f"subgraph {index}: input/output index out of range")
    return sg


def _tensor(index: int, raw, constant: list[bool]) -> Tensor:
    if not 0 <= raw.buffer < max(len(constant), 1):
        raise TFLiteFormatError(f"tensor {index}: bad buffer index {raw.buffer}")
    q = raw.quantization
    quant = None
    if q is not None and q.scale is not None and len(q.scale):
        zero_points = q.zeroPoint if q.zeroPoint is not None else [0] * len(q.scale)
        quant = Quantization(
            scales=tuple(float(s) for s in q.scale),
            zero_points=tuple(int(z) for z in zero_points),
            quantized_dimension=int(q.quantizedDimension),
        )
    return Tensor(
        index=index,
        name=_text(raw.name),
        shape=tuple(int(d) for d in (raw.shape if raw.shape is not None else ())),
        dtype=_TYPE_NAMES.get(raw.type, f"TYPE_{raw.type}"),
        constant=bool(constant and constant[raw.buffer]),
        is_variable=bool(raw.isVariable),
        quantization=quant,
    )


def _op_name(code) -> str:
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    if builtin == schema.BuiltinOperator.CUSTOM:
        return f"CUSTOM:{_text(code.customCode)}"
    return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def _indices(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values) if values is not None else ()


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
