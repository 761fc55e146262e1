"""Running the inference server: options, worker processes, graceful shutdown.

uvicorn with uvloop and httptools serves the app (see the README for the
measurement behind the choice). With ``workers > 1`` uvicorn spawns the worker
processes; each rebuilds the app from the options handed over through the
environment, loads its models, and ONNX Runtime gets ``cores // workers``
threads per model call so the workers do not fight over cores. Prometheus runs
in multi-process mode over a fresh folder so ``/metrics`` sums all workers.

SIGTERM: uvicorn stops accepting connections, readiness goes false, in-flight
requests finish (up to ``graceful_timeout_s``), batchers drain, and the
prediction log is flushed before the process exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.config import Settings, load_settings, worker_handoff
from modelyard.registry import ModelRegistry
from modelyard.serving.admin import hash_token
from modelyard.serving.app import ServerLimits, ServerState, build_app
from modelyard.serving.deployments import (
    BatchingSpec,
    ServeSpec,
    parse_serve_spec,
    spec_for_models,
)
from modelyard.serving.inference import ServingApp
from modelyard.serving.manager import ModelManager
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.prediction_log import FeedbackLog, PredictionLog
from modelyard.serving.route_sync import RouteSync

__all__ = ["ServeOptions", "create_app", "make_app", "serve"]

_HANDOFF = "serve_options"
_WORKER_HEALTHCHECK_S = 60


@dataclass(frozen=True)
class ServeOptions:
    """How to run a server (everything but the settings, which come from the environment)."""

    models: tuple[str, ...] = ()
    deployment_file: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    batching: BatchingSpec = field(default_factory=BatchingSpec)
    limits: ServerLimits = field(default_factory=ServerLimits)
    log_predictions: bool = True
    graceful_timeout_s: float = 30.0

    def spec(self) -> ServeSpec:
        """The deployments to serve (from the file, or one per model)."""
        if self.deployment_file is not None:
            spec = parse_serve_spec(Path(self.deployment_file))
            return dataclasses.replace(spec, batching=self.batching) if self.models else spec
        return spec_for_models(self.models, self.batching)

    def to_json(self) -> str:
        """For the worker processes."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        """Inverse of :meth:`to_json`."""
        raw: dict[str, Any] = json.loads(text)
        raw["models"] = tuple(raw["models"])
        raw["batching"] = BatchingSpec(**raw["batching"])
        raw["limits"] = ServerLimits(**raw["limits"])
        return cls(**raw)


def make_app(options: ServeOptions, settings: Settings) -> ServingApp:
    """The app for one worker process (models load in its lifespan startup)."""
    spec = options.spec()  # bad deployment files fail here, before any worker starts
    registry = ModelRegistry.from_settings(settings)
    threads = max(1, (os.cpu_count() or 1) // max(1, options.workers))
    metrics = ServingMetrics()
    manager = ModelManager(
        registry,
        batching=spec.batching,
        intra_op_threads=threads,
        on_batch=lambda model, rows, _s: metrics.observe_batch(model, rows),
        on_load=metrics.set_model_load,
    )
    log_dir = settings.home / "predictions"
    state = ServerState(
        manager=manager,
        metrics=metrics,
        limits=options.limits,
        prediction_log=PredictionLog(log_dir) if options.log_predictions else None,
        feedback_log=FeedbackLog(settings.home / "feedback") if options.log_predictions else None,
        admin_token_sha256=hash_token(settings.admin_token) if settings.admin_token else None,
    )

    sync = RouteSync(manager, registry.store)
    state.refresh = sync.sync_once

    async def startup() -> None:
        await manager.start(spec)
        await asyncio.get_running_loop().run_in_executor(None, sync.publish_all)
        sync.start()
        _freeze_heap()

    async def shutdown() -> None:
        await sync.stop()

    return build_app(state, startup=startup, shutdown=shutdown)


def _freeze_heap() -> None:
    """Keep what start-up made (libraries, models: ~130,000 objects) out of the cyclic
    garbage collector's full collections.

    A full collection walks every tracked object: ~45 ms here, every few seconds under
    load, a pause that every request in flight waits out (it was the p99 latency). What
    is alive once the models are loaded lives as long as the worker, so it is collected
    once and frozen (``gc.freeze``); collections then walk only what came later.
    """
    gc.collect()
    gc.freeze()


def create_app() -> ServingApp:
    """The uvicorn factory each worker process calls (options handed over by :func:`serve`)."""
    handed = worker_handoff(_HANDOFF)
    if handed is None:
        raise RuntimeError("create_app runs inside `modelyard serve` worker processes only")
    return make_app(ServeOptions.from_json(handed), load_settings())


def serve(options: ServeOptions, settings: Settings) -> None:
    """Run the server until SIGINT/SIGTERM (blocking)."""
    import uvicorn

    options.spec()  # fail fast on a bad deployment file or model reference
    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "timeout_graceful_shutdown": options.graceful_timeout_s,
        "log_level": "warning",
    }
    logging.getLogger("modelyard.serving").setLevel(logging.INFO)
    if options.workers <= 1:
        uvicorn.run(make_app(options, settings), **common)
        return
    os.environ[f"MODELYARD_HANDOFF_{_HANDOFF.upper()}"] = options.to_json()
    # The workers resolve their settings again: point them at the same installation.
    os.environ["MODELYARD_HOME"] = str(settings.home)
    os.environ["MODELYARD_DB_URL"] = settings.db_url
    os.environ["MODELYARD_ARTIFACTS_URL"] = settings.artifacts_url
    with tempfile.TemporaryDirectory(prefix="modelyard-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        uvicorn.run(
            "modelyard.serving.server:create_app",
            factory=True,
            workers=options.workers,
            # uvicorn kills a worker that misses a 5 s health ping; loading and warming a
            # large model (skops load is pure Python, holding the GIL) can take longer on a
            # busy machine, and a kill mid-swap would drop the admin request.
            timeout_worker_healthcheck=_WORKER_HEALTHCHECK_S,
            **common,
        )
