"""Turn Redis stream messages into one Arrow table, setting the bad messages aside.

A message is one row. If it has exactly one field, named ``data`` or ``json``, that
field holds a JSON object and its keys are the columns; otherwise the message's own
fields are the columns (all strings). Every row also gets ``_message_id``, the Redis id.

Types come from the dataset's schema when it has one: string values are parsed into the
column type with Arrow's cast rules (``"42"`` -> int64, ISO-8601 -> timestamp, ``"true"``
-> bool; JSON text for list/struct/map columns), unknown fields are refused, missing ones
are null. Without a schema (the first batch of a new dataset) each column takes the type
declared in ``dtypes`` or, failing that, the type Arrow infers from the whole batch;
columns that are null in every row become strings.

A message that cannot become a row is never dropped: it comes back as a
:class:`DeadLetter` with the reason, and the rest of the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["JSON_FIELDS", "MESSAGE_ID_COLUMN", "Batch", "DeadLetter", "build_batch"]

MESSAGE_ID_COLUMN = "_message_id"
JSON_FIELDS = frozenset({"data", "json"})

# Everything pyarrow or json raise on values they cannot convert.
_CONVERSION_ERRORS = (pa.ArrowException, ValueError, TypeError, OverflowError, RecursionError)
_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
_MAX_LISTED = 20


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not become a row, with the reason why."""

    message_id: str
    fields: Mapping[bytes, bytes]
    reason: str


@dataclass(frozen=True)
class Batch:
    """The rows of one micro-batch, ready to commit, and the messages set aside."""

    table: pa.Table | None
    ids: list[str]
    dead: list[DeadLetter]


class _Rejected(Exception):
    """Internal: this message cannot become a row (the argument is the reason)."""


def build_batch(
    messages: Sequence[tuple[str, Mapping[bytes, bytes]]],
    schema: pa.Schema | None,
    dtypes: Mapping[str, pa.DataType],
) -> Batch:
    """Convert messages to one table; messages that do not fit become dead letters.

    Args:
        messages: ``(id, fields)`` pairs as Redis returns them (fields as bytes).
        schema: The dataset's schema, or None when the dataset has no version yet.
        dtypes: Column types to use when there is no schema (ignored otherwise).

    Returns:
        The table (None when no message fits), the ids of its rows in row order, and the
        dead letters in message order.
    """
    originals = dict(messages)
    rows: dict[str, dict[str, Any]] = {}
    reasons: dict[str, str] = {}
    for message_id, fields in messages:
        try:
            rows[message_id] = _parse_message(fields)
            if schema is not None:
                _check_columns(rows[message_id], schema)
        except _Rejected as exc:
            rows.pop(message_id, None)
            reasons[message_id] = str(exc)
    types = _declared_types(schema, dtypes)
    for column, dtype in types.items():
        reasons.update(_coerce_column(rows, column, dtype))
    if schema is None:
        schema = _infer_schema(rows, types, reasons)
    elif MESSAGE_ID_COLUMN not in schema.names:
        schema = schema.append(pa.field(MESSAGE_ID_COLUMN, pa.string(), nullable=False))
    table = _to_table(rows, schema, reasons)
    dead = [DeadLetter(mid, originals[mid], reasons[mid]) for mid in originals if mid in reasons]
    return Batch(table, list(rows), dead)


def _parse_message(fields: Mapping[bytes, bytes]) -> dict[str, Any]:
    """One message's fields as a row (see the module docstring for the rules).

    Raises:
        _Rejected: The fields are not UTF-8, the JSON is invalid or not an object, or a
            field uses the reserved ``_message_id`` name.
    """
    decoded: dict[str, str] = {}
    for raw_name, raw_value in fields.items():
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise _Rejected(f"field name {_short(raw_name)} is not valid UTF-8 text") from None
        try:
            decoded[name] = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            raise _Rejected(f"field {name!r} is not valid UTF-8 text") from None
    if len(decoded) == 1 and (name := next(iter(decoded))) in JSON_FIELDS:
        row = _parse_json_object(name, decoded[name])
    else:
        row = dict(decoded)
    if MESSAGE_ID_COLUMN in row:
        raise _Rejected(
            f"field {MESSAGE_ID_COLUMN!r} is reserved for the Redis message id; rename it"
        )
    return row


def _parse_json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Rejected(f"field {name!r} is not valid JSON: {exc}") from None
    except RecursionError:
        raise _Rejected(f"field {name!r} holds JSON nested too deeply to parse") from None
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "a number")
        raise _Rejected(f"field {name!r} holds {kind}, expected a JSON object (one row)")
    return value


def _check_columns(row: Mapping[str, Any], schema: pa.Schema) -> None:
    known = [name for name in schema.names if name != MESSAGE_ID_COLUMN]
    known_set = set(known)
    unknown = [name for name in row if name not in known_set]
    if unknown:
        raise _Rejected(
            f"unknown field(s) {_listing(unknown)} for the dataset schema; "
            f"known columns: {_listing(known, quote=False)}"
        )
    required = [f.name for f in schema if not f.nullable and f.name != MESSAGE_ID_COLUMN]
    missing = [name for name in required if row.get(name) is None]
    if missing:
        raise _Rejected(f"no value for non-nullable column(s) {_listing(missing)}")


def _declared_types(
    schema: pa.Schema | None, dtypes: Mapping[str, pa.DataType]
) -> dict[str, pa.DataType]:
    if schema is None:
        return dict(dtypes)
    return {f.name: f.type for f in schema if f.name != MESSAGE_ID_COLUMN}


def _coerce_column(
    rows: dict[str, dict[str, Any]], column: str, dtype: pa.DataType
) -> dict[str, str]:
    """Ready one column's values for ``dtype`` in place; returns the rows refused, removed."""
    failed: dict[str, str] = {}
    if pa.types.is_integer(dtype):  # Arrow would silently truncate 1.5 to 1
        for mid, row in list(rows.items()):
            value = row.get(column)
            if isinstance(value, float) and not value.is_integer():
                failed[mid] = f"field {column!r} value {value!r} is not a whole number ({dtype})"
                del rows[mid]
    if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
        failed.update(_parse_strings(rows, column, dtype))
    return failed


def _parse_strings(
    rows: dict[str, dict[str, Any]], column: str, dtype: pa.DataType
) -> dict[str, str]:
    """Parse a column's string values into ``dtype``, all at once or, if one fails, singly."""
    texts = {mid: row[column] for mid, row in rows.items() if isinstance(row.get(column), str)}
    if not texts:
        return {}
    failed: dict[str, str] = {}
    try:
        parsed = dict(zip(texts, _parse_texts(list(texts.values()), dtype), strict=True))
    except _CONVERSION_ERRORS:
        parsed = {}
        for mid, text in texts.items():
            try:
                parsed[mid] = _parse_texts([text], dtype)[0]
            except _CONVERSION_ERRORS as exc:
                failed[mid] = (
                    f"field {column!r} value {_short(text)} cannot be cast to {dtype}: {exc}"
                )
                del rows[mid]
    for mid, value in parsed.items():
        rows[mid][column] = value
    return failed


def _parse_texts(texts: list[str], dtype: pa.DataType) -> list[Any]:
    if pa.types.is_nested(dtype):  # a flat message can only carry nested values as JSON
        return [json.loads(text) for text in texts]
    return pa.array(texts, pa.string()).cast(dtype).to_pylist()  # type: ignore[no-any-return]


def _infer_schema(
    rows: dict[str, dict[str, Any]], declared: Mapping[str, pa.DataType], reasons: dict[str, str]
) -> pa.Schema:
    """The schema of a batch with no dataset schema yet; conflicting rows go to ``reasons``."""
    columns = list(dict.fromkeys([name for row in rows.values() for name in row] + list(declared)))
    fields = []
    for column in columns:
        dtype = declared.get(column)
        if dtype is None:
            dtype, conflicts = _infer_type(rows, column)
            for mid in conflicts:
                reasons[mid] = (
                    f"field {column!r} value {_short(rows.pop(mid)[column])} does not match "
                    f"type {dtype} of the other messages in this batch"
                )
        fields.append(pa.field(column, pa.string() if pa.types.is_null(dtype) else dtype))
    return pa.schema([*fields, pa.field(MESSAGE_ID_COLUMN, pa.string(), nullable=False)])


def _infer_type(
    rows: Mapping[str, Mapping[str, Any]], column: str
) -> tuple[pa.DataType, list[str]]:
    """Arrow's type for a column; when values disagree, the first type wins (widened)."""
    try:
        return pa.array([row.get(column) for row in rows.values()]).type, []
    except _CONVERSION_ERRORS:
        pass
    dtype: pa.DataType = pa.null()
    conflicts = []
    for mid, row in rows.items():
        try:
            merged = pa.unify_schemas(
                [
                    pa.schema([(column, dtype)]),
                    pa.schema([(column, pa.array([row.get(column)]).type)]),
                ],
                promote_options="permissive",
            )
            dtype = merged.field(column).type
        except _CONVERSION_ERRORS:
            conflicts.append(mid)
    return dtype, conflicts


def _to_table(
    rows: dict[str, dict[str, Any]], schema: pa.Schema, reasons: dict[str, str]
) -> pa.Table | None:
    """Build the table; rows Arrow refuses go to ``reasons`` (removed from ``rows``)."""
    records = [{**row, MESSAGE_ID_COLUMN: mid} for mid, row in rows.items()]
    if not records:
        return None
    try:
        return pa.Table.from_pylist(records, schema=schema)
    except _CONVERSION_ERRORS:
        pass  # find the rows at fault, one at a time
    good = []
    for record in records:
        try:
            pa.Table.from_pylist([record], schema=schema)
        except _CONVERSION_ERRORS as exc:
            mid = record[MESSAGE_ID_COLUMN]
            reasons[mid] = _unfit_reason(record, schema, exc)
            del rows[mid]
        else:
            good.append(record)
    return pa.Table.from_pylist(good, schema=schema) if good else None


def _unfit_reason(record: Mapping[str, Any], schema: pa.Schema, error: Exception) -> str:
    """Name the column a record fails on (Arrow's own message does not)."""
    for field in schema:
        value = record.get(field.name)
        try:
            pa.array([value], field.type)
        except _CONVERSION_ERRORS as exc:
            return f"field {field.name!r} value {_short(value)} does not fit column type {field.type}: {exc}"
    return f"the row does not fit the dataset schema: {error}"


def _listing(names: Sequence[str], *, quote: bool = True) -> str:
    shown = [repr(name) if quote else name for name in names[:_MAX_LISTED]]
    more = len(names) - _MAX_LISTED
    return ", ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
