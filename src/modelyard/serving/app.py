"""The inference server's ASGI app: Open Inference Protocol, JSON API, admin, metrics.

Built for the hot path: plain Starlette routes (no per-request validation
framework), orjson, numpy feeds straight from the JSON (no pandas), ONNX
Runtime behind an adaptive batcher. The prediction log and the metrics are
written off the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard import __version__
from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.serving import codec
from modelyard.serving.admin import admin_routes
from modelyard.serving.errors import ModelNotReady, RequestTimeout
from modelyard.serving.http import error_response, json_response, read_body, request_id
from modelyard.serving.manager import Endpoint, LoadedModel, ModelManager
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.openapi import openapi_document
from modelyard.serving.prediction_log import FeedbackLog, LogEntry, PredictionLog
from modelyard.serving.runtime import Feeds, Prediction

__all__ = ["ServerLimits", "ServerState", "build_app"]

access_log = logging.getLogger("modelyard.access")


@dataclass(frozen=True)
class ServerLimits:
    """Request limits: body size, time to receive the body, time to answer."""

    max_body_bytes: int = 8 * 1024 * 1024
    read_timeout_s: float = 10.0
    request_timeout_s: float = 10.0
    max_rows: int = 100_000


@dataclass
class ServerState:
    """What the routes share inside one worker process."""

    manager: ModelManager
    metrics: ServingMetrics
    limits: ServerLimits = field(default_factory=ServerLimits)
    prediction_log: PredictionLog | None = None
    feedback_log: FeedbackLog | None = None
    admin_token_sha256: str | None = None
    draining: bool = False
    on_change: Callable[[str], None] | None = None
    refresh: Callable[[], Awaitable[Any]] | None = None


def build_app(
    state: ServerState,
    *,
    startup: Callable[[], Any] | None = None,
    shutdown: Callable[[], Any] | None = None,
) -> Starlette:
    """The ASGI app over ``state``; ``startup`` (model loading) and ``shutdown`` run in
    its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if startup is not None:
            await startup()
        yield
        state.draining = True  # readiness goes false; in-flight requests finish
        if shutdown is not None:
            await shutdown()
        await state.manager.aclose()
        for sink in (state.prediction_log, state.feedback_log):
            if sink is not None:
                await asyncio.get_running_loop().run_in_executor(None, sink.close)

    v2 = "/v2/models/{name}"
    routes = [
        Route("/v2/health/live", _live, methods=["GET"]),
        Route("/v2/health/ready", _ready, methods=["GET"]),
        Route("/v2", _server_metadata, methods=["GET"]),
        Route(v2, _model_metadata, methods=["GET"]),
        Route(v2 + "/versions/{version}", _model_metadata, methods=["GET"]),
        Route(v2 + "/ready", _model_ready, methods=["GET"]),
        Route(v2 + "/versions/{version}/ready", _model_ready, methods=["GET"]),
        Route(v2 + "/infer", _infer_v2, methods=["POST"]),
        Route(v2 + "/versions/{version}/infer", _infer_v2, methods=["POST"]),
        Route("/v1/models", _list_models, methods=["GET"]),
        Route("/v1/models/{name}:predict", _predict_v1, methods=["POST"]),
        Route("/v1/feedback", _feedback, methods=["POST"]),
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        *admin_routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.serving = state
    return app


def _state(request: Request) -> ServerState:
    served: ServerState = request.app.state.serving
    return served


# -- health and metadata ---------------------------------------------------------
async def _live(_request: Request) -> Response:
    return json_response({"live": True})


async def _ready(request: Request) -> Response:
    state = _state(request)
    ready = not state.draining and state.manager.is_ready()
    return json_response({"ready": ready}, 200 if ready else 503)


async def _server_metadata(_request: Request) -> Response:
    return json_response(
        {"name": "modelyard", "version": __version__, "extensions": ["binary_tensor_data"]}
    )


async def _model_metadata(request: Request) -> Response:
    rid = request_id(request)
    try:
        loaded = _select(_state(request), request)
        return json_response(codec.v2_metadata(loaded.model))
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        return error_response(exc, rid)


async def _model_ready(request: Request) -> Response:
    state = _state(request)
    name = request.path_params["name"]
    try:
        _select(state, request)
    except (NotFoundError, ModelNotReady) as exc:
        return error_response(exc)
    ready = not state.draining
    return json_response({"name": name, "ready": ready}, 200 if ready else 503)


async def _list_models(request: Request) -> Response:
    return json_response({"models": _state(request).manager.status()})


async def _metrics(request: Request) -> Response:
    body, content_type = _state(request).metrics.render()
    return Response(body, media_type=content_type)


async def _openapi(_request: Request) -> Response:
    return json_response(openapi_document())


# -- inference ---------------------------------------------------------------------
async def _predict_v1(request: Request) -> Response:
    state, rid, started = _state(request), request_id(request), time.perf_counter()
    name = request.path_params["name"]
    loaded: LoadedModel | None = None
    try:
        state.manager.endpoint(name)  # 404 / 503 before reading the body
        payload = codec.decode_json(await _body(state, request))
        # Route only now, with no await until the request is queued: an endpoint read
        # before the body arrived may have been swapped out (and its batcher closed).
        endpoint = state.manager.endpoint(name)
        key = request.headers.get("x-routing-key")
        loaded = endpoint.route(key)
        feeds = codec.feeds_from_v1(payload, loaded.model.signature, max_rows=state.limits.max_rows)
        prediction = await _predict(state, endpoint, loaded, feeds, rid)
        body = codec.encode_v1(prediction, loaded.model, rid)
        _observe(state, loaded, "v1", 200, started, rid, feeds, prediction)
        return Response(body, media_type="application/json", headers={"X-Request-Id": rid})
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        response = error_response(exc, rid)
        _observe(state, loaded, "v1", response.status_code, started, rid, None, None, name)
        return response


async def _infer_v2(request: Request) -> Response:
    state, rid, started = _state(request), request_id(request), time.perf_counter()
    name = request.path_params["name"]
    loaded: LoadedModel | None = None
    try:
        state.manager.endpoint(name)  # 404 / 503 before reading the body
        parsed = codec.parse_v2_request(
            await _body(state, request), request.headers.get("inference-header-content-length")
        )
        rid = parsed.id or rid
        endpoint = state.manager.endpoint(name)  # after the body: see _predict_v1
        loaded = _select(state, request, endpoint)
        feeds = codec.feeds_from_v2(
            parsed.inputs, loaded.model.signature, parsed.binary, max_rows=state.limits.max_rows
        )
        prediction = await _predict(state, endpoint, loaded, feeds, rid)
        body, headers = codec.encode_v2(
            prediction, loaded.model, parsed.id, parsed.outputs, binary_output=parsed.binary_output
        )
        _observe(state, loaded, "v2", 200, started, rid, feeds, prediction)
        headers["X-Request-Id"] = rid
        return Response(body, headers=headers)
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        response = error_response(exc, rid)
        _observe(state, loaded, "v2", response.status_code, started, rid, None, None, name)
        return response


async def _body(state: ServerState, request: Request) -> bytes:
    return await read_body(
        request, max_bytes=state.limits.max_body_bytes, timeout_s=state.limits.read_timeout_s
    )


def _select(state: ServerState, request: Request, endpoint: Endpoint | None = None) -> LoadedModel:
    """The variant a v2 request names (by version), or the routed one."""
    name = request.path_params["name"]
    endpoint = endpoint or state.manager.endpoint(name)
    wanted = request.path_params.get("version")
    if wanted is None:
        return endpoint.route(request.headers.get("x-routing-key"))
    for loaded in (*endpoint.variants, *endpoint.shadows):
        if str(loaded.model.version) == wanted:
            return loaded
    serving = ", ".join(str(m.model.version) for m in endpoint.variants)
    raise NotFoundError(
        f"{name!r} does not serve version {wanted[:20]!r}; versions served: {serving}",
        resource="model version",
        identifier=f"{name}@{wanted}",
    )


async def _predict(
    state: ServerState, endpoint: Endpoint, loaded: LoadedModel, feeds: Feeds, rid: str
) -> Prediction:
    for shadow in endpoint.shadows:  # a copy of the traffic; answers logged, never returned
        asyncio.get_running_loop().create_task(_shadow(state, shadow, feeds, rid))
    try:
        return await asyncio.wait_for(loaded.predict(feeds), state.limits.request_timeout_s)
    except TimeoutError as exc:
        raise RequestTimeout(
            f"no answer within {state.limits.request_timeout_s:g}s; try fewer rows or again later",
            timeout=state.limits.request_timeout_s,
        ) from exc


async def _shadow(state: ServerState, shadow: LoadedModel, feeds: Feeds, rid: str) -> None:
    started = time.perf_counter()
    try:
        prediction = await asyncio.wait_for(shadow.predict(feeds), state.limits.request_timeout_s)
    except Exception as exc:  # noqa: BLE001 - a shadow never affects the live answer
        logging.getLogger("modelyard.serving").warning(
            "shadow %s failed: %s", shadow.model.ref, exc
        )
        return
    _observe(state, shadow, "shadow", 200, started, rid, feeds, prediction)


def _observe(
    state: ServerState,
    loaded: LoadedModel | None,
    protocol: str,
    status: int,
    started: float,
    rid: str,
    feeds: Feeds | None,
    prediction: Prediction | None,
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
    if model is not None and prediction is not None:
        state.metrics.observe_predictions(model.name, model.version, prediction, model.classes)
        if state.prediction_log is not None and feeds is not None:
            state.prediction_log.record(
                LogEntry(
                    request_id=rid,
                    timestamp_ms=int(time.time() * 1000),
                    model=model.name,
                    version=model.version,
                    latency_ms=seconds * 1000,
                    inputs=feeds,
                    prediction=prediction,
                    classes=model.classes,
                )
            )
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "%s",
            {"request_id": rid, "model": model_name, "version": version, "protocol": protocol,
             "status": status, "ms": round(seconds * 1000, 3)},
        )  # fmt: skip


# -- feedback ----------------------------------------------------------------------
async def _feedback(request: Request) -> Response:
    state, rid = _state(request), request_id(request)
    try:
        payload = codec.decode_json(await _body(state, request))
        items = payload.get("feedback", [payload]) if isinstance(payload, dict) else payload
        if not isinstance(items, list) or not items:
            raise ValidationError(
                'send {"request_id": "...", "label": ...} or {"feedback": [{...}, ...]}'
            )
        if state.feedback_log is None:
            raise ValidationError("this server keeps no feedback log (started with --no-log)")
        now = int(time.time() * 1000)
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
                raise ValidationError(f"feedback[{i}] needs a string request_id and a label")
            if "label" not in item:
                raise ValidationError(f"feedback[{i}] has no label")
        for item in items:
            state.feedback_log.record(item["request_id"], item["label"], now)
        return json_response({"accepted": len(items)}, headers={"X-Request-Id": rid})
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        return error_response(exc, rid)
