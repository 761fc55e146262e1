"""Admin endpoints: change weights, start a canary, promote, roll back — with a token.

Every admin request needs ``Authorization: Bearer <token>``; the server keeps
only the token's SHA-256 and compares in constant time. With no token
configured, the admin endpoints are off (403), never open.

A change is served by the worker that received it and recorded in the metadata
store together with what it replaced; a rollback undoes the newest recorded
change, whichever worker made it (see :mod:`modelyard.serving.route_sync`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.serving import codec
from modelyard.serving.deployments import DeploymentSpec, make_deployment
from modelyard.serving.http import error_response, json_response, read_body
from modelyard.serving.route_sync import RouteSync

__all__ = ["Forbidden", "Unauthorized", "admin_routes", "hash_token"]


class Unauthorized(ModelyardError):
    """No or a wrong admin token."""

    http_status = 401
    code = "UNAUTHORIZED"


class Forbidden(ModelyardError):
    """Admin endpoints are off on this server."""

    http_status = 403
    code = "FORBIDDEN"


def hash_token(token: str) -> str:
    """The SHA-256 hex of an admin token (what the server keeps)."""
    return hashlib.sha256(token.encode()).hexdigest()


def admin_routes() -> list[Route]:
    """The admin routes (mounted by :func:`modelyard.serving.app.build_app`)."""
    base = "/admin/deployments"
    return [
        Route(base, _list, methods=["GET"]),
        Route(base + "/{name}", _put, methods=["PUT"]),
        Route(base + "/{name}/canary", _canary, methods=["POST"]),
        Route(base + "/{name}/promote", _promote, methods=["POST"]),
        Route(base + "/{name}/rollback", _rollback, methods=["POST"]),
    ]


def _check(request: Request) -> Any:
    state = request.app.state.serving
    if not state.admin_token_sha256:
        raise Forbidden("admin endpoints are off: start the server with MODELYARD_ADMIN_TOKEN set")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the admin token as 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(hash_token(token.strip()), state.admin_token_sha256):
        raise Unauthorized("the admin token is not valid")
    return state


async def _json(request: Request, state: Any) -> dict[str, Any]:
    raw = await read_body(request, max_bytes=1 << 20, timeout_s=state.limits.read_timeout_s)
    payload = codec.decode_json(raw) if raw else {}
    if not isinstance(payload, dict):
        raise ValidationError("the admin request body must be a JSON object")
    return payload


def _changes(state: Any) -> RouteSync:
    # The deployment history lives in the store the registry reads versions from.
    return RouteSync(state.manager, state.manager.registry.store)


def _who(request: Request) -> str:
    return f"admin token from {request.client.host}" if request.client else "admin token"


async def _list(request: Request) -> Response:
    try:
        state = _check(request)
        deployments = state.manager.status()
        changes = _changes(state)
        loop = asyncio.get_running_loop()
        for name, entry in deployments.items():
            entry["history"] = await loop.run_in_executor(None, changes.history, name)
        return json_response({"deployments": deployments})
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        return error_response(exc)


async def _apply(request: Request, make: Any, action: str) -> Response:
    try:
        state = _check(request)
        name = request.path_params["name"]
        payload = await _json(request, state)
        if state.refresh is not None:  # another worker may have changed it: start from there
            await state.refresh()
        current = state.manager.endpoint(name).spec if name in state.manager.names() else None
        spec = make(name, payload, current)
        endpoint = await _changes(state).change(spec, action=action, user=_who(request))
        return json_response({"deployment": endpoint.spec.to_dict()})
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        return error_response(exc)


async def _put(request: Request) -> Response:
    def make(name: str, payload: dict[str, Any], _current: DeploymentSpec | None) -> DeploymentSpec:
        variants = payload.get("variants")
        if not isinstance(variants, list) or not variants:
            raise ValidationError('send {"variants": [{"model": "churn@3", "weight": 90}, ...]}')
        pairs: list[tuple[str, float]] = []
        for i, v in enumerate(variants):
            item = v if isinstance(v, dict) else {"model": v}
            model, weight = item.get("model"), item.get("weight", 100.0)
            if not isinstance(model, str) or not isinstance(weight, int | float):
                raise ValidationError(f"variants[{i}] needs a model reference and a number weight")
            pairs.append((model, float(weight)))
        return make_deployment(
            name, pairs, payload.get("shadows") or [], bool(payload.get("sticky", False))
        )

    return await _apply(request, make, "set")


async def _canary(request: Request) -> Response:
    def make(name: str, payload: dict[str, Any], current: DeploymentSpec | None) -> DeploymentSpec:
        deployed = _deployed(name, current)
        model, weight = payload.get("model"), payload.get("weight", 10.0)
        if not isinstance(model, str):
            raise ValidationError('send {"model": "churn@5", "weight": 10}')
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < 100:
            raise ValidationError(
                f"canary weight must be between 0 and 100 (percent), not {weight!r}"
            )
        variants = [(deployed.variants[0].ref, 100.0 - weight), (model, float(weight))]
        return make_deployment(name, variants, deployed.shadows, deployed.sticky)

    return await _apply(request, make, "canary")


async def _promote(request: Request) -> Response:
    def make(name: str, payload: dict[str, Any], current: DeploymentSpec | None) -> DeploymentSpec:
        deployed = _deployed(name, current)
        canary = deployed.variants[-1].ref if len(deployed.variants) > 1 else None
        model = payload.get("model") or canary
        if not isinstance(model, str):
            raise ValidationError(
                f'{name!r} has no canary to promote; send {{"model": "{name}@VERSION"}}'
            )
        return make_deployment(name, [(model, 100.0)], deployed.shadows, deployed.sticky)

    return await _apply(request, make, "promote")


async def _rollback(request: Request) -> Response:
    try:
        state = _check(request)
        name = request.path_params["name"]
        if state.refresh is not None:
            await state.refresh()
        endpoint = await _changes(state).rollback(name, user=_who(request))
        return json_response({"deployment": endpoint.spec.to_dict()})
    except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
        return error_response(exc)


def _deployed(name: str, current: DeploymentSpec | None) -> DeploymentSpec:
    if current is None:
        raise ValidationError(f"{name!r} is not deployed here: PUT its variants first")
    return current
