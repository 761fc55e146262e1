"""Module-level tracking functions (``my.start_run``, ``my.search_runs``, ...).

They use one default client per process, built from the settings the first
time it is needed (not at import time), or set explicitly with :func:`connect`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from modelyard._utils.default_client import DefaultClient
from modelyard.store import Experiment, Metric, Run, RunsPage
from modelyard.tracking.client import DEFAULT_EXPERIMENT, TrackingClient
from modelyard.tracking.run import ActiveRun

__all__ = [
    "connect",
    "get_client",
    "get_metric_history",
    "get_run",
    "list_experiments",
    "search_runs",
    "start_run",
]

_default = DefaultClient(TrackingClient.from_settings, TrackingClient.close)


def connect(
    *,
    home: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
    artifacts_url: str | None = None,
    master_key: bytes | str | None = None,
) -> TrackingClient:
    """Make (and return) the default client for this process.

    Arguments override ``MODELYARD_*`` variables, which override ``modelyard.yaml``.
    """
    return _default.connect(
        home=home, db_url=db_url, artifacts_url=artifacts_url, master_key=master_key
    )


def get_client() -> TrackingClient:
    """The default client (built from the settings on first use, and again after a fork)."""
    return _default.get()


def start_run(
    experiment: str = DEFAULT_EXPERIMENT,
    *,
    run_name: str | None = None,
    parent: str | ActiveRun | Run | None = None,
    tags: dict[str, Any] | None = None,
) -> ActiveRun:
    """Start a run on the default client; see :meth:`TrackingClient.start_run`."""
    return get_client().start_run(experiment, run_name=run_name, parent=parent, tags=tags)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    *,
    filter: str | None = None,
    order_by: Sequence[str] | str = (),
    max_results: int = 1000,
    page_token: str | None = None,
) -> RunsPage:
    """Search runs on the default client; see :meth:`TrackingClient.search_runs`."""
    return get_client().search_runs(
        experiment, filter=filter, order_by=order_by, max_results=max_results, page_token=page_token
    )


def get_run(run_id: str) -> Run:
    """A run by id; see :meth:`TrackingClient.get_run`."""
    return get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of one metric; see :meth:`TrackingClient.get_metric_history`."""
    return get_client().get_metric_history(run_id, key)


def list_experiments() -> list[Experiment]:
    """Every active experiment on the default client."""
    return get_client().list_experiments()
