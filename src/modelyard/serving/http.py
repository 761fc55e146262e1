"""HTTP plumbing shared by the routes: bounded body reads, errors as JSON, request ids.

Every error leaves as ``{"error": "..."}`` with the status its exception carries
(422 for a signature mismatch, 413 for a body over the cap, 503 with
``Retry-After`` when shedding load, 504 on a timeout), in this one place.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from modelyard.exceptions import ModelyardError
from modelyard.serving.errors import (
    ClientClosedRequest,
    Overloaded,
    PayloadTooLarge,
    RequestTimeout,
)

__all__ = ["JSON", "error_response", "json_response", "read_body", "request_id"]

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


def request_id(request: Request) -> str:
    """The caller's ``X-Request-Id`` (if sane) or a new one."""
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


async def read_body(request: Request, *, max_bytes: int, timeout_s: float) -> bytes:
    """The request body, refused past ``max_bytes`` (413) or after ``timeout_s`` (a
    client that sends too slowly must not hold a worker)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(
            f"request body of {int(declared):,} bytes is over the {max_bytes:,}-byte limit; "
            "send fewer rows per request",
            limit=max_bytes,
        )

    async def collect() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"request body is over the {max_bytes:,}-byte limit; send fewer rows "
                    "per request",
                    limit=max_bytes,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout_s)
    except ClientDisconnect as exc:  # the client's doing, not a server error
        raise ClientClosedRequest("the client closed the connection mid-request") from exc
    except TimeoutError as exc:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout_s:g}s", timeout=timeout_s
        ) from exc
