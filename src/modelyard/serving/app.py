"""The inference server's ASGI app: Open Inference Protocol, JSON API, admin, metrics.

Built for the hot path: the two inference routes are answered as raw ASGI ahead of
the framework (:mod:`modelyard.serving.inference`: orjson, numpy feeds straight from
the JSON, no pandas, ONNX Runtime behind an adaptive batcher); health, metadata,
feedback, metrics and admin are plain Starlette routes here. The prediction log is
written off the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from modelyard.serving.deadlines import Deadlines
from modelyard.serving.errors import ModelNotReady
from modelyard.serving.http import error_response, json_response, read_body, request_id
from modelyard.serving.inference import (
    InferenceRoute,
    ServingApp,
    prediction_recorder,
    select_variant,
)
from modelyard.serving.manager import LoadedModel, ModelManager
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.openapi import openapi_document
from modelyard.serving.prediction_log import FeedbackLog, PredictionLog

__all__ = ["ServerLimits", "ServerState", "build_app"]


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
    refresh: Callable[[], Awaitable[Any]] | None = None
    read_deadlines: Deadlines = field(init=False)
    answer_deadlines: Deadlines = field(init=False)

    def __post_init__(self) -> None:
        self.read_deadlines = Deadlines(self.limits.read_timeout_s)
        self.answer_deadlines = Deadlines(self.limits.request_timeout_s)


def build_app(
    state: ServerState,
    *,
    startup: Callable[[], Any] | None = None,
    shutdown: Callable[[], Any] | None = None,
) -> ServingApp:
    """The ASGI app over ``state``; ``startup`` (model loading) and ``shutdown`` run in
    its lifespan. Sets the manager's ``on_predicted`` hook (prediction log, class
    counts) unless it has one."""
    if state.manager.on_predicted is None:
        state.manager.on_predicted = prediction_recorder(state)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if startup is not None:
            await startup()
        flusher = asyncio.get_running_loop().create_task(_flush_metrics(state.metrics))
        yield
        flusher.cancel()
        state.metrics.flush()
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
        Route(v2 + "/infer", InferenceRoute(state, "v2"), methods=["POST"]),
        Route(v2 + "/versions/{version}/infer", InferenceRoute(state, "v2"), methods=["POST"]),
        Route("/v1/models", _list_models, methods=["GET"]),
        Route("/v1/models/{name}:predict", InferenceRoute(state, "v1"), methods=["POST"]),
        Route("/v1/feedback", _feedback, methods=["POST"]),
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        *admin_routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.serving = state
    return ServingApp(state, app)


async def _flush_metrics(metrics: ServingMetrics, interval_s: float = 1.0) -> None:
    """Write gathered request counts every second, so an idle worker's last requests
    reach the other workers' ``/metrics`` too."""
    while True:
        await asyncio.sleep(interval_s)
        metrics.flush()


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


async def _body(state: ServerState, request: Request) -> bytes:
    return await read_body(
        request, max_bytes=state.limits.max_body_bytes, timeout_s=state.limits.read_timeout_s
    )


def _select(state: ServerState, request: Request) -> LoadedModel:
    """The variant a metadata request names (by version), or the routed one."""
    name = request.path_params["name"]
    return select_variant(
        state.manager.endpoint(name),
        name,
        request.path_params.get("version"),
        request.headers.get("x-routing-key"),
    )


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
