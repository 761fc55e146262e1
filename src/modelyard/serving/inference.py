"""The inference routes, as raw ASGI: ``POST /v1/models/{name}:predict`` and ``/v2/.../infer``.

These two routes are nearly all of a server's traffic, so they skip the framework: a
:class:`ServingApp` in front of Starlette matches them with one regular expression and
answers them itself (no router walk, no ``Request``/``Response`` objects, the few
headers it reads picked out once); every other path goes on to Starlette, whose routes
for the same two paths call the same handlers (and answer 405 to other methods).

Per request: read the body (capped, with a deadline), decode it (orjson), build the
feeds (the model's compiled :class:`~modelyard.serving._feed_plan.FeedPlan`), queue
them at the model's batcher, encode the answer. Metrics and the access log are counted
here; the prediction log and the class counts are written per *model call* by
:func:`prediction_recorder`, off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from modelyard.exceptions import NotFoundError
from modelyard.serving import codec
from modelyard.serving._blocks import BlockFeeds
from modelyard.serving.errors import RequestTimeout
from modelyard.serving.http import JSON, error_response, new_request_id, receive_body
from modelyard.serving.manager import Endpoint, LoadedModel, PredictedHook
from modelyard.serving.prediction_log import LogEntry
from modelyard.serving.runtime import Feeds, Prediction, ServedModel

if TYPE_CHECKING:  # app.py builds ServingApp; the state type is only needed for checking
    from modelyard.serving.app import ServerState

__all__ = ["InferenceRoute", "ServingApp", "prediction_recorder", "select_variant"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("modelyard.access")
_PATH = re.compile(r"/v1/models/([^/]+):predict|/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")
_WANTED = frozenset(
    {b"content-length", b"x-request-id", b"x-routing-key", b"inference-header-content-length"}
)
_JSON_HEADER = (b"content-type", JSON.encode())


class ServingApp:
    """The server's ASGI app: the inference routes directly, the rest through ``app``.

    Args:
        state: The worker's shared state.
        app: The Starlette app with every route (and the lifespan).
    """

    def __init__(self, state: ServerState, app: Any) -> None:
        self.state = state
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _PATH.fullmatch(scope["path"])
            if match is not None:
                v1_name, v2_name, version = match.groups()
                if v1_name is not None:
                    await predict_v1(self.state, scope, receive, send, v1_name)
                else:
                    await infer_v2(self.state, scope, receive, send, v2_name, version)
                return
        await self.app(scope, receive, send)


class InferenceRoute:
    """One inference route as a Starlette endpoint (reached only when ``ServingApp`` is
    not in front, e.g. mounted elsewhere; it answers exactly like the fast path)."""

    def __init__(self, state: ServerState, protocol: str) -> None:
        self.state = state
        self.protocol = protocol

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = scope.get("path_params", {})
        if self.protocol == "v1":
            await predict_v1(self.state, scope, receive, send, params["name"])
        else:
            await infer_v2(self.state, scope, receive, send, params["name"], params.get("version"))


def _begin(scope: Scope) -> tuple[float, int, dict[bytes, str], str]:
    """When the request started (monotonic and epoch ms), the headers read, its id."""
    headers = {k: v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}
    return time.perf_counter(), int(time.time() * 1000), headers, _request_id(headers)


async def predict_v1(
    state: ServerState, scope: Scope, receive: Receive, send: Send, name: str
) -> None:
    """``POST /v1/models/{name}:predict``."""
    started, stamp, headers, rid = _begin(scope)
    loaded: LoadedModel | None = None
    try:
        state.manager.endpoint(name)  # 404 / 503 before reading the body
        payload = codec.decode_json(await _body(state, receive, headers))
        # Route only now, with no await until the request is queued: an endpoint read
        # before the body arrived may have been swapped out (and its batcher closed).
        endpoint = state.manager.endpoint(name)
        loaded = endpoint.route(headers.get(b"x-routing-key"))
        model = loaded.model
        feeds = codec.feeds_from_v1(
            payload, model.signature, max_rows=state.limits.max_rows, plan=model.plan
        )
        prediction = await _predict(state, endpoint, loaded, feeds, (rid, stamp, started))
        body = codec.encode_v1(prediction, model, rid)
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        response = error_response(exc, rid)
        _observe(state, loaded, "v1", response.status_code, started, rid, name)
        await response(scope, receive, send)
        return
    _observe(state, loaded, "v1", 200, started, rid)
    await _send(send, body, [_JSON_HEADER, (b"x-request-id", rid.encode())])


async def infer_v2(
    state: ServerState, scope: Scope, receive: Receive, send: Send, name: str, version: str | None
) -> None:
    """``POST /v2/models/{name}[/versions/{version}]/infer`` (Open Inference Protocol)."""
    started, stamp, headers, rid = _begin(scope)
    loaded: LoadedModel | None = None
    try:
        state.manager.endpoint(name)  # 404 / 503 before reading the body
        parsed = codec.parse_v2_request(
            await _body(state, receive, headers), headers.get(b"inference-header-content-length")
        )
        rid = parsed.id or rid
        endpoint = state.manager.endpoint(name)  # after the body: see predict_v1
        loaded = select_variant(endpoint, name, version, headers.get(b"x-routing-key"))
        feeds = codec.feeds_from_v2(
            parsed.inputs, loaded.model.signature, parsed.binary, max_rows=state.limits.max_rows
        )
        prediction = await _predict(state, endpoint, loaded, feeds, (rid, stamp, started))
        body, extra = codec.encode_v2(
            prediction, loaded.model, parsed.id, parsed.outputs, binary_output=parsed.binary_output
        )
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        response = error_response(exc, rid)
        _observe(state, loaded, "v2", response.status_code, started, rid, name)
        await response(scope, receive, send)
        return
    _observe(state, loaded, "v2", 200, started, rid)
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    await _send(send, body, [*raw, (b"x-request-id", rid.encode())])


def select_variant(
    endpoint: Endpoint, name: str, version: str | None, routing_key: str | None
) -> LoadedModel:
    """The variant a v2 request names (by version, shadows included), or the routed one.

    Raises:
        NotFoundError: ``version`` is not served by this deployment (versions listed).
    """
    if version is None:
        return endpoint.route(routing_key)
    for loaded in (*endpoint.variants, *endpoint.shadows):
        if str(loaded.model.version) == version:
            return loaded
    serving = ", ".join(str(m.model.version) for m in endpoint.variants)
    raise NotFoundError(
        f"{name!r} does not serve version {version[:20]!r}; versions served: {serving}",
        resource="model version",
        identifier=f"{name}@{version}",
    )


def _request_id(headers: dict[bytes, str]) -> str:
    given = headers.get(b"x-request-id", "")
    if 0 < len(given) <= 128 and given.isprintable():
        return given
    return new_request_id()


async def _body(state: ServerState, receive: Receive, headers: dict[bytes, str]) -> bytes:
    limits = state.limits
    return await receive_body(
        receive,
        headers.get(b"content-length"),
        max_bytes=limits.max_body_bytes,
        timeout_s=limits.read_timeout_s,
        deadlines=state.read_deadlines,
    )


async def _send(send: Send, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _predict(
    state: ServerState, endpoint: Endpoint, loaded: LoadedModel, feeds: Feeds, tag: Any
) -> Prediction:
    if type(feeds) is BlockFeeds:
        rows: int | None = feeds.rows  # known, without making the column views
    else:
        rows = len(next(iter(feeds.values()))) if feeds else None
    for shadow in endpoint.shadows:  # a copy of the traffic; answers logged, never returned
        asyncio.get_running_loop().create_task(_shadow(state, shadow, feeds, rows, tag))
    watch = state.answer_deadlines.watch()
    try:
        return await loaded.predict(feeds, rows, tag)
    except asyncio.CancelledError as exc:
        try:
            watch.check()  # our deadline cancelled it: a 504; any other cancel goes on
        except TimeoutError:
            raise RequestTimeout(
                f"no answer within {state.limits.request_timeout_s:g}s; try fewer rows or "
                "again later",
                timeout=state.limits.request_timeout_s,
            ) from exc
        raise
    finally:
        watch.close()


async def _shadow(
    state: ServerState, shadow: LoadedModel, feeds: Feeds, rows: int | None, tag: Any
) -> None:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(state.limits.request_timeout_s):
            await shadow.predict(feeds, rows, tag)
    except Exception as exc:  # noqa: BLE001 - a shadow never affects the live answer
        logging.getLogger("modelyard.serving").warning(
            "shadow %s failed: %s", shadow.model.ref, exc
        )
        return
    _observe(state, shadow, "shadow", 200, started, tag[0])


def _observe(
    state: ServerState,
    loaded: LoadedModel | None,
    protocol: str,
    status: int,
    started: float,
    rid: str,
    name: str | None = None,
) -> None:
    seconds = time.perf_counter() - started
    model = loaded.model if loaded is not None else None
    # Never a client's string as a label (unbounded metric cardinality): unknown -> fixed.
    model_name = "unknown"
    if model is not None:
        model_name = model.name
    elif name is not None and name in state.manager.names():
        model_name = name
    version = model.version if model is not None else "-"
    state.metrics.observe_request(
        model_name, version, protocol=protocol, status=status, seconds=seconds
    )
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "%s",
            {"request_id": rid, "model": model_name, "version": version, "protocol": protocol,
             "status": status, "ms": round(seconds * 1000, 3)},
        )  # fmt: skip


def prediction_recorder(state: ServerState) -> PredictedHook:
    """The manager's ``on_predicted`` hook: class counts and one prediction-log entry
    per model call (tags are ``(request_id, timestamp_ms, started)`` from the routes)."""

    def record(
        model: ServedModel, parts: list[tuple[Any, int]], feeds: Feeds, prediction: Prediction
    ) -> None:
        state.metrics.observe_predictions(model.name, model.version, prediction, model.classes)
        if state.prediction_log is None:
            return
        now, now_ms = time.perf_counter(), int(time.time() * 1000)
        requests = tuple(
            (tag[0], tag[1], (now - tag[2]) * 1000, rows)
            if isinstance(tag, tuple)
            else ("", now_ms, 0.0, rows)
            for tag, rows in parts
        )
        first = requests[0]
        state.prediction_log.record(
            LogEntry(
                request_id=first[0],
                timestamp_ms=first[1],
                model=model.name,
                version=model.version,
                latency_ms=first[2],
                inputs=feeds,
                prediction=prediction,
                classes=model.classes,
                parts=requests if len(requests) > 1 else (),
            )
        )

    return record
