"""Every error modelyard raises on purpose.

One root, typed branches; each branch also subclasses the built-in it means, so
``except KeyError`` keeps working for callers who do not know modelyard::

    ModelyardError
    ├── ConfigError(ValueError)            bad or missing configuration
    ├── ValidationError(ValueError)        bad input from the caller
    │   ├── FilterSyntaxError              a search filter that does not parse
    │   ├── DataQualityError               data failed its validation rules (carries the report)
    │   └── SignatureError                 input does not match a model's signature
    ├── NotFoundError(KeyError)            no such experiment / run / blob / artifact
    ├── AlreadyExistsError                 a name that must be unique is taken
    ├── ConflictError                      the request contradicts stored state
    ├── IntegrityError                     stored data failed a check (hash mismatch, ...)
    ├── EncryptionError                    encrypted data cannot be read (no key, wrong key)
    ├── UnsafeFormatError(PermissionError) a pickle without the operator's opt-in
    ├── StoreError(RuntimeError)           the metadata database or artifact storage failed
    │   └── SchemaVersionError             the database schema is older/newer than this code
    └── MissingDependencyError(ImportError) an optional extra is not installed

Every error carries ``http_status`` (what the server answers with) and a
``details`` mapping with the fields that identify what went wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AlreadyExistsError",
    "ConfigError",
    "ConflictError",
    "DataQualityError",
    "EncryptionError",
    "FilterSyntaxError",
    "IntegrityError",
    "MissingDependencyError",
    "ModelyardError",
    "NotFoundError",
    "SchemaVersionError",
    "SignatureError",
    "StoreError",
    "UnsafeFormatError",
    "ValidationError",
]


class ModelyardError(Exception):
    """Root of every error modelyard raises on purpose.

    Args:
        message: What was wrong, what is valid, and what to do about it.
        **details: Fields that identify the failing object (``run_id=...``).
    """

    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, Any] = details

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-able mapping (used by the server and the CLI)."""
        return {"error_code": self.code, "message": self.message, **self.details}


class ConfigError(ModelyardError, ValueError):
    """A setting is missing, malformed, or contradicts another one."""

    http_status = 500
    code = "CONFIG_ERROR"


class ValidationError(ModelyardError, ValueError):
    """Input from the caller is malformed or out of range."""

    http_status = 400
    code = "INVALID_PARAMETER_VALUE"


class FilterSyntaxError(ValidationError):
    """A search filter or order-by clause does not parse.

    ``position`` is the 0-based offset of the offending token in ``text``.
    """

    def __init__(self, message: str, *, text: str, position: int) -> None:
        pointer = f"\n  {text}\n  {' ' * position}^"
        super().__init__(message + pointer, text=text, position=position)
        self.text = text
        self.position = position


class DataQualityError(ValidationError):
    """Data failed validation rules whose ``on_fail`` is ``error``.

    ``report`` is the full validation report (every rule, pass or fail), so a
    caller can show what failed and why without re-running the rules.
    """

    code = "DATA_QUALITY"

    def __init__(self, message: str, *, report: Any, **details: Any) -> None:
        super().__init__(message, **details)
        self.report = report


class SignatureError(ValidationError):
    """Input does not match a model's signature.

    ``missing``, ``extra`` and ``conflicts`` (column -> what was expected and found)
    say exactly what to fix.
    """

    http_status = 422
    code = "SIGNATURE_MISMATCH"


class NotFoundError(ModelyardError, KeyError):
    """The named object does not exist."""

    http_status = 404
    code = "RESOURCE_DOES_NOT_EXIST"

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class AlreadyExistsError(ModelyardError):
    """An object with this unique name or id already exists."""

    http_status = 409
    code = "RESOURCE_ALREADY_EXISTS"


class ConflictError(ModelyardError):
    """The request contradicts stored state (e.g. re-logging a param with a new value)."""

    http_status = 409
    code = "INVALID_STATE"


class IntegrityError(ModelyardError):
    """Stored data failed an integrity check; it is never returned silently."""

    http_status = 500
    code = "DATA_INTEGRITY"


class EncryptionError(ModelyardError):
    """Encrypted data cannot be read: no master key configured, or the wrong one."""

    http_status = 500
    code = "ENCRYPTION_ERROR"


class UnsafeFormatError(ModelyardError, PermissionError):
    """Loading would unpickle a blob, and the operator has not opted in."""

    http_status = 403
    code = "UNSAFE_FORMAT"


class StoreError(ModelyardError, RuntimeError):
    """The metadata database or the artifact storage failed or cannot be reached."""

    http_status = 503
    code = "STORE_UNAVAILABLE"


class SchemaVersionError(StoreError):
    """The database schema does not match this version of modelyard."""

    http_status = 500
    code = "SCHEMA_VERSION"


class MissingDependencyError(ModelyardError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    http_status = 500
    code = "MISSING_DEPENDENCY"
