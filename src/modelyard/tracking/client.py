"""The tracking client: experiments, runs, search and artifacts through one transport."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelyard.artifacts import BlobStore, validate_logical_path
from modelyard.config import Settings, load_settings
from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.store import (
    ArtifactEntry,
    Experiment,
    Metric,
    Run,
    RunData,
    RunsPage,
    TrackingStore,
)
from modelyard.tracking.run import ActiveRun
from modelyard.tracking.transport import LocalTransport, Transport

__all__ = ["DEFAULT_EXPERIMENT", "TrackingClient"]

DEFAULT_EXPERIMENT = "Default"


class TrackingClient:
    """Log and query experiments and runs.

    Args:
        transport: Where tracking data lives (see :mod:`modelyard.tracking.transport`).
        user: Name recorded as the owner of new runs.

    Example:
        >>> client = TrackingClient.from_settings(load_settings(home="/tmp/my"))
        >>> with client.start_run(experiment="churn") as run:
        ...     run.log_metric("auc", 0.91)
    """

    def __init__(
        self, transport: Transport, *, user: str = "unknown", settings: Settings | None = None
    ) -> None:
        self.transport = transport
        self.user = user
        self.settings = settings  # what from_settings was given (workers rebuild from it)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> TrackingClient:
        """A client on the embedded/in-process backend named by ``settings``."""
        settings = settings or load_settings()
        store = TrackingStore(settings.db_url)
        blobs = BlobStore(settings.artifacts_url, master_key=settings.master_key)
        return cls(LocalTransport(store, blobs), user=settings.user, settings=settings)

    def close(self) -> None:
        """Release connections."""
        self.transport.close()

    # -- experiments ---------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if it does not exist."""
        return self.transport.get_or_create_experiment(name)

    def list_experiments(self) -> list[Experiment]:
        """Every active experiment."""
        return self.transport.list_experiments()

    def _experiment_ids(self, experiment: str | Sequence[str] | None) -> list[int]:
        if experiment is None:
            return [e.experiment_id for e in self.transport.list_experiments()]
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        ids = []
        for name in names:
            found = self.transport.get_experiment_by_name(name)
            if found is None:
                known = ", ".join(e.name for e in self.transport.list_experiments()) or "none"
                raise NotFoundError(
                    f"no experiment named {name!r}; existing experiments: {known}",
                    experiment=name,
                )
            ids.append(found.experiment_id)
        return ids

    # -- runs ----------------------------------------------------------------
    def start_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        run_name: str | None = None,
        parent: str | ActiveRun | Run | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        """Start a run; use it as a context manager so it ends FINISHED or FAILED.

        Args:
            experiment: Experiment name (created on first use).
            run_name: Display name (default: ``run-<first 8 hex of the id>``).
            parent: The parent run (an id, an :class:`ActiveRun` or a :class:`Run`)
                for nested runs such as one child per candidate model.
            tags: Tags to set at creation.

        Raises:
            NotFoundError: ``parent`` does not exist.
        """
        exp = self.transport.get_or_create_experiment(experiment)
        parent_id = parent if isinstance(parent, str) or parent is None else parent.run_id
        info = self.transport.create_run(
            exp.experiment_id, name=run_name, user_id=self.user, parent_run_id=parent_id, tags=tags
        )
        return ActiveRun(self.transport, Run(info, RunData()))

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metric values.

        Raises:
            NotFoundError: No run has this id.
        """
        return self.transport.get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged for metric ``key`` in the run, by step."""
        return self.transport.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | str = (),
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunsPage:
        """Runs matching a filter, e.g. ``filter="metrics.auc > 0.9 and params.model = 'rf'"``.

        Args:
            experiment: Experiment name(s); ``None`` searches all of them.
            filter: Conditions on ``metrics.*``, ``params.*``, ``tags.*`` and run
                attributes joined by ``and``/``or``; see :mod:`modelyard.store.filters`.
            order_by: Clauses such as ``["metrics.auc DESC"]``.
            max_results: Page size (1..50,000).
            page_token: ``next_page_token`` of the previous page.

        Returns:
            A page of runs (iterable) with ``next_page_token`` (``None`` on the last page).

        Raises:
            FilterSyntaxError: The filter does not parse; the message points at the token.
            NotFoundError: An experiment does not exist.
        """
        clauses = [order_by] if isinstance(order_by, str) else list(order_by)
        return self.transport.search_runs(
            self._experiment_ids(experiment),
            filter_string=filter,
            order_by=clauses,
            max_results=max_results,
            page_token=page_token,
        )

    # -- artifacts -----------------------------------------------------------
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]:
        """The run's artifacts (logical path, blob hash, size)."""
        return self.transport.list_artifacts(run_id, prefix)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact, hash-verified on the way out."""
        return self.transport.read_artifact(run_id, path)

    def download_artifacts(
        self, run_id: str, dest: str | os.PathLike[str], prefix: str = ""
    ) -> list[Path]:
        """Copy the run's artifacts (optionally only those under ``prefix``) into ``dest``.

        Every file lands inside ``dest``: logical paths are validated, so none can escape.
        """
        root = Path(dest).resolve()
        written = []
        for entry in self.transport.list_artifacts(run_id, prefix):
            target = (root / validate_logical_path(entry.path)).resolve()
            if not target.is_relative_to(root):  # defence in depth; validation forbids it
                raise ValidationError(f"artifact path {entry.path!r} escapes {root}")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.transport.download_artifact(run_id, entry.path, target)
            written.append(target)
        return written
