"""Logical artifact paths: the names users give files inside a run, dataset or model.

A logical path such as ``model/model.skops`` or ``plots/roc.png`` is a key in a
:class:`~modelyard.artifacts.manifest.Manifest` and, when artifacts are downloaded,
a path below the destination folder. It is user input that ends up on disk, so
anything that could escape that folder or mean different things on different
operating systems is rejected here, in one place.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NoReturn

from modelyard.exceptions import ValidationError

__all__ = ["MAX_PATH_LENGTH", "validate_logical_path"]

MAX_PATH_LENGTH = 1024
"""The longest logical path accepted, in characters (after NFC normalization)."""

_DRIVE = re.compile(r"^[A-Za-z]:")
_RULES = (
    "a logical path is a relative, '/'-separated path such as 'model/model.skops': "
    "no leading '/', '~' or drive letter, no '.' or '..' segments, no empty segments, "
    "no trailing '/', no backslashes or control characters, "
    f"at most {MAX_PATH_LENGTH} characters"
)


def validate_logical_path(path: str) -> str:
    """Check a logical artifact path and return it in canonical (NFC) form.

    Args:
        path: A relative, ``/``-separated path such as ``"plots/roc.png"``.

    Returns:
        The path, Unicode-normalized to NFC so that visually identical names
        written on different systems compare equal.

    Raises:
        ValidationError: The path is not a string, is empty or too long, is
            absolute (``/x``, ``C:x``, ``\\\\server``), starts with ``~``, holds a
            ``.``/``..``/empty segment, ends with ``/``, or contains a backslash
            or a control character. The message names the path and the rule.

    Example:
        >>> validate_logical_path("model/model.skops")
        'model/model.skops'
    """
    value: object = path
    if not isinstance(value, str):
        _reject(path, f"it is a {type(value).__name__}, not a str")
    normalized = unicodedata.normalize("NFC", path)
    if not normalized:
        _reject(path, "it is empty")
    if len(normalized) > MAX_PATH_LENGTH:
        _reject(path, f"it is {len(normalized)} characters long")
    for char in normalized:
        if unicodedata.category(char) == "Cc":
            _reject(path, f"it contains the control character {char!r}")
    if "\\" in normalized:
        _reject(path, "it contains a backslash (use '/' to separate folders)")
    if normalized.startswith("/"):
        _reject(path, "it is absolute (starts with '/')")
    if _DRIVE.match(normalized):
        _reject(path, "it starts with a drive letter")
    if normalized.startswith("~"):
        _reject(path, "it starts with '~'")
    if normalized.endswith("/"):
        _reject(path, "it ends with '/'")
    for segment in normalized.split("/"):
        if segment == "":
            _reject(path, "it has an empty segment ('//')")
        if segment in {".", ".."}:
            _reject(path, f"it has a {segment!r} segment")
    return normalized


def _reject(path: object, reason: str) -> NoReturn:
    shown = repr(path) if not isinstance(path, str) or len(path) <= 80 else repr(path[:80]) + "..."
    raise ValidationError(f"invalid artifact path {shown}: {reason}; {_RULES}", path=shown)
