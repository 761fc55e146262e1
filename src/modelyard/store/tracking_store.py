"""Experiments, runs, params, metrics, tags and run artifacts over SQLAlchemy Core.

One class, one schema, every supported backend (SQLite, PostgreSQL); the
contract tests in ``tests/store`` run the same cases against each. Every public
method is one transaction: when it returns, what it wrote is committed.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Insert, and_, bindparam, func, select, update
from sqlalchemy import exc as sa_exc

from modelyard.exceptions import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from modelyard.store import search, validation
from modelyard.store.database import Database
from modelyard.store.entities import (
    ArtifactEntry,
    Experiment,
    Metric,
    Run,
    RunInfo,
    RunsPage,
)
from modelyard.store.filters import parse_filter, parse_order_by
from modelyard.store.metric_writer import MetricWriter
from modelyard.store.migrate import ensure_schema
from modelyard.store.raw import fetch_tuples
from modelyard.store.rows import (
    experiment_from_row,
    kv_rows,
    load_runs,
    metric_row,
    newest_per_key,
    now_ms,
    run_info_from_row,
    run_not_found,
)
from modelyard.store.schema import (
    RUN_STATUSES,
    experiment_tags,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_artifacts,
    runs,
)
from modelyard.store.schema import metrics as metrics_t
from modelyard.store.schema import tags as tags_t

__all__ = ["MAX_ORDER_BY", "MAX_RESULTS_LIMIT", "TrackingStore", "now_ms"]

MAX_RESULTS_LIMIT = 50_000
MAX_ORDER_BY = 10
_METRIC_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")


class TrackingStore(Database):
    """The tracking tables of one metadata database.

    Args:
        url_or_engine: A SQLAlchemy URL or an engine made by :func:`make_engine`.
        migrate: Create the schema in an empty database (the default), refuse an
            out-of-date one with a message saying to run ``modelyard db upgrade``.
    """

    def __init__(self, url_or_engine: str | Engine, *, migrate: bool = True) -> None:
        super().__init__(url_or_engine)
        self._upsert_latest_stmt = self._upsert_latest()
        self._metric_writer = MetricWriter(
            self.engine,
            metrics_t.insert().values({c: bindparam(c) for c in _METRIC_COLUMNS}),
            self._upsert_latest_stmt.values({c: bindparam(c) for c in _METRIC_COLUMNS}),
        )
        if migrate:
            with self._translate():
                ensure_schema(self.engine)

    def close(self) -> None:
        """Release pooled connections."""
        self._metric_writer.close()
        super().close()

    # -- experiments -------------------------------------------------------
    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment.

        Raises:
            AlreadyExistsError: An experiment with this name exists.
        """
        validation.check_name(name, "experiment name")
        stamp = now_ms()
        try:
            with self._write() as conn:
                exp_id = conn.execute(
                    experiments.insert()
                    .values(name=name, lifecycle_stage="active", created_at=stamp, updated_at=stamp)
                    .returning(experiments.c.experiment_id)
                ).scalar_one()
                self._set_experiment_tags(conn, exp_id, tags or {})
        except sa_exc.IntegrityError as exc:
            raise AlreadyExistsError(
                f"experiment {name!r} already exists; use get_or_create_experiment to reuse it",
                name=name,
            ) from exc
        return self.get_experiment(exp_id)

    def _set_experiment_tags(
        self, conn: Connection, exp_id: int, values: Mapping[str, str]
    ) -> None:
        rows = [
            {
                "experiment_id": exp_id,
                "key": validation.check_key(k, "tag key"),
                "value": validation.check_tag_value(k, v),
            }
            for k, v in values.items()
        ]
        if rows:
            stmt = self._insert(experiment_tags)
            stmt = stmt.on_conflict_do_update(
                index_elements=["experiment_id", "key"], set_={"value": stmt.excluded.value}
            )
            conn.execute(stmt, rows)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if missing (safe under concurrency)."""
        found = self.get_experiment_by_name(name)
        if found is not None:
            return found
        validation.check_name(name, "experiment name")
        stamp = now_ms()
        with self._write() as conn:
            conn.execute(
                self._insert(experiments)
                .values(name=name, lifecycle_stage="active", created_at=stamp, updated_at=stamp)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        found = self.get_experiment_by_name(name)
        assert found is not None
        return found

    def get_experiment(self, experiment_id: int) -> Experiment:
        """The experiment with this id.

        Raises:
            NotFoundError: No such experiment.
        """
        with self._read() as conn:
            row = conn.execute(
                select(experiments).where(experiments.c.experiment_id == experiment_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError(
                    f"no experiment with id {experiment_id}; `modelyard experiments list` "
                    "shows the existing ones",
                    experiment_id=experiment_id,
                )
            return experiment_from_row(conn, row)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, or ``None``."""
        with self._read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).one_or_none()
            return None if row is None else experiment_from_row(conn, row)

    def list_experiments(self) -> list[Experiment]:
        """All active experiments, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(experiments)
                .where(experiments.c.lifecycle_stage == "active")
                .order_by(experiments.c.experiment_id)
            ).all()
            return [experiment_from_row(conn, row) for row in rows]

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        user_id: str = "unknown",
        parent_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> RunInfo:
        """Start a run (status RUNNING) in an experiment, optionally nested under a parent.

        Raises:
            NotFoundError: The experiment or the parent run does not exist.
        """
        run_id = uuid.uuid4().hex
        name = validation.check_name(name, "run name") if name else f"run-{run_id[:8]}"
        if parent_run_id is not None:
            validation.check_run_id(parent_run_id)
        tag_rows = kv_rows(run_id, tags or {}, validation.check_tag_value, "tag")
        with self._write() as conn:
            if (
                conn.execute(
                    select(experiments.c.experiment_id).where(
                        experiments.c.experiment_id == experiment_id
                    )
                ).first()
                is None
            ):
                raise NotFoundError(f"no experiment with id {experiment_id}")
            if parent_run_id is not None:
                self._require_run(conn, parent_run_id, "parent run")
            info = RunInfo(
                run_id=run_id,
                experiment_id=experiment_id,
                name=name,
                status="RUNNING",
                user_id=user_id,
                start_time=start_time if start_time is not None else now_ms(),
                end_time=None,
                parent_run_id=parent_run_id,
            )
            conn.execute(runs.insert().values(**dataclasses.asdict(info)))
            if tag_rows:
                conn.execute(tags_t.insert(), tag_rows)
        return info

    def update_run(self, run_id: str, *, status: str, end_time: int | None = None) -> RunInfo:
        """Set a run's status (and end time for terminal statuses).

        Raises:
            ValidationError: ``status`` is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.
            NotFoundError: No such run.
        """
        if status not in RUN_STATUSES:
            raise ValidationError(
                f"status {status!r} is not valid; use one of {', '.join(RUN_STATUSES)}"
            )
        if status in ("FINISHED", "FAILED", "KILLED") and end_time is None:
            end_time = now_ms()
        validation.check_run_id(run_id)
        with self._write() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).one_or_none()
            if row is None:
                raise run_not_found(run_id)
            conn.execute(
                update(runs).where(runs.c.run_id == run_id).values(status=status, end_time=end_time)
            )
        return dataclasses.replace(run_info_from_row(row), status=status, end_time=end_time)

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics.

        Raises:
            NotFoundError: No such run.
        """
        validation.check_run_id(run_id)
        with self._read() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).one_or_none()
            if row is None:
                raise run_not_found(run_id)
            return load_runs(conn, [row])[0]

    def _require_run(self, conn: Connection, run_id: str, what: str = "run") -> None:
        validation.check_run_id(run_id)
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise run_not_found(run_id, what)

    # -- logging -----------------------------------------------------------
    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Record one metric point (the hot path: one short write transaction)."""
        self.log_batch(run_id, metrics=[Metric(key, value, step, timestamp or 0)])

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record metrics, params and tags in one transaction: all of it or none.

        Raises:
            ValidationError: A key or value is malformed (nothing is written).
            ConflictError: A param was logged before with a different value.
            NotFoundError: No such run.
        """
        validation.check_run_id(run_id)
        metric_rows = [metric_row(run_id, m) for m in metrics]
        param_rows = kv_rows(run_id, params or {}, validation.check_param_value, "param")
        tag_rows = kv_rows(run_id, tags or {}, validation.check_tag_value, "tag")
        if not (metric_rows or param_rows or tag_rows):
            return
        if not (param_rows or tag_rows):
            self._write_metrics(run_id, metric_rows)
            return
        try:
            with self._write() as conn:
                if metric_rows:
                    conn.execute(metrics_t.insert(), metric_rows)
                    conn.execute(self._upsert_latest_stmt, newest_per_key(metric_rows))
                if param_rows:
                    self._insert_params(conn, run_id, param_rows)
                if tag_rows:
                    stmt = self._insert(tags_t)
                    conn.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
                        ),
                        tag_rows,
                    )
        except sa_exc.IntegrityError as exc:
            self._raise_missing_run(run_id, exc)

    def _write_metrics(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        writer = self._metric_writer
        try:
            writer.write(rows, newest_per_key(rows))
        except writer.integrity_error as exc:
            self._raise_missing_run(run_id, exc)
        except writer.dbapi_error as exc:
            raise StoreError(
                f"could not log metrics to run {run_id}: {exc}; check that the metadata "
                "database is reachable and the disk is not full",
                run_id=run_id,
            ) from exc

    def _raise_missing_run(self, run_id: str, exc: Exception) -> None:
        with self._read() as conn:
            self._require_run(conn, run_id)  # NotFoundError when that was the cause
        raise StoreError(f"could not write to run {run_id}: {exc}") from exc

    def _upsert_latest(self) -> Insert:
        stmt = self._insert(latest_metrics)
        new, old = stmt.excluded, latest_metrics.c
        newer = (new.step > old.step) | ((new.step == old.step) & (new.timestamp >= old.timestamp))
        upsert: Insert = stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={c: new[c] for c in ("value", "is_nan", "step", "timestamp")},
            where=newer,
        )
        return upsert

    def _insert_params(self, conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
        conn.execute(
            self._insert(params).on_conflict_do_nothing(index_elements=["run_id", "key"]), rows
        )
        wanted = {r["key"]: r["value"] for r in rows}
        stored = dict(
            conn.execute(
                select(params.c.key, params.c.value).where(
                    params.c.run_id == run_id, params.c.key.in_(list(wanted))
                )
            ).all()
        )
        for key, value in wanted.items():
            if key in stored and stored[key] != value:
                raise ConflictError(
                    f"param {key!r} of run {run_id} is already {stored[key]!r}; params are "
                    f"immutable, so {value!r} was not stored (log it under a new key, or "
                    "start a new run)",
                    run_id=run_id,
                    key=key,
                )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged for ``key`` in the run, by step then timestamp.

        Raises:
            NotFoundError: No such run.
        """
        validation.check_key(key, "metric key")
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                select(metrics.c.value, metrics.c.is_nan, metrics.c.step, metrics.c.timestamp)
                .where(metrics.c.run_id == run_id, metrics.c.key == key)
                .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
            ).all()
        return [Metric(key, math.nan if nan else v, s, t) for v, nan, s, t in rows]

    # -- search ------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[int],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunsPage:
        """Runs of the experiments that match the filter, ordered, one page at a time.

        Raises:
            FilterSyntaxError: The filter or an order-by clause does not parse.
            ValidationError: ``max_results`` or ``page_token`` is invalid.
        """
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise ValidationError(f"max_results must be an integer, got {max_results!r}")
        if not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise ValidationError(
                f"max_results={max_results} is out of range; use 1..{MAX_RESULTS_LIMIT} "
                "and page through the rest with page_token"
            )
        where = search.compile_filter(parse_filter(filter_string))
        if len(order_by) > MAX_ORDER_BY:
            raise ValidationError(
                f"{len(order_by)} order-by clauses given; the limit is {MAX_ORDER_BY}"
            )
        keys = [parse_order_by(clause) for clause in order_by]
        offset = search.decode_page_token(page_token)
        query = select(runs).where(
            runs.c.experiment_id.in_(list(experiment_ids)),
            runs.c.lifecycle_stage == "active",
            where,
        )
        query = search.apply_order(query, keys).limit(max_results + 1).offset(offset)
        with self._read() as conn:
            rows = fetch_tuples(conn, query)
            page = load_runs(conn, rows[:max_results])
        more = len(rows) > max_results
        return RunsPage(page, search.encode_page_token(offset + max_results) if more else None)

    # -- artifacts ---------------------------------------------------------
    def add_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None:
        """Record (or replace) logical artifact paths of a run, all in one transaction."""
        if not entries:
            return
        stamp = now_ms()
        rows = [
            {"run_id": run_id, "path": e.path, "blob": e.blob, "size": e.size, "created_at": stamp}
            for e in entries
        ]
        with self._write() as conn:
            self._require_run(conn, run_id)
            stmt = self._insert(run_artifacts)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "path"],
                    set_={c: stmt.excluded[c] for c in ("blob", "size", "created_at")},
                ),
                rows,
            )

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]:
        """The run's artifacts (optionally under ``prefix``), sorted by path."""
        ra = run_artifacts.c
        with self._read() as conn:
            self._require_run(conn, run_id)
            query = select(ra.path, ra.blob, ra.size).where(ra.run_id == run_id)
            if prefix:
                query = query.where(func.substr(ra.path, 1, len(prefix)) == prefix)
            rows = conn.execute(query.order_by(ra.path)).all()
        return [ArtifactEntry(p, b, s) for p, b, s in rows]

    def get_artifact(self, run_id: str, path: str) -> ArtifactEntry:
        """The blob behind one logical path of a run.

        Raises:
            NotFoundError: The run has no artifact at ``path``.
        """
        ra = run_artifacts.c
        with self._read() as conn:
            self._require_run(conn, run_id)
            row = conn.execute(
                select(ra.path, ra.blob, ra.size).where(and_(ra.run_id == run_id, ra.path == path))
            ).one_or_none()
        if row is None:
            raise NotFoundError(
                f"run {run_id} has no artifact {path!r}; list them with "
                f"`modelyard runs show {run_id}`",
                run_id=run_id,
                path=path,
            )
        return ArtifactEntry(row.path, row.blob, row.size)
