"""The checks both wire formats share: signature matching, row caps, short descriptions.

Split out of :mod:`modelyard.serving.codec` (which keeps the wire formats); every
problem found here is a ``ValidationError``, ``SignatureError`` (422) or
``PayloadTooLarge`` (413) whose message names what was wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.exceptions import SignatureError, ValidationError
from modelyard.serving import _values
from modelyard.serving.errors import PayloadTooLarge
from modelyard.serving.runtime import Prediction, ServedModel

SHOW = 10
"""How many names a message lists before "and N more"."""


def classified(prediction: Prediction, model: ServedModel) -> tuple[np.ndarray, np.ndarray]:
    """Codes and probabilities of a classifier's prediction (an error if missing)."""
    if prediction.codes is None or prediction.probabilities is None:
        raise ValidationError(f"{model.ref} is a classifier but the prediction has no classes")
    return np.asarray(prediction.codes, dtype=np.int64), prediction.probabilities


def regressed(prediction: Prediction, model: ServedModel) -> np.ndarray:
    """Values of a regressor's prediction (an error if missing)."""
    if prediction.values is None:
        raise ValidationError(f"{model.ref} is a regressor but the prediction has no values")
    return np.asarray(prediction.values, dtype=np.float64)


def class_labels(codes: np.ndarray, model: ServedModel) -> np.ndarray | list[Any]:
    """The class labels for ``codes``: a numpy lookup for integer classes, else a list."""
    if model.int_classes is not None:
        found: np.ndarray = model.int_classes[codes]
        return found
    classes = model.classes or []
    return [classes[code] for code in codes.tolist()]


def used_columns(signature: dict[str, Any]) -> list[dict[str, Any]]:
    """The signature's columns the model reads."""
    inputs = signature.get("inputs") if isinstance(signature, dict) else None
    if not isinstance(inputs, list):
        raise ValidationError("the model signature has no 'inputs' list")
    return [c for c in inputs if isinstance(c, dict) and c.get("used", True)]


def add_column(
    feeds: dict[str, np.ndarray],
    conflicts: dict[str, str],
    column: dict[str, Any],
    result: _values.Converted,
) -> None:
    """Put one converted column into ``feeds``, or its problem into ``conflicts``."""
    values, problem = result
    if values is None:
        conflicts[column["name"]] = problem or "cannot be converted"
    else:
        feeds[column["name"]] = values.reshape(-1, 1)


def check_match(
    signature: dict[str, Any],
    used: list[dict[str, Any]],
    present: set[str],
    given: list[str],
    conflicts: dict[str, str],
) -> None:
    """Raise one ``SignatureError`` naming every missing, extra and mistyped column."""
    known = {c["name"] for c in signature["inputs"]}
    missing = [c["name"] for c in used if c["name"] not in present]
    extra = [name for name in given if name not in known]
    if not (missing or extra or conflicts):
        return
    parts = []
    if missing:
        parts.append(f"missing column(s): {name_list(missing)}")
    if extra:
        parts.append(f"extra column(s) the model does not know: {name_list(extra)} (drop them)")
    parts.extend(f"column {name_list([n])}: {p}" for n, p in list(conflicts.items())[:SHOW])
    raise SignatureError(
        "input does not match the model signature: " + "; ".join(parts),
        missing=missing,
        extra=[str(name)[:200] for name in extra[:100]],
        conflicts=conflicts,
    )


def check_rows(rows: int, max_rows: int) -> None:
    """Refuse an empty request, or one over ``max_rows`` (413)."""
    if rows == 0:
        raise ValidationError("the request has no rows: send at least one")
    if rows > max_rows:
        raise PayloadTooLarge(
            f"the request has {rows} rows, more than the {max_rows} allowed; split it "
            "into smaller requests",
            limit=max_rows,
            size=rows,
        )


def name_list(names: list[str]) -> str:
    """Up to :data:`SHOW` names for a message, then "and N more"."""
    shown = ", ".join(_values.describe(n) for n in names[:SHOW])
    return shown + (f" and {len(names) - SHOW} more" if len(names) > SHOW else "")


def describe_value(value: Any) -> str:
    """What a JSON value is, shortly (``a JSON array of 3 items``)."""
    if isinstance(value, list):
        return f"a JSON array of {len(value)} items"
    if isinstance(value, dict):
        return f"a JSON object with {len(value)} keys"
    return f"{type(value).__name__} {_values.describe(value)}"
