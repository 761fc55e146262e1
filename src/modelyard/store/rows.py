"""Converting between table rows and tracking records, shared by the store's queries."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.store import validation
from modelyard.store.entities import Experiment, Metric, Run, RunData, RunInfo
from modelyard.store.raw import fetch_tuples
from modelyard.store.schema import experiment_tags, latest_metrics, params, runs, tags

__all__ = [
    "experiment_from_row",
    "kv_rows",
    "load_runs",
    "metric_row",
    "newest_per_key",
    "now_ms",
    "run_info_from_row",
    "run_not_found",
]


_CHUNK = 2_000


def now_ms() -> int:
    """Milliseconds since the epoch, the unit of every stored time."""
    return time.time_ns() // 1_000_000


def experiment_from_row(conn: Connection, row: Any) -> Experiment:
    """An :class:`Experiment` from an ``experiments`` row (with its tags)."""
    tag_rows = conn.execute(
        select(experiment_tags.c.key, experiment_tags.c.value).where(
            experiment_tags.c.experiment_id == row.experiment_id
        )
    ).all()
    return Experiment(
        experiment_id=row.experiment_id,
        name=row.name,
        lifecycle_stage=row.lifecycle_stage,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=dict(tag_rows),
    )


# RunInfo fields, in the order of the ``runs`` columns they come from.
_RUN_COLUMNS = [c.name for c in runs.columns]
_INFO_ORDER = [
    _RUN_COLUMNS.index(column)
    for column in (
        "run_id",
        "experiment_id",
        "name",
        "status",
        "user_id",
        "start_time",
        "end_time",
        "parent_run_id",
        "lifecycle_stage",
    )
]


def load_runs(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[Run]:
    """:class:`Run` records for rows of ``select(runs)``: params, tags, latest metrics.

    Three bulk queries per 2,000 runs, whatever the page size.
    """
    ids = [row[0] for row in rows]
    found: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
        i: ({}, {}, {}) for i in ids
    }
    lm = latest_metrics.c
    # Chunked: SQLite caps bound parameters per statement, and a page may hold 50k runs.
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for part, table in ((0, params), (2, tags)):
            query = select(table.c.run_id, table.c.key, table.c.value)
            for rid, key, value in fetch_tuples(conn, query.where(table.c.run_id.in_(chunk))):
                found[rid][part][key] = value
        query = select(lm.run_id, lm.key, lm.value, lm.is_nan).where(lm.run_id.in_(chunk))
        for rid, key, value, is_nan in fetch_tuples(conn, query):
            found[rid][1][key] = math.nan if is_nan else value
    return [Run(run_info_from_row(row), RunData(*found[row[0]])) for row in rows]


def run_info_from_row(row: Sequence[Any]) -> RunInfo:
    """A :class:`RunInfo` from a row of ``select(runs)`` (a Row or a plain tuple)."""
    return RunInfo(*[row[i] for i in _INFO_ORDER])


def metric_row(run_id: str, metric: Metric) -> dict[str, Any]:
    """A validated ``metrics`` row (NaN stored as ``is_nan`` because SQLite drops it)."""
    key = validation.check_key(metric.key, "metric key")
    value = validation.check_metric_value(key, metric.value)
    nan = math.isnan(value)
    return {
        "run_id": run_id,
        "key": key,
        "value": 0.0 if nan else value,
        "is_nan": nan,
        "step": validation.check_step(key, metric.step),
        "timestamp": int(metric.timestamp) if metric.timestamp else now_ms(),
    }


def kv_rows(
    run_id: str, values: Mapping[str, Any], check_value: Any, what: str
) -> list[dict[str, Any]]:
    """Validated ``params``/``tags`` rows for one run."""
    if not isinstance(values, Mapping):
        raise ValidationError(f"{what}s must be a mapping of key to value, got {values!r}")
    return [
        {
            "run_id": run_id,
            "key": validation.check_key(k, f"{what} key"),
            "value": check_value(k, v),
        }
        for k, v in values.items()
    ]


def newest_per_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest row per metric key (by step, then timestamp)."""
    # One upsert row per key: an ON CONFLICT statement may not touch a row twice.
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        held = newest.get(row["key"])
        if held is None or (row["step"], row["timestamp"]) >= (held["step"], held["timestamp"]):
            newest[row["key"]] = row
    return list(newest.values())


def run_not_found(run_id: str, what: str = "run") -> NotFoundError:
    """The error for a run id that does not exist."""
    return NotFoundError(
        f"no {what} with id {run_id}; `modelyard runs list` shows the existing runs",
        run_id=run_id,
    )
