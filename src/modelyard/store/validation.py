"""Checks on keys and values before anything is written, shared by every transport."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from modelyard.exceptions import ValidationError
from modelyard.store.schema import KEY_MAX, PARAM_VALUE_MAX, TAG_VALUE_MAX

__all__ = [
    "check_key",
    "check_metric_value",
    "check_name",
    "check_param_value",
    "check_run_id",
    "check_step",
    "check_tag_value",
]

_KEY = re.compile(r"^[\w\-. /:]+$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_INT64 = 2**63


def check_key(key: Any, what: str = "key") -> str:
    """A metric/param/tag key: non-empty, <= 250 chars, letters, digits, ``_-. /:``.

    Raises:
        ValidationError: Naming the key and the rule it broke.
    """
    if not isinstance(key, str):
        raise ValidationError(f"{what} must be a string, got {type(key).__name__} {key!r}")
    if not key or not key.strip():
        raise ValidationError(f"{what} must not be empty", key=key)
    if len(key) > KEY_MAX:
        raise ValidationError(
            f"{what} {key[:40]!r}... is {len(key)} characters; the limit is {KEY_MAX}", key=key
        )
    if not _KEY.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise ValidationError(
            f"{what} {key!r} has characters that are not allowed; use letters, digits, "
            "underscores, dashes, periods, spaces, colons and (non-leading) slashes",
            key=key,
        )
    return key


def check_name(name: Any, what: str) -> str:
    """An experiment or run name: a non-empty string of at most 256 characters."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > 256:
        raise ValidationError(f"{what} is {len(name)} characters; the limit is 256")
    if any(ord(c) < 32 for c in name):
        raise ValidationError(f"{what} {name!r} contains control characters")
    return name


def check_metric_value(key: str, value: Any) -> float:
    """A metric value: any real number (bools count as 0/1); NaN and +-inf are kept.

    Raises:
        ValidationError: The value is not a number (e.g. a string or None).
    """
    if isinstance(value, numbers.Real):
        return float(value)
    raise ValidationError(
        f"metric {key!r} must be a number, got {type(value).__name__} {value!r}; "
        "log text with log_text or as a tag",
        key=key,
    )


def check_step(key: str, step: Any) -> int:
    """A metric step: an integer in the signed 64-bit range."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        else:
            raise ValidationError(f"step of metric {key!r} must be an integer, got {step!r}")
    number = int(step)
    if not -_INT64 <= step < _INT64:
        raise ValidationError(f"step {number} of metric {key!r} is outside the 64-bit range")
    return number


def check_param_value(key: str, value: Any) -> str:
    """A param value, stored as a string of at most 6000 characters."""
    text = _stringify(value)
    if len(text) > PARAM_VALUE_MAX:
        raise ValidationError(
            f"param {key!r} value is {len(text)} characters; the limit is {PARAM_VALUE_MAX} "
            "(log long values as an artifact with log_text or log_dict)",
            key=key,
        )
    return text


def check_tag_value(key: str, value: Any) -> str:
    """A tag value, stored as a string of at most 8000 characters."""
    text = _stringify(value)
    if len(text) > TAG_VALUE_MAX:
        raise ValidationError(
            f"tag {key!r} value is {len(text)} characters; the limit is {TAG_VALUE_MAX}", key=key
        )
    return text


def check_run_id(run_id: Any) -> str:
    """A run id: 32 lowercase hex characters."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ValidationError(f"{run_id!r} is not a run id (32 lowercase hex characters)")
    return run_id


def _stringify(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise ValidationError("values must not contain NUL characters")
    return text
