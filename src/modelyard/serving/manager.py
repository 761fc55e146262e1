"""The models a server holds: loading, warming, routing, and swapping them live.

Every endpoint (deployment) is an immutable :class:`Endpoint` object; a change
(new weights, a canary, a promotion, a rollback) loads and warms any new
version in the background, then replaces the endpoint in one assignment.
Requests that already picked a variant finish on it; its batcher is closed
only after its queue drains. A deployment whose model fails to load is not
ready (and says why) while the others serve.

With several worker processes, the routes live in the metadata store
(``deployment_routes``): a change made through one worker's admin endpoint is
written there, and every worker polls and applies it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from modelyard.exceptions import NotFoundError
from modelyard.registry import ModelRegistry
from modelyard.serving.batching import AdaptiveBatcher
from modelyard.serving.deployments import (
    BatchingSpec,
    DeploymentSpec,
    ServeSpec,
    Variant,
    pick_variant,
)
from modelyard.serving.errors import ModelNotReady
from modelyard.serving.runtime import Feeds, Prediction, ServedModel, load_served_model

__all__ = ["Endpoint", "LoadedModel", "ModelManager"]

log = logging.getLogger("modelyard.serving")


INLINE_MAX_ROWS = 256
"""Batches up to this many rows run ONNX Runtime on the event loop (see batching)."""

PredictedHook = Callable[[ServedModel, list[tuple[Any, int]], Feeds, Prediction], None]
"""``on_predicted(model, parts, feeds, prediction)``: after every model call; ``parts``
is ``(tag, rows)`` per request (see :data:`modelyard.serving.batching.BatchHook`)."""


@dataclass
class LoadedModel:
    """A served version and the batcher in front of it."""

    model: ServedModel
    batcher: AdaptiveBatcher | None
    executor: Executor | None = None
    on_predicted: PredictedHook | None = None

    async def predict(self, feeds: Feeds, rows: int | None = None, tag: Any = None) -> Prediction:
        """Predict through the batcher (or straight to the model when batching is off).

        Args:
            feeds: One ``[N, 1]`` array per model input.
            rows: N when known (else counted).
            tag: Passed to ``on_predicted`` with this request's rows.
        """
        if self.batcher is not None:
            return await self.batcher.predict(feeds, rows, tag)
        loop = asyncio.get_running_loop()
        prediction = await loop.run_in_executor(self.executor, self.model.infer, feeds)
        if self.on_predicted is not None:
            try:
                self.on_predicted(self.model, [(tag, prediction.rows)], feeds, prediction)
            except Exception:
                log.exception("on_predicted hook of %s failed", self.model.ref)
        return prediction


@dataclass(frozen=True)
class Endpoint:
    """One deployment as served right now (replaced whole on every change)."""

    spec: DeploymentSpec
    variants: tuple[LoadedModel, ...]
    shadows: tuple[LoadedModel, ...] = ()

    def route(self, key: str | None = None) -> LoadedModel:
        """The variant this request goes to."""
        return self.variants[pick_variant(self.spec, key)]


@dataclass
class _State:
    endpoint: Endpoint | None = None
    error: str | None = None
    loading: bool = False


@dataclass
class ModelManager:
    """Load, route and hot-swap the deployments of one server process.

    Args:
        registry: Where versions and blobs come from.
        batching: Adaptive batching settings.
        intra_op_threads: ONNX Runtime threads per model call.
        on_batch: Passed to each batcher (metrics).
        on_load: Called with ``(name, version, seconds)`` after each load (metrics).
        on_predicted: Called after every model call (prediction log, class counts).
    """

    registry: ModelRegistry
    batching: BatchingSpec = field(default_factory=BatchingSpec)
    intra_op_threads: int = 1
    on_batch: Callable[[str, int, float], None] | None = None
    on_load: Callable[[str, int, float], None] | None = None
    on_predicted: PredictedHook | None = None
    _states: dict[str, _State] = field(default_factory=dict)
    _loaded: dict[str, LoadedModel] = field(default_factory=dict)
    _lock: asyncio.Lock | None = None

    # -- reading ---------------------------------------------------------------
    def endpoint(self, name: str) -> Endpoint:
        """The endpoint ``name``.

        Raises:
            NotFoundError: No such deployment (the message lists the served ones).
            ModelNotReady: It is still loading, or its model failed to load.
        """
        state = self._states.get(name)
        if state is None:
            served = ", ".join(sorted(self._states)) or "none"
            raise NotFoundError(
                f"no model or deployment {name!r} is served here; served: {served}",
                resource="model",
                identifier=name,
            )
        if state.endpoint is None:
            why = state.error or "still loading"
            raise ModelNotReady(f"{name!r} is not ready: {why}", model=name)
        return state.endpoint

    def names(self) -> list[str]:
        """Every deployment name, ready or not."""
        return sorted(self._states)

    def is_ready(self, name: str | None = None) -> bool:
        """Whether ``name`` (or every deployment) can answer requests."""
        if name is not None:
            state = self._states.get(name)
            return state is not None and state.endpoint is not None
        return bool(self._states) and all(s.endpoint is not None for s in self._states.values())

    def status(self) -> dict[str, dict[str, Any]]:
        """Per deployment: ready, error, and the variants with their versions and formats."""
        out: dict[str, dict[str, Any]] = {}
        for name, state in sorted(self._states.items()):
            entry: dict[str, Any] = {"ready": state.endpoint is not None, "error": state.error}
            if state.endpoint is not None:
                entry["deployment"] = state.endpoint.spec.to_dict()
                entry["serving"] = [_describe(v.model) for v in state.endpoint.variants]
                entry["shadows"] = [_describe(v.model) for v in state.endpoint.shadows]
            out[name] = entry
        return out

    # -- changing --------------------------------------------------------------
    async def start(self, spec: ServeSpec) -> None:
        """Load every deployment (concurrently); failures make only that one not ready."""
        for deployment in spec.deployments:
            self._states.setdefault(deployment.name, _State(loading=True))
        await asyncio.gather(*(self._apply_logged(d) for d in spec.deployments))

    async def apply(self, spec: DeploymentSpec) -> Endpoint:
        """Load (and warm) what ``spec`` needs, then switch the endpoint atomically.

        Rolling back is not kept here: the deployment history lives in the
        metadata store, shared by every worker (see :mod:`modelyard.serving.route_sync`).

        Raises:
            NotFoundError, IntegrityError, ...: A version cannot be loaded; the
                endpoint keeps serving what it served before.
        """
        lock = self._lock = self._lock or asyncio.Lock()
        async with lock:  # one change at a time; requests are never blocked by it
            variants = [await self._load(v.ref) for v in spec.variants]
            shadows = [await self._load(ref) for ref in spec.shadows]
            resolved = DeploymentSpec(
                spec.name,
                tuple(
                    Variant(m.model.ref, v.weight)
                    for m, v in zip(variants, spec.variants, strict=True)
                ),
                tuple(m.model.ref for m in shadows),
                spec.sticky,
            )
            endpoint = Endpoint(resolved, tuple(variants), tuple(shadows))
            state = self._states.setdefault(spec.name, _State())
            state.endpoint, state.error, state.loading = endpoint, None, False
            await self._release_unused()
            return endpoint

    async def aclose(self) -> None:
        """Drain and close every batcher."""
        for state in self._states.values():
            state.endpoint = None
        loaded, self._loaded = list(self._loaded.values()), {}
        await asyncio.gather(*(m.batcher.aclose() for m in loaded if m.batcher is not None))

    # -- helpers ---------------------------------------------------------------
    async def _apply_logged(self, spec: DeploymentSpec) -> None:
        try:
            await self.apply(spec)
        except Exception as exc:  # noqa: BLE001 - one deployment's failure is reported, not fatal
            state = self._states.setdefault(spec.name, _State())
            state.error, state.loading = f"{type(exc).__name__}: {exc}", False
            log.error("deployment %s failed to load: %s", spec.name, exc)

    async def _load(self, ref: str) -> LoadedModel:
        loop = asyncio.get_running_loop()
        version = await loop.run_in_executor(None, self.registry.get, ref)
        if version.ref in self._loaded:
            return self._loaded[version.ref]
        started = time.perf_counter()
        model = await loop.run_in_executor(None, self._load_blocking, version.ref)
        seconds = time.perf_counter() - started
        if self.on_load is not None:
            self.on_load(model.name, model.version, seconds)
        log.info(
            "loaded %s (%s) in %.2fs: %s", model.ref, model.format, seconds, model.runtime_note
        )
        loaded = LoadedModel(model, self._batcher(model), on_predicted=self._predicted)
        self._loaded[version.ref] = loaded
        return loaded

    def _load_blocking(self, ref: str) -> ServedModel:
        model = load_served_model(self.registry, ref, intra_op_threads=self.intra_op_threads)
        model.warmup()
        return model

    def _batcher(self, model: ServedModel) -> AdaptiveBatcher | None:
        if not self.batching.enabled:
            return None
        on_batch = self.on_batch
        return AdaptiveBatcher(
            model,
            max_batch_size=self.batching.max_batch_size,
            max_latency_ms=self.batching.max_latency_ms,
            max_queue_rows=self.batching.max_queue_rows,
            on_batch=(lambda rows, s: on_batch(model.name, rows, s)) if on_batch else None,
            inline_max_rows=INLINE_MAX_ROWS if model.format.startswith("onnx") else 0,
            on_predicted=lambda parts, feeds, p: self._predicted(model, parts, feeds, p),
        )

    def _predicted(
        self, model: ServedModel, parts: list[tuple[Any, int]], feeds: Feeds, prediction: Prediction
    ) -> None:
        # Looked up per call: the hook may be set after the models loaded.
        if self.on_predicted is not None:
            self.on_predicted(model, parts, feeds, prediction)

    async def _release_unused(self) -> None:
        used = {
            m.model.ref
            for s in self._states.values()
            if s.endpoint is not None
            for m in (*s.endpoint.variants, *s.endpoint.shadows)
        }
        stale = [ref for ref in self._loaded if ref not in used]
        for ref in stale:
            loaded = self._loaded.pop(ref)
            if loaded.batcher is not None:
                # In-flight requests that picked it finish first: aclose drains the queue.
                asyncio.get_running_loop().create_task(loaded.batcher.aclose())


def _describe(model: ServedModel) -> dict[str, Any]:
    return {
        "model": model.ref,
        "format": model.format,
        "task": model.task,
        "runtime": model.runtime_note,
    }
