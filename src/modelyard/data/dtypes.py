"""Column type names (``int64``, ``string``, ``timestamp[ms]``...) and schema documents."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from modelyard.exceptions import ValidationError

__all__ = ["parse_dtype", "parse_dtypes", "schema_from_dict", "schema_to_dict"]

_ALIASES = {
    "str": pa.string(),
    "string": pa.string(),
    "text": pa.string(),
    "int": pa.int64(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "timestamp": pa.timestamp("us"),
    "category": pa.dictionary(pa.int32(), pa.string()),
}
_EXAMPLES = "string, int64, int32, float64, bool, date, timestamp, timestamp[ms, UTC], category"


def parse_dtype(text: str | pa.DataType, column: str = "") -> pa.DataType:
    """The Arrow type named by ``text`` (``int64``, ``float``, ``timestamp[ms, UTC]``...).

    Raises:
        ValidationError: Not a type name (the message lists examples of valid ones).
    """
    if isinstance(text, pa.DataType):
        return text
    name = str(text).strip().lower()
    if name in _ALIASES:
        return _ALIASES[name]
    if name.startswith("timestamp[") and name.endswith("]"):
        unit = name[len("timestamp[") : -1].partition(",")[0]
        if unit.strip() in {"s", "ms", "us", "ns"}:
            zone = str(text).strip()[len("timestamp[") : -1].partition(",")[2].strip()
            return pa.timestamp(unit.strip(), tz=zone or None)
    try:
        return pa.type_for_alias(name)
    except (ValueError, KeyError):
        where = f" for column {column!r}" if column else ""
        raise ValidationError(
            f"unknown column type {str(text)[:80]!r}{where}; valid types include {_EXAMPLES}",
            dtype=str(text)[:80],
        ) from None


def parse_dtypes(spec: Mapping[str, Any] | str | None) -> dict[str, pa.DataType]:
    """Column types from a mapping or the CLI form ``"age=int64,signup=timestamp"``.

    Raises:
        ValidationError: A malformed entry or an unknown type.
    """
    if spec is None:
        return {}
    if isinstance(spec, str):
        pairs: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in _split_top_level(spec))):
            column, sep, dtype = item.partition("=")
            if not sep or not column.strip():
                raise ValidationError(
                    f"bad schema entry {item[:80]!r}: write COLUMN=TYPE, e.g. age=int64"
                )
            pairs[column.strip()] = dtype
        spec = pairs
    return {str(column): parse_dtype(dtype, str(column)) for column, dtype in spec.items()}


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets (``timestamp[ms, UTC]`` keeps its comma)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def schema_to_dict(schema: pa.Schema) -> dict[str, Any]:
    """A JSON document for a schema: readable fields plus the exact Arrow IPC form."""
    return {
        "fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "arrow": base64.b64encode(schema.serialize().to_pybytes()).decode("ascii"),
    }


def schema_from_dict(doc: Mapping[str, Any]) -> pa.Schema:
    """The schema :func:`schema_to_dict` wrote."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(doc["arrow"])))
