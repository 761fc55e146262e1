"""Batch inference chunks spread over a Ray cluster, results back in input order.

The model travels once (``ray.put`` of a :class:`ModelPackage`: the ONNX bytes or the
native pipeline, plus the signature) and each actor loads it once, one actor per CPU
of the cluster. The driver reads the chunks and keeps at most two per actor in flight,
so its memory stays bounded whatever the input size; actors take chunks round-robin
and answers are collected in submission order, which is the input's order.

Ray is optional: ``pip install 'modelyard[ray]'``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from modelyard.exceptions import MissingDependencyError, ModelyardError
from modelyard.serving._batch_chunks import ChunkPredictor, ModelPackage

__all__ = ["ray_predict"]

_MAX_ACTORS = 64
_IN_FLIGHT_PER_ACTOR = 2


class _ChunkWorker:
    """A Ray actor: loads the model once, then predicts the chunks it is sent."""

    def __init__(self, package: ModelPackage, keep: list[str]) -> None:
        self._predict = ChunkPredictor(package.load(), keep)

    def predict(self, table: pa.Table, offset: int) -> pa.Table:
        return self._predict(table, offset)


def import_ray() -> Any:
    """The ``ray`` module, or an error naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            "executor='ray' needs Ray; install it with pip install 'modelyard[ray]', or use "
            "executor='local'",
            extra="ray",
        ) from exc
    return ray


def ray_predict(
    package: ModelPackage,
    keep: list[str],
    chunks: Iterator[tuple[int, pa.Table]],
    *,
    address: str | None = None,
) -> Iterator[pa.Table]:
    """Predict ``(offset, table)`` chunks on Ray; yields the outputs in input order.

    Joins the running Ray instance when there is one, else ``ray.init(address=address)``
    (a new local instance without an address), shut down again at the end.

    Raises:
        MissingDependencyError: Ray is not installed.
        ModelyardError: What a worker raised (our own errors come through unchanged).
    """
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    actors: list[Any] = []
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        worker = ray.remote(num_cpus=1)(_ChunkWorker)
        shared = ray.put(package)
        actors = [worker.remote(shared, keep) for _ in range(max(1, min(cpus, _MAX_ACTORS)))]
        pending: deque[Any] = deque()
        for index, (offset, table) in enumerate(chunks):
            pending.append(actors[index % len(actors)].predict.remote(table, offset))
            if len(pending) >= _IN_FLIGHT_PER_ACTOR * len(actors):
                yield _result(ray, pending.popleft())
        while pending:
            yield _result(ray, pending.popleft())
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()


def _result(ray: Any, ref: Any) -> pa.Table:
    try:
        table: pa.Table = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, ModelyardError):
            raise cause from None
        raise ModelyardError(f"a Ray worker failed predicting a chunk: {cause or exc}") from exc
    except ray.exceptions.RayError as exc:
        raise ModelyardError(f"Ray failed while predicting: {exc}") from exc
    return table
