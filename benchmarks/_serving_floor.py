"""The floor of ``benchmarks/serving.py``: a bare ASGI app answering a constant JSON body.

No framework, no routing, no parsing: it reads the request body to the end (so it
receives the same bytes a model server does) and answers ``200`` with a fixed
body shaped like ours for one row. Run on the same server stack and flags as
ours, it is what the server alone costs: no model server can be faster.
:func:`make_starlette_app` gives the same answer from one Starlette route: the
``starlette`` side (run only when named) shows what the framework adds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b'{"model":"bench","version":1,"predictions":[1],"probabilities":[[0.25,0.75]]}'
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with :data:`BODY`; accept the lifespan protocol."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send(_START)
    await send(_BODY)


def make_starlette_app() -> Any:
    """The same answer from one Starlette route (uvicorn ``--factory``; a side run if named)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def predict(request: Request) -> Response:
        await request.body()
        return Response(BODY, media_type="application/json")

    routes = [
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/", predict, methods=["GET"]),  # the readiness probe
    ]
    return Starlette(routes=routes)
