"""HTTP plumbing shared by the routes: bounded body reads, errors as JSON, request ids.

Every error leaves as ``{"error": "..."}`` with the status its exception carries
(422 for a signature mismatch, 413 for a body over the cap, 503 with
``Retry-After`` when shedding load, 504 on a timeout), in this one place.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.exceptions import ModelyardError
from modelyard.serving.deadlines import Deadlines
from modelyard.serving.errors import (
    ClientClosedRequest,
    Overloaded,
    PayloadTooLarge,
    RequestTimeout,
)

__all__ = [
    "JSON",
    "error_response",
    "json_response",
    "new_request_id",
    "read_body",
    "receive_body",
    "request_id",
]

JSON = "application/json"
log = logging.getLogger("modelyard.serving")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` encoded with orjson (numpy scalars and arrays included)."""
    body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def error_response(exc: BaseException, rid: str | None = None) -> Response:
    """The JSON error answer for ``exc`` (unexpected errors are logged, not echoed)."""
    headers = {"X-Request-Id": rid} if rid else {}
    if isinstance(exc, ModelyardError):
        if isinstance(exc, Overloaded):
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        body: dict[str, Any] = {"error": str(exc)}
        details = {k: v for k, v in exc.details.items() if k in ("missing", "extra", "conflicts")}
        if details:
            body["details"] = details
        return json_response(body, exc.http_status, headers)
    log.exception("internal error (request %s)", rid)
    return json_response({"error": f"internal error (request id {rid})"}, 500, headers)


# A random prefix per process (workers and restarts never share one) and a counter:
# unique like a UUID, without a random draw per request.
_ID_PREFIX = uuid.uuid4().hex[:16]
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A new request id: 16 hex digits of this process, then a counter."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):x}"


def request_id(request: Request) -> str:
    """The caller's ``X-Request-Id`` (if sane) or a new one."""
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 128 and given.isprintable():
        return given
    return new_request_id()


async def read_body(request: Request, *, max_bytes: int, timeout_s: float) -> bytes:
    """:func:`receive_body` for a Starlette request (whose body nobody read yet)."""
    return await receive_body(
        request.receive,
        request.headers.get("content-length"),
        max_bytes=max_bytes,
        timeout_s=timeout_s,
    )


async def receive_body(
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    content_length: str | None,
    *,
    max_bytes: int,
    timeout_s: float,
    deadlines: Deadlines | None = None,
) -> bytes:
    """The request body from the ASGI ``receive``, refused past ``max_bytes`` (413, also
    for chunked bodies) or after ``timeout_s`` (a client that sends too slowly must not
    hold a worker); a client that leaves mid-body is a 499.

    Args:
        receive: The ASGI receive callable.
        content_length: The ``Content-Length`` header, if any.
        max_bytes: The body cap.
        timeout_s: The time the whole body may take.
        deadlines: Server-wide deadlines of ``timeout_s`` (cheaper than a timer per
            request); without them, ``asyncio.timeout``.

    Raises:
        PayloadTooLarge, RequestTimeout, ClientClosedRequest: As above.
    """
    if content_length is not None and content_length.isdigit() and int(content_length) > max_bytes:
        raise PayloadTooLarge(
            f"request body of {int(content_length):,} bytes is over the {max_bytes:,}-byte "
            "limit; send fewer rows per request",
            limit=max_bytes,
        )
    try:
        if deadlines is None:
            async with asyncio.timeout(timeout_s):
                return await _collect(receive, max_bytes)
        watch = deadlines.watch()
        try:
            return await _collect(receive, max_bytes)
        except asyncio.CancelledError:
            watch.check()  # TimeoutError when the deadline cancelled the read
            raise
        finally:
            watch.close()
    except TimeoutError as exc:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout_s:g}s", timeout=timeout_s
        ) from exc


async def _collect(
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]], max_bytes: int
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # the client's doing, not a server error
            raise ClientClosedRequest("the client closed the connection mid-request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(
                f"request body is over the {max_bytes:,}-byte limit; send fewer rows per request",
                limit=max_bytes,
            )
        if not message.get("more_body", False):
            if not chunks:
                return bytes(chunk)
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)
