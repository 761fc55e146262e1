"""Experiment tracking: the API users write against.

Owns the client (:class:`TrackingClient`), the active-run object users log to
(:class:`ActiveRun`), the transport boundary (:class:`Transport`, with the
in-process :class:`LocalTransport`), and the module-level functions re-exported
by :mod:`modelyard` (``start_run``, ``search_runs``, ...).
"""

from modelyard.store import Experiment, Metric, Run, RunData, RunInfo, RunsPage
from modelyard.tracking.client import DEFAULT_EXPERIMENT, TrackingClient
from modelyard.tracking.fluent import (
    connect,
    get_client,
    get_metric_history,
    get_run,
    list_experiments,
    search_runs,
    start_run,
)
from modelyard.tracking.run import ActiveRun
from modelyard.tracking.transport import LocalTransport, Transport

__all__ = [
    "DEFAULT_EXPERIMENT",
    "ActiveRun",
    "Experiment",
    "LocalTransport",
    "Metric",
    "Run",
    "RunData",
    "RunInfo",
    "RunsPage",
    "TrackingClient",
    "Transport",
    "connect",
    "get_client",
    "get_metric_history",
    "get_run",
    "list_experiments",
    "search_runs",
    "start_run",
]
