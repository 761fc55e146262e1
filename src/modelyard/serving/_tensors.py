"""Open Inference Protocol tensors: reading request inputs, writing response outputs.

A request input is ``{"name", "shape", "datatype", "data"?, "parameters"?}``. Its
elements come either from ``data`` (JSON, flat or nested row-major) or, with the binary
tensor data extension, from the body after the JSON header: ``parameters.
binary_data_size`` bytes per input, in input order, little-endian, no padding; BOOL is
one byte per element, BYTES elements are a 4-byte little-endian length and the bytes.

:func:`read_tensors` checks the structure (names, shapes, element counts, byte counts)
and never allocates from a size the client claims before the bytes are there;
:func:`column_from_tensor` then fits one tensor to its signature column (shape, a
datatype that suits the column kind, the values). NaN in a float tensor is missing:
tensors have no null. :func:`output_tensor` and :func:`requested_outputs` build the
response side.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from modelyard.exceptions import ValidationError
from modelyard.serving._values import (
    Converted,
    check_doubles,
    convert,
    decode_utf8,
    describe,
    to_doubles,
    wrong_types,
)

# Wire dtypes: little-endian, as the extension specifies, whatever this machine is.
DTYPES: dict[str, str] = {
    "BOOL": "u1", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip
DATATYPES = (*DTYPES, "BYTES")
_NONE = type(None)
_INTEGERS = frozenset({int, _NONE})
# The Python types JSON ``data`` may hold, per datatype (null is a missing value).
JSON_TYPES: dict[str, frozenset[type]] = {
    **{name: _INTEGERS for name in DTYPES if "INT" in name},
    "BOOL": frozenset({bool, _NONE}),
    "FP16": frozenset({int, float, _NONE}),
    "FP32": frozenset({int, float, _NONE}),
    "FP64": frozenset({int, float, _NONE}),
    "BYTES": frozenset({str, _NONE}),
}
_LENGTH = struct.Struct("<I")
NUMBER_DATATYPES = tuple(DTYPES)
# The datatypes that fit each column kind, and what the model metadata advertises.
KIND_DATATYPES: dict[str, tuple[str, ...]] = {
    "numeric": NUMBER_DATATYPES,
    "boolean": NUMBER_DATATYPES,
    "categorical": ("BYTES",),
    "datetime": ("BYTES",),
}
INPUT_DATATYPE = {"numeric": "FP64", "boolean": "BOOL", "categorical": "BYTES", "datetime": "BYTES"}
LABEL_DTYPES = {"BOOL": np.bool_, "INT64": np.int64, "FP64": np.float64}


@dataclass(frozen=True)
class Tensor:
    """One request input whose structure checked out.

    ``values`` is flat (``rows * width`` elements, row-major): a list of JSON values, a
    numpy array (binary fixed-size datatypes) or a list of bytes (binary BYTES).
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: list[Any] | np.ndarray
    binary: bool

    @property
    def rows(self) -> int:
        """The first dimension (one row per prediction)."""
        return self.shape[0]


class _Tail:
    """The binary part of a request body, handed out input by input."""

    def __init__(self, binary: bytes | None) -> None:
        self.data = binary
        self.offset = 0
        self.broken = False  # after a bad size the offsets of later inputs are unknown

    def take(self, size: object) -> tuple[bytes | None, str | None]:
        if self.broken:
            return None, "not read: an earlier input's binary_data_size was wrong"
        if type(size) is not int or size < 0:
            self.broken = True
            return None, f"binary_data_size must be a whole number of bytes, got {describe(size)}"
        if self.data is None:
            self.broken = True
            return None, (
                "binary_data_size is set but the body has no binary part: send the "
                "Inference-Header-Content-Length header with the JSON header's length"
            )
        left = len(self.data) - self.offset
        if size > left:
            self.broken = True
            return None, f"binary_data_size is {size} bytes but only {left} are left in the body"
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk, None

    def leftover(self) -> str | None:
        if self.data is None or self.broken or self.offset == len(self.data):
            return None
        return (
            f"{len(self.data) - self.offset} bytes follow the last binary input: the "
            "binary_data_size values do not add up to the body after the JSON header"
        )


def read_tensors(inputs: object, binary: bytes | None) -> tuple[list[Tensor], dict[str, str]]:
    """The inputs whose structure is sound, and the problems of the others (by name)."""
    if not isinstance(inputs, list) or not inputs:
        return [], {"inputs": "must be a non-empty list of tensors (name, shape, datatype, data)"}
    tail = _Tail(binary)
    tensors: list[Tensor] = []
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for index, spec in enumerate(inputs):
        label = f"inputs[{index}]"
        if isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec["name"]:
            label = spec["name"]
        tensor, problem = _read_tensor(spec, tail, label in seen)
        seen.add(label)
        if problem is not None:
            problems[label if label not in problems else f"inputs[{index}]"] = problem
        elif tensor is not None:
            tensors.append(tensor)
    leftover = tail.leftover()
    if leftover is not None:
        problems["binary data"] = leftover
    rows = {t.rows for t in tensors}
    if len(rows) > 1:
        problems["shape"] = f"the inputs disagree on the number of rows: {sorted(rows)}"
    return tensors, problems


def _read_tensor(spec: object, tail: _Tail, duplicate: bool) -> tuple[Tensor | None, str | None]:
    if not isinstance(spec, dict):
        return None, f"must be an object (name, shape, datatype, data), got {type(spec).__name__}"
    parameters = spec.get("parameters")
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        return None, "parameters must be an object"
    chunk, binary_problem = None, None
    if "binary_data_size" in parameters:  # consumed first: later inputs' offsets need it
        chunk, binary_problem = tail.take(parameters["binary_data_size"])
    name, datatype, shape = spec.get("name"), spec.get("datatype"), spec.get("shape")
    if not isinstance(name, str) or not name:
        return None, "needs a 'name' (the column it feeds)"
    if duplicate:
        return None, "is given more than once"
    if datatype not in DATATYPES:
        return None, f"datatype {describe(datatype)} is not one of {', '.join(DATATYPES)}"
    if not _is_shape(shape):
        return None, f"shape must be a list of whole numbers >= 0, got {describe(shape)}"
    if any(key.startswith("shared_memory") for key in parameters):
        return None, "shared memory is not supported: send 'data' or binary data"
    count = math.prod(shape)
    if "binary_data_size" in parameters:
        if "data" in spec:
            return None, "has both 'data' and binary_data_size: send one"
        if binary_problem is not None or chunk is None:
            return None, binary_problem
        values, problem = _from_binary(chunk, datatype, count)
    else:
        values, problem = _from_json(spec.get("data"), shape, count)
    if problem is not None or values is None:
        return None, problem
    return Tensor(name, datatype, tuple(shape), values, chunk is not None), None


def _is_shape(shape: object) -> TypeGuard[list[int]]:
    return (
        isinstance(shape, list)
        and 1 <= len(shape) <= 8
        and all(type(d) is int and d >= 0 for d in shape)
    )


def _from_json(data: object, shape: list[int], count: int) -> tuple[list[Any] | None, str | None]:
    if not isinstance(data, list):
        return None, "needs 'data' (a list of values) or parameters.binary_data_size"
    flat = data
    for _ in range(len(shape) - 1):  # nested row-major data: flatten one level per dimension
        if not flat or not all(type(item) is list for item in flat):
            break
        flat = [value for item in flat for value in item]
    if len(flat) != count:
        return None, f"shape {shape} needs {count} values but 'data' has {len(flat)}"
    return flat, None


def _from_binary(
    chunk: bytes, datatype: str, count: int
) -> tuple[np.ndarray | list[bytes] | None, str | None]:
    if datatype == "BYTES":
        return _split_bytes(chunk, count)
    dtype = np.dtype(DTYPES[datatype])
    if len(chunk) != count * dtype.itemsize:
        return None, (
            f"binary_data_size is {len(chunk)} bytes but {count} {datatype} values take "
            f"{count * dtype.itemsize}"
        )
    values = np.frombuffer(chunk, dtype=dtype)
    if datatype == "BOOL" and values.size and values.max() > 1:
        return None, "BOOL elements must be the bytes 0 or 1"
    return values, None


def _split_bytes(chunk: bytes, count: int) -> tuple[list[bytes] | None, str | None]:
    items: list[bytes] = []
    offset, end = 0, len(chunk)
    while offset < end:
        if len(items) == count:
            return None, f"the binary data holds more than the {count} BYTES elements of its shape"
        if offset + 4 > end:
            return None, f"BYTES element {len(items)} is cut off in its 4-byte length"
        (length,) = _LENGTH.unpack_from(chunk, offset)
        offset += 4
        if length > end - offset:
            return None, (
                f"BYTES element {len(items)} says {length} bytes but only "
                f"{end - offset} are left in its binary data"
            )
        items.append(chunk[offset : offset + length])
        offset += length
    if len(items) != count:
        return None, f"the shape needs {count} BYTES elements but the binary data has {len(items)}"
    return items, None


def column_from_tensor(tensor: Tensor, column: dict[str, Any]) -> Converted:
    """The graph's array for ``column`` from a tensor, or the problem (shape, datatype,
    values) to report for it."""
    kind = column.get("kind", "numeric")
    if len(tensor.shape) > 2 or tensor.shape[1:] not in ((), (1,)):
        return None, f"expected shape [N] or [N, 1] (one value per row), got {list(tensor.shape)}"
    fitting = KIND_DATATYPES.get(kind, NUMBER_DATATYPES)
    if tensor.datatype not in fitting:
        expected = "BYTES" if fitting == ("BYTES",) else "a number or BOOL datatype"
        return None, f"expected {expected} for a {kind} column, got {tensor.datatype}"
    values = tensor.values
    if isinstance(values, np.ndarray):  # binary numbers: NaN is missing
        return check_doubles(values.astype(np.float64), kind)
    if tensor.binary:
        text, problem = decode_utf8(values)
        return (None, problem) if text is None else convert(text, kind)
    expected = f"{tensor.datatype} values"
    problem = wrong_types(values, JSON_TYPES[tensor.datatype], expected)
    if problem is not None:
        return None, problem
    if tensor.datatype == "BYTES":
        return convert(values, kind)
    doubles, problem = to_doubles(values)
    return (None, problem) if doubles is None else check_doubles(doubles, kind)


def encode_bytes(items: list[bytes]) -> bytes:
    """BYTES elements in the binary layout: each a 4-byte little-endian length, then itself."""
    return b"".join(_LENGTH.pack(len(item)) + item for item in items)


def output_tensor(
    name: str, datatype: str, shape: list[int], values: np.ndarray | list[str], binary: bool
) -> tuple[dict[str, Any], bytes | None]:
    """A response output: ``data`` inline (flat, row-major, as Triton answers), or
    ``parameters.binary_data_size`` and the bytes that follow the JSON header."""
    tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
    if not binary:
        tensor["data"] = (
            values if isinstance(values, list) else np.ascontiguousarray(values).ravel()
        )
        return tensor, None
    if isinstance(values, list):
        raw = encode_bytes([v.encode("utf-8") for v in values])
    else:
        raw = np.ascontiguousarray(values, dtype=np.dtype(DTYPES[datatype])).tobytes()
    tensor["parameters"] = {"binary_data_size": len(raw)}
    return tensor, raw


def label_datatype(classes: list[Any]) -> str:
    """The datatype of a classifier's ``label`` output: BOOL, INT64, FP64 or BYTES (text)."""
    kinds = set(map(type, classes))
    if kinds == {bool}:
        return "BOOL"
    if kinds == {int}:
        return "INT64"
    return "FP64" if kinds <= {int, float} else "BYTES"


def requested_outputs(
    outputs: list[Any] | None, available: list[str], binary_output: bool
) -> list[tuple[str, bool]]:
    """``(name, as binary)`` for each output to send, in the order asked for.

    Raises:
        ValidationError: An output the model does not have, or an unsupported parameter.
    """
    if not outputs:
        return [(name, binary_output) for name in available]
    chosen: dict[str, bool] = {}
    unknown: list[str] = []
    for output in outputs:
        if not isinstance(output, dict):
            unknown.append(describe(output))
            continue
        name, parameters = output.get("name"), output.get("parameters") or {}
        if not isinstance(name, str) or name not in available:
            unknown.append(describe(name))
            continue
        if not isinstance(parameters, dict) or "classification" in parameters:
            raise ValidationError(
                f"output {name!r}: only parameters.binary_data is supported (not the "
                "classification extension); ask for 'label' and 'probabilities'"
            )
        binary = parameters.get("binary_data", binary_output)
        chosen[name] = binary if isinstance(binary, bool) else binary_output
    if unknown:
        raise ValidationError(
            f"the model has no output(s) {', '.join(unknown[:10])}; its outputs: "
            f"{', '.join(available)}",
            unknown=unknown[:10],
        )
    return list(chosen.items())
