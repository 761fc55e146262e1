"""Small helpers for writing skl2onnx converters: constants, nodes, input kinds."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

__all__ = [
    "INT64_MIN",
    "Unconvertible",
    "add_const",
    "add_node",
    "columns_of",
    "expect_kind",
    "input_kind",
    "missing_mask",
    "set_output",
]

INT64_MIN = int(np.iinfo(np.int64).min)


class Unconvertible(Exception):
    """A part of the model that has no exact ONNX form; ``reason`` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ONNX_TYPES = {
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int64): TensorProto.INT64,
}


def add_const(scope: Any, container: Any, seed: str, value: Any) -> str:
    """Add an initializer holding ``value`` (a numpy array or scalar); returns its name."""
    array = np.asarray(value)
    name: str = scope.get_unique_variable_name(seed)
    if array.dtype.kind in "OUS":
        content = [str(v) for v in array.ravel()]
        container.add_initializer(name, TensorProto.STRING, list(array.shape), content)
    else:
        onnx_type = _ONNX_TYPES[array.dtype]
        container.add_initializer(name, onnx_type, list(array.shape), array.ravel().tolist())
    return name


def add_node(
    scope: Any, container: Any, op: str, inputs: list[str], out: str | None = None, **attrs: Any
) -> str:
    """Add one node writing ``out`` (a fresh name when None); returns the output name."""
    name: str = out or scope.get_unique_variable_name(op.lower())
    container.add_node(op, inputs, [name], name=scope.get_unique_operator_name(op), **attrs)
    return name


def input_kind(operator: Any) -> str:
    """``double``, ``float``, ``int64`` or ``string``: the element type of the first input."""
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    kinds = {
        DoubleTensorType: "double",
        FloatTensorType: "float",
        Int64TensorType: "int64",
        StringTensorType: "string",
    }
    found = type(operator.inputs[0].type)
    return kinds.get(found, found.__name__)


def expect_kind(operator: Any, wanted: str, what: str) -> None:
    """Raise Unconvertible when the first input is not of element type ``wanted``."""
    found = input_kind(operator)
    if found != wanted:
        step = type(operator.raw_operator).__name__
        raise Unconvertible(
            f"{step} gets {found} input in the ONNX graph but needs {wanted} ({what}); "
            "the signature's column kinds do not match the preprocessing"
        )


def columns_of(operator: Any) -> int | None:
    """The number of columns of the first input, None when unknown."""
    shape = operator.inputs[0].type.shape
    width = shape[1] if len(shape) == 2 else None
    return width if isinstance(width, int) else None


def set_output(operator: Any, kind: str, width: int | None) -> None:
    """Declare the first output as ``[N, width]`` of ``double`` or ``string``."""
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    n = operator.inputs[0].get_first_dimension()
    cls = StringTensorType if kind == "string" else DoubleTensorType
    operator.outputs[0].type = cls([n, width])


def missing_mask(scope: Any, container: Any, operator: Any) -> str:
    """A boolean tensor, true where the first input holds the convention's missing value."""
    x = operator.inputs[0].full_name
    kind = input_kind(operator)
    if kind == "double":
        return add_node(scope, container, "IsNaN", [x])
    if kind == "string":
        empty = add_const(scope, container, "empty", np.array(""))
        return add_node(scope, container, "Equal", [x, empty])
    if kind == "int64":
        marker = add_const(scope, container, "nat", np.array(INT64_MIN, dtype=np.int64))
        return add_node(scope, container, "Equal", [x, marker])
    raise Unconvertible(f"missing values of {kind} columns are not converted")
