"""The errors only the inference server raises, on top of :mod:`modelyard.exceptions`.

They slot into the one tree (so ``except ModelyardError`` and ``except ValueError``
keep working) and carry the HTTP status the server answers with::

    ModelyardError
    ├── ValidationError(ValueError)
    │   └── PayloadTooLarge        413: the body or the row count is over its cap
    ├── Overloaded                 503: the queue is full; ``retry_after`` seconds
    ├── ModelNotReady              503: the model is loading, warming up or unloading
    └── RequestTimeout             504: the prediction did not finish within the deadline
"""

from __future__ import annotations

from typing import Any

from modelyard.exceptions import ModelyardError, ValidationError

__all__ = [
    "ClientClosedRequest",
    "ModelNotReady",
    "Overloaded",
    "PayloadTooLarge",
    "RequestTimeout",
]


class PayloadTooLarge(ValidationError):
    """A request body or its number of rows is over the server's cap.

    ``limit`` and ``size`` (in the unit the message names: bytes or rows) say by how much;
    the caller splits the request into smaller ones.
    """

    http_status = 413
    code = "PAYLOAD_TOO_LARGE"


class Overloaded(ModelyardError):
    """The server's queue for a model is full: the request was refused, not queued.

    Args:
        message: What is full and what to do.
        retry_after: Seconds after which a retry is likely to be accepted (the server
            sends it as ``Retry-After``).
        **details: Fields that identify the queue (``model=...``, ``queued_rows=...``).
    """

    http_status = 503
    code = "OVERLOADED"

    def __init__(self, message: str, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = float(retry_after)


class ModelNotReady(ModelyardError):
    """The model exists but cannot answer yet (loading, warming up) or any more (unloading).

    Readiness probes see the same state; the caller retries shortly.
    """

    http_status = 503
    code = "MODEL_NOT_READY"


class RequestTimeout(ModelyardError):
    """A prediction did not finish within the request's deadline.

    The work may still complete in the background; its answer is dropped.
    """

    http_status = 504
    code = "REQUEST_TIMEOUT"


class ClientClosedRequest(ModelyardError):
    """The client went away before its request body arrived (nginx's 499)."""

    http_status = 499
    code = "CLIENT_CLOSED_REQUEST"
