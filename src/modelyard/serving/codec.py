"""Requests to feeds and predictions to responses, on the hot path: orjson and numpy only.

Two wire formats:

- The plain JSON API (``POST /v1/models/{name}:predict``): ``{"records": [{...}, ...]}``
  or ``{"columns": [...], "data": [[...], ...]}``, answered by :func:`encode_v1`.
- The Open Inference Protocol (KServe V2, ``POST /v2/models/{name}/infer``): one tensor
  per column, shape ``[N]`` or ``[N, 1]``, JSON or binary data (the binary tensor data
  extension that ``tritonclient`` uses by default), answered by :func:`encode_v2`.

Values are checked against the model's signature as they are converted, and typed JSON
is expected (``"42"`` is not a number): numeric columns take numbers, boolean columns
``true``/``false``/0/1, categorical columns strings (numbers become their text),
datetime columns ISO 8601 strings (``2024-05-01T12:30:00Z``; naive times are UTC; epoch
numbers are refused as ambiguous); ``null`` is missing everywhere, NaN and infinity
nowhere. In tensors, which have no null, a float NaN is missing; datetime tensors are
BYTES of ISO 8601 text. Every missing, extra and mistyped column is named in one
:class:`~modelyard.exceptions.SignatureError` (422); a request that is malformed as such
is a ``ValidationError`` (400); more rows than the cap is
:class:`~modelyard.serving.errors.PayloadTooLarge` (413). Signature columns the model
does not use may be sent and are ignored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelyard.exceptions import ValidationError
from modelyard.serving import _codec_checks as checks
from modelyard.serving import _values
from modelyard.serving._feed_plan import FeedPlan
from modelyard.serving._tensors import (
    INPUT_DATATYPE,
    LABEL_DTYPES,
    column_from_tensor,
    label_datatype,
    output_tensor,
    read_tensors,
    requested_outputs,
)
from modelyard.serving.runtime import Feeds, Prediction, ServedModel

__all__ = [
    "MAX_ROWS",
    "V2Request",
    "decode_json",
    "encode_v1",
    "encode_v2",
    "feeds_from_columns",
    "feeds_from_records",
    "feeds_from_v1",
    "feeds_from_v2",
    "parse_v2_request",
    "v2_metadata",
]

MAX_ROWS = 100_000


def decode_json(body: bytes | bytearray | memoryview | str) -> Any:
    """The JSON value of a request body.

    Raises:
        ValidationError: The body is not valid UTF-8 JSON (the message gives the position).
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno} (position {exc.pos}); send one UTF-8 JSON object",
            position=exc.pos,
        ) from None


# -- the plain JSON API --------------------------------------------------------
def feeds_from_v1(
    payload: Any,
    signature: dict[str, Any],
    *,
    max_rows: int = MAX_ROWS,
    plan: FeedPlan | None = None,
) -> Feeds:
    """Feeds from a decoded ``:predict`` body: ``{"records": ...}`` or ``{"columns", "data"}``.

    Args:
        payload: The decoded body.
        signature: The model's signature.
        max_rows: The most rows accepted.
        plan: The model's compiled :class:`FeedPlan` (``ServedModel.plan``): well-formed
            requests take its fast path; anything else the detailed one, which names
            every problem. Both give the same feeds.

    Raises:
        ValidationError: Neither form, or other top-level keys.
        SignatureError, PayloadTooLarge: As for :func:`feeds_from_records`.
    """
    if type(payload) is dict and plan is not None:
        planned = None
        if len(payload) == 1 and "records" in payload:
            planned = plan.from_records(payload["records"], max_rows=max_rows)
        elif len(payload) == 2 and "columns" in payload and "data" in payload:
            planned = plan.from_columns(payload["columns"], payload["data"], max_rows=max_rows)
        if planned is not None:
            return planned[0]
    if isinstance(payload, dict) and set(payload) == {"records"}:
        return feeds_from_records(payload["records"], signature, max_rows=max_rows)
    if isinstance(payload, dict) and set(payload) == {"columns", "data"}:
        return feeds_from_columns(payload["columns"], payload["data"], signature, max_rows=max_rows)
    keys = (
        f" with keys {checks.name_list(sorted(map(str, payload)))}"
        if isinstance(payload, dict)
        else ""
    )
    raise ValidationError(
        'send {"records": [{"column": value, ...}, ...]} or {"columns": [...], "data": '
        f"[[...], ...]}}; got {checks.describe_value(payload)}{keys}"
    )


def feeds_from_records(
    records: Any, signature: dict[str, Any], *, max_rows: int = MAX_ROWS
) -> Feeds:
    """Feeds from rows given as objects, ``{column: value}``.

    A column absent from some rows is missing (null) in those rows; a used column absent
    from every row is a missing column.

    Raises:
        ValidationError: Not a list, empty, or an element that is not an object.
        PayloadTooLarge: More than ``max_rows`` rows.
        SignatureError: Missing, extra or mistyped columns, all named.
    """
    if not isinstance(records, list):
        raise ValidationError(
            f"'records' must be a list of objects, got {checks.describe_value(records)}"
        )
    checks.check_rows(len(records), max_rows)
    if set(map(type, records)) != {dict}:
        index = next(i for i, r in enumerate(records) if type(r) is not dict)
        raise ValidationError(
            f"records[{index}] must be an object {{column: value}}, got {checks.describe_value(records[index])}",
            index=index,
        )
    present: set[str] = set().union(*records)
    used = checks.used_columns(signature)
    feeds: dict[str, np.ndarray] = {}
    conflicts: dict[str, str] = {}
    for column in used:
        if column["name"] in present:
            values = [record.get(column["name"]) for record in records]
            checks.add_column(
                feeds, conflicts, column, _values.convert(values, column.get("kind", ""))
            )
    checks.check_match(signature, used, present, sorted(present, key=str), conflicts)
    return feeds


def feeds_from_columns(
    columns: Any, data: Any, signature: dict[str, Any], *, max_rows: int = MAX_ROWS
) -> Feeds:
    """Feeds from a table: column names, then rows of values in that order.

    Raises:
        ValidationError: Names that are not unique strings, rows that are not lists of
            one value per column, or no rows.
        PayloadTooLarge: More than ``max_rows`` rows.
        SignatureError: Missing, extra or mistyped columns, all named.
    """
    if not isinstance(columns, list) or set(map(type, columns)) - {str}:
        raise ValidationError(
            f"'columns' must be a list of column names, got {checks.describe_value(columns)}"
        )
    repeated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if repeated:
        raise ValidationError(f"'columns' names {checks.name_list(repeated)} more than once")
    if not isinstance(data, list):
        raise ValidationError(f"'data' must be a list of rows, got {checks.describe_value(data)}")
    checks.check_rows(len(data), max_rows)
    for index, row in enumerate(data):
        if type(row) is not list or len(row) != len(columns):
            raise ValidationError(
                f"data[{index}] must be a list of {len(columns)} values (one per column), "
                f"got {checks.describe_value(row)}",
                index=index,
            )
    by_column = dict(zip(columns, zip(*data, strict=True), strict=True))
    used = checks.used_columns(signature)
    feeds: dict[str, np.ndarray] = {}
    conflicts: dict[str, str] = {}
    for column in used:
        if column["name"] in by_column:
            values = list(by_column[column["name"]])
            checks.add_column(
                feeds, conflicts, column, _values.convert(values, column.get("kind", ""))
            )
    checks.check_match(signature, used, set(columns), columns, conflicts)
    return feeds


def encode_v1(prediction: Prediction, model: ServedModel, request_id: str | None) -> bytes:
    """The ``:predict`` answer: labels (and probabilities with the classes) or values."""
    body: dict[str, Any] = {"model": model.name, "version": model.version, "request_id": request_id}
    if model.classes is not None:
        codes, probabilities = checks.classified(prediction, model)
        body["predictions"] = checks.class_labels(codes, model)
        body["probabilities"] = np.ascontiguousarray(probabilities)
        body["classes"] = model.classes
    else:
        body["predictions"] = np.ascontiguousarray(checks.regressed(prediction, model))
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


# -- the Open Inference Protocol -----------------------------------------------
@dataclass(frozen=True)
class V2Request:
    """An inference request split into its parts (see :func:`parse_v2_request`).

    Attributes:
        inputs: The ``inputs`` as sent (checked by :func:`feeds_from_v2`).
        outputs: The requested ``outputs`` (None: all of them).
        id: The request's ``id``, echoed in the response.
        binary_output: ``parameters.binary_data_output``: outputs default to binary.
        binary: The body after the JSON header (None without the header).
    """

    inputs: Any
    outputs: list[dict[str, Any]] | None
    id: str | None
    binary_output: bool
    binary: bytes | None


def parse_v2_request(body: bytes, header_length: str | int | None = None) -> V2Request:
    """Split a ``/infer`` body into the JSON request and the binary tensor data.

    Args:
        body: The raw request body.
        header_length: The ``Inference-Header-Content-Length`` header: the length of the
            JSON part when binary data follows it (tritonclient sends it by default).

    Raises:
        ValidationError: A bad header length, invalid JSON, or a request that is not an
            object with ``inputs``.
    """
    head, tail = body, None
    if header_length is not None:
        length = _header_length(header_length, len(body))
        head, tail = body[:length], body[length:]
    payload = decode_json(head)
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise ValidationError(
            f"an inference request is a JSON object with 'inputs', got {checks.describe_value(payload)}"
        )
    request_id, parameters = payload.get("id"), payload.get("parameters") or {}
    outputs = payload.get("outputs") or None
    if request_id is not None and not isinstance(request_id, str):
        raise ValidationError(f"'id' must be a string, got {checks.describe_value(request_id)}")
    if not isinstance(parameters, dict):
        raise ValidationError(
            f"'parameters' must be an object, got {checks.describe_value(parameters)}"
        )
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise ValidationError(
            f"binary_data_output must be true or false, got {_values.describe(binary_output)}"
        )
    if outputs is not None and not (
        isinstance(outputs, list) and all(isinstance(o, dict) for o in outputs)
    ):
        raise ValidationError(
            f"'outputs' must be a list of objects, got {checks.describe_value(outputs)}"
        )
    return V2Request(payload["inputs"], outputs, request_id, binary_output, tail)


def feeds_from_v2(
    inputs: Any,
    signature: dict[str, Any],
    binary: bytes | None = None,
    *,
    max_rows: int = MAX_ROWS,
) -> Feeds:
    """Feeds from Open Inference Protocol input tensors, one per column.

    Args:
        inputs: The request's ``inputs``.
        signature: The model's signature.
        binary: The body after the JSON header, holding the inputs that carry
            ``parameters.binary_data_size``, in input order.
        max_rows: The most rows (first dimension) accepted.

    Raises:
        ValidationError: A malformed tensor (name, datatype, shape, element or byte
            counts, a truncated or overlong binary part); all are named.
        PayloadTooLarge: More than ``max_rows`` rows.
        SignatureError: Unknown inputs, missing columns, a shape other than ``[N]`` /
            ``[N, 1]``, a datatype that does not fit the column, or bad values.
    """
    claimed = max(map(_claimed_rows, inputs), default=0) if isinstance(inputs, list) else 0
    if claimed > max_rows:  # before any tensor is read
        checks.check_rows(claimed, max_rows)
    tensors, problems = read_tensors(inputs, binary)
    if problems:
        shown = "; ".join(
            f"{checks.name_list([k])}: {v}" for k, v in list(problems.items())[: checks.SHOW]
        )
        raise ValidationError(f"the inference request is malformed: {shown}", problems=problems)
    checks.check_rows(tensors[0].rows, max_rows)
    by_name = {t.name: t for t in tensors}
    used = checks.used_columns(signature)
    feeds: dict[str, np.ndarray] = {}
    conflicts: dict[str, str] = {}
    for column in used:
        if column["name"] in by_name:
            checks.add_column(
                feeds, conflicts, column, column_from_tensor(by_name[column["name"]], column)
            )
    checks.check_match(signature, used, set(by_name), list(by_name), conflicts)
    return feeds


def encode_v2(
    prediction: Prediction,
    model: ServedModel,
    request_id: str | None,
    outputs_requested: list[dict[str, Any]] | None,
    *,
    binary_output: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """The ``/infer`` response body and its extra headers.

    Classifiers answer ``label`` (``[N]``: BYTES for text classes, INT64 / BOOL / FP64 for
    others) and ``probabilities`` (FP32 ``[N, k]``); regressors ``predictions`` (FP64
    ``[N]``). Outputs requested with ``parameters.binary_data`` (or all, with
    ``binary_output``) follow the JSON header as raw bytes; the headers then carry
    ``Inference-Header-Content-Length``.

    Raises:
        ValidationError: A requested output the model does not have.
    """
    available = _v2_outputs(prediction, model)
    header: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version)}
    if request_id is not None:
        header["id"] = request_id
    header["outputs"] = []
    tails: list[bytes] = []
    for name, binary in requested_outputs(outputs_requested, list(available), binary_output):
        datatype, shape, values = available[name]
        tensor, raw = output_tensor(name, datatype, shape, values, binary)
        header["outputs"].append(tensor)
        if raw is not None:
            tails.append(raw)
    head = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    if not tails:
        return head, {"content-type": "application/json"}
    return head + b"".join(tails), {
        "inference-header-content-length": str(len(head)),
        "content-type": "application/octet-stream",
    }


def v2_metadata(model: ServedModel) -> dict[str, Any]:
    """The Open Inference Protocol model metadata (``GET /v2/models/{name}``)."""
    inputs = [
        {"name": c["name"], "datatype": INPUT_DATATYPE.get(c.get("kind", ""), "FP64"),
         "shape": [-1, 1]}
        for c in checks.used_columns(model.signature)
    ]  # fmt: skip
    if model.classes is not None:
        outputs = [
            {"name": "label", "datatype": label_datatype(model.classes), "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(model.classes)]},
        ]
    else:
        outputs = [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]
    platform = (
        "onnxruntime_onnx" if model.format.startswith("onnx") else f"modelyard_{model.format}"
    )
    return {
        "name": model.name,
        "versions": [str(model.version)],
        "platform": platform,
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"format": model.format, "runtime_note": model.runtime_note},
    }


def _v2_outputs(
    prediction: Prediction, model: ServedModel
) -> dict[str, tuple[str, list[int], np.ndarray | list[str]]]:
    if model.classes is None:
        values = checks.regressed(prediction, model)
        return {"predictions": ("FP64", [len(values)], values.astype(np.float64))}
    codes, probabilities = checks.classified(prediction, model)
    datatype = label_datatype(model.classes)
    labels: np.ndarray | list[str]
    if datatype == "BYTES":
        text = [str(c) for c in model.classes]
        labels = [text[code] for code in codes.tolist()]
    else:
        labels = np.asarray(model.classes, dtype=LABEL_DTYPES[datatype])[codes]
    return {
        "label": (datatype, [len(codes)], labels),
        "probabilities": ("FP32", list(probabilities.shape), probabilities.astype(np.float32)),
    }


# -- the Open Inference Protocol's own checks ---------------------------------
def _claimed_rows(spec: Any) -> int:
    shape = spec.get("shape") if isinstance(spec, dict) else None
    if isinstance(shape, list) and shape and type(shape[0]) is int:
        return shape[0]
    return 0


def _header_length(value: str | int, body_length: int) -> int:
    try:
        length = int(value)
    except (TypeError, ValueError):
        length = -1
    if not 0 < length <= body_length:
        raise ValidationError(
            f"Inference-Header-Content-Length is {str(value)[:40]!r}, but it must be the "
            f"length of the JSON header: a whole number from 1 to the body's {body_length} bytes"
        )
    return length
