"""Stream inference messages: Redis fields to feeds, predictions to output fields.

The input format is the one ``modelyard data consume`` reads: a message with exactly
one field named ``data`` or ``json`` holds one JSON object (typed values: numbers,
``true``/``false``, ISO 8601 strings, ``null``); otherwise the message's own fields
are the columns, as text, parsed by the column's kind in the model's signature
(``"42.5"`` for a numeric column, ``true``/``false``/``1``/``0`` for a boolean one,
``""`` for missing). Fields the model does not know (an id, the target) are ignored.

A message that does not fit (not UTF-8, bad JSON, a used column absent, a value its
column cannot take) becomes a :class:`~modelyard.data.consumer_group.DeadLetter` with
the reason, as in ingestion, and the rest of the batch goes on; whether a message is
refused never depends on the others in its batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelyard.data.consumer_group import DeadLetter, Message
from modelyard.exceptions import SignatureError, ValidationError
from modelyard.serving.codec import feeds_from_records
from modelyard.serving.runtime import Feeds, Prediction, ServedModel

__all__ = ["JSON_FIELDS", "Rows", "output_fields", "parse_messages", "predict_rows"]

JSON_FIELDS = frozenset({"data", "json"})  # as in modelyard.data.stream
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "True": True, "False": False}


@dataclass(frozen=True)
class Rows:
    """The messages of one batch as rows (known columns only), and the rejected ones."""

    ids: list[str]
    rows: list[dict[str, Any]]
    fields: list[Mapping[bytes, bytes]]
    rejected: list[DeadLetter]


def parse_messages(messages: Sequence[Message], signature: dict[str, Any]) -> Rows:
    """Turn messages into rows of the signature's columns; set the unfit ones aside."""
    columns = {c["name"]: c for c in signature["inputs"]}
    used = [c["name"] for c in signature["inputs"] if c.get("used", True)]
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    kept: list[Mapping[bytes, bytes]] = []
    rejected: list[DeadLetter] = []
    for message_id, fields in messages:
        try:
            row = _parse(fields, columns)
            missing = [name for name in used if name not in row]
            if missing:
                raise ValueError(f"missing column(s) {', '.join(map(repr, missing))}")
        except ValueError as exc:
            rejected.append(DeadLetter(message_id, fields, str(exc)))
            continue
        ids.append(message_id)
        rows.append(row)
        kept.append(fields)
    return Rows(ids, rows, kept, rejected)


def _parse(fields: Mapping[bytes, bytes], columns: Mapping[str, Any]) -> dict[str, Any]:
    decoded: dict[str, str] = {}
    for raw_name, raw_value in fields.items():
        try:
            decoded[raw_name.decode("utf-8")] = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"field {raw_name[:80]!r} is not valid UTF-8 text") from None
    if len(decoded) == 1 and (name := next(iter(decoded))) in JSON_FIELDS:
        try:
            value = json.loads(decoded[name])
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"field {name!r} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"field {name!r} holds {type(value).__name__}, not a JSON object")
        return {k: v for k, v in value.items() if k in columns}
    return {k: _typed(v, columns[k]) for k, v in decoded.items() if k in columns}


def _typed(text: str, column: Mapping[str, Any]) -> Any:
    """A flat field's text as the value its column's kind takes (unparseable: the text,
    for the codec to refuse with a clear message)."""
    kind = column.get("kind")
    if kind == "categorical":
        return text
    if text == "":
        return None
    if kind == "boolean":
        return _BOOLEANS.get(text, text)
    if kind == "datetime":
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def predict_rows(model: ServedModel, rows: Rows) -> tuple[list[str], Prediction | None, Rows]:
    """Predict the rows; returns their ids, the prediction, and ``rows`` with any row the
    model refused moved to ``rejected``.

    The batch is converted and predicted at once; only if that fails is each row tried
    alone, to find the ones at fault.
    """
    if not rows.rows:
        return [], None, rows
    try:
        return rows.ids, model.infer(_feeds(rows.rows, model)), rows
    except ValidationError:  # SignatureError included: find the rows at fault
        pass
    good: list[int] = []
    parts: list[Prediction] = []
    rejected = list(rows.rejected)
    for index, (message_id, row) in enumerate(zip(rows.ids, rows.rows, strict=True)):
        try:
            parts.append(model.infer(_feeds([row], model)))
        except ValidationError as exc:
            rejected.append(DeadLetter(message_id, rows.fields[index], _reason(exc)))
            continue
        good.append(index)
    kept = Rows(
        [rows.ids[i] for i in good],
        [rows.rows[i] for i in good],
        [rows.fields[i] for i in good],
        rejected,
    )
    return kept.ids, Prediction.concat(parts) if parts else None, kept


def _feeds(rows: list[dict[str, Any]], model: ServedModel) -> Feeds:
    return feeds_from_records(rows, model.signature, max_rows=max(len(rows), 1))


def _reason(exc: ValidationError) -> str:
    if isinstance(exc, SignatureError):
        return str(exc).removeprefix("input does not match the model signature: ")
    return str(exc)


def output_fields(
    model: ServedModel, ids: list[str], prediction: Prediction
) -> list[dict[str, str]]:
    """One output message per input: its id, the prediction (JSON), the probabilities
    (a JSON object ``{class: p}``, classifiers only), the model and its version."""
    base = {"model": model.name, "version": str(model.version)}
    if model.classes is None:
        values = np.asarray(prediction.values, dtype=np.float64).tolist()
        return [
            {"id": mid, "prediction": orjson.dumps(v).decode(), **base}
            for mid, v in zip(ids, values, strict=True)
        ]
    codes = np.asarray(prediction.codes, dtype=np.int64).tolist()
    probabilities = np.asarray(prediction.probabilities, dtype=np.float64).tolist()
    labels = [str(c) for c in model.classes]
    return [
        {
            "id": mid,
            "prediction": orjson.dumps(_plain(model.classes[code])).decode(),
            "probabilities": orjson.dumps(dict(zip(labels, p, strict=True))).decode(),
            **base,
        }
        for mid, code, p in zip(ids, codes, probabilities, strict=True)
    ]


def _plain(label: Any) -> Any:
    """A label as JSON can hold it (numpy scalars become Python ones)."""
    return label.item() if isinstance(label, np.generic) else label
