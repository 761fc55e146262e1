"""The boundary between the tracking client and where tracking data lives.

:class:`TrackingClient` talks only to a :class:`Transport`. Today there is one,
:class:`LocalTransport`, which calls the metadata store and the blob store in
process. An HTTP transport to a modelyard server implements the same protocol,
so user code does not change when the data moves behind a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from modelyard.artifacts import BlobStore, validate_logical_path
from modelyard.store import (
    ArtifactEntry,
    Experiment,
    Metric,
    Run,
    RunInfo,
    RunsPage,
    TrackingStore,
)

__all__ = ["LocalTransport", "Transport"]


class Transport(Protocol):
    """What a tracking client needs from a backend (in-process or remote)."""

    def get_or_create_experiment(self, name: str) -> Experiment: ...
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...
    def list_experiments(self) -> list[Experiment]: ...
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None,
        user_id: str,
        parent_run_id: str | None,
        tags: Mapping[str, Any] | None,
    ) -> RunInfo: ...
    def update_run(self, run_id: str, *, status: str) -> RunInfo: ...
    def get_run(self, run_id: str) -> Run: ...
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None: ...
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...
    def search_runs(
        self,
        experiment_ids: Sequence[int],
        *,
        filter_string: str | None,
        order_by: Sequence[str],
        max_results: int,
        page_token: str | None,
    ) -> RunsPage: ...
    def put_artifacts(
        self, run_id: str, files: Mapping[str, Path | bytes]
    ) -> list[ArtifactEntry]: ...
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]: ...
    def read_artifact(self, run_id: str, path: str) -> bytes: ...
    def download_artifact(self, run_id: str, path: str, dest: Path) -> None: ...
    def close(self) -> None: ...


class LocalTransport:
    """In-process transport: the metadata store plus the blob store.

    Args:
        store: The tracking tables.
        blobs: The content-addressed blob store artifacts are written to.
    """

    def __init__(self, store: TrackingStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def get_or_create_experiment(self, name: str) -> Experiment:
        """See :meth:`TrackingStore.get_or_create_experiment`."""
        return self.store.get_or_create_experiment(name)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """See :meth:`TrackingStore.get_experiment_by_name`."""
        return self.store.get_experiment_by_name(name)

    def list_experiments(self) -> list[Experiment]:
        """See :meth:`TrackingStore.list_experiments`."""
        return self.store.list_experiments()

    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None,
        user_id: str,
        parent_run_id: str | None,
        tags: Mapping[str, Any] | None,
    ) -> RunInfo:
        """See :meth:`TrackingStore.create_run`."""
        return self.store.create_run(
            experiment_id, name=name, user_id=user_id, parent_run_id=parent_run_id, tags=tags
        )

    def update_run(self, run_id: str, *, status: str) -> RunInfo:
        """See :meth:`TrackingStore.update_run`."""
        return self.store.update_run(run_id, status=status)

    def get_run(self, run_id: str) -> Run:
        """See :meth:`TrackingStore.get_run`."""
        return self.store.get_run(run_id)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """See :meth:`TrackingStore.log_batch`."""
        self.store.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """See :meth:`TrackingStore.get_metric_history`."""
        return self.store.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment_ids: Sequence[int],
        *,
        filter_string: str | None,
        order_by: Sequence[str],
        max_results: int,
        page_token: str | None,
    ) -> RunsPage:
        """See :meth:`TrackingStore.search_runs`."""
        return self.store.search_runs(
            experiment_ids,
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def put_artifacts(self, run_id: str, files: Mapping[str, Path | bytes]) -> list[ArtifactEntry]:
        """Store each file's bytes as a blob, then record every path in one transaction.

        Blobs are written first: if anything fails, the run's manifest is unchanged
        (an unreferenced blob is harmless and is reused by the next identical write).
        """
        self.store.get_run(run_id)  # fail before uploading anything
        checked = {validate_logical_path(path): source for path, source in files.items()}
        entries = []
        for logical, source in checked.items():
            ref = (
                self.blobs.put_bytes(source)
                if isinstance(source, bytes)
                else self.blobs.put_file(source)
            )
            entries.append(ArtifactEntry(logical, ref.sha256, ref.size))
        self.store.add_artifacts(run_id, entries)
        return entries

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]:
        """See :meth:`TrackingStore.list_artifacts`."""
        return self.store.list_artifacts(run_id, prefix)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact, hash-verified."""
        entry = self.store.get_artifact(run_id, validate_logical_path(path))
        return self.blobs.get_bytes(entry.blob)

    def download_artifact(self, run_id: str, path: str, dest: Path) -> None:
        """Write one artifact to ``dest`` (verified before it appears there)."""
        entry = self.store.get_artifact(run_id, validate_logical_path(path))
        self.blobs.download(entry.blob, dest)

    def close(self) -> None:
        """Release database connections."""
        self.store.close()
