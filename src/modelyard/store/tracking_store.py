"""Experiments, runs, params, metrics, tags and run artifacts over SQLAlchemy Core.

One class, one schema, every supported backend (SQLite, PostgreSQL); the
contract tests in ``tests/store`` run the same cases against each. Every public
method is one transaction: when it returns, what it wrote is committed.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Insert, and_, bindparam, func, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.exceptions import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from modelyard.store import search, validation
from modelyard.store.engine import WRITE, make_engine
from modelyard.store.entities import (
    ArtifactEntry,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunsPage,
)
from modelyard.store.filters import parse_filter, parse_order_by
from modelyard.store.metric_writer import MetricWriter
from modelyard.store.migrate import ensure_schema
from modelyard.store.schema import (
    RUN_STATUSES,
    experiment_tags,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_artifacts,
    runs,
    tags,
)
from modelyard.store.schema import metrics as metrics_t
from modelyard.store.schema import tags as tags_t

__all__ = ["MAX_RESULTS_LIMIT", "TrackingStore", "now_ms"]

MAX_RESULTS_LIMIT = 50_000
_METRIC_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")


def now_ms() -> int:
    """Milliseconds since the epoch, the unit of every stored time."""
    return time.time_ns() // 1_000_000


class TrackingStore:
    """The tracking tables of one metadata database.

    Args:
        url_or_engine: A SQLAlchemy URL or an engine made by :func:`make_engine`.
        migrate: Create the schema in an empty database (the default), refuse an
            out-of-date one with a message saying to run ``modelyard db upgrade``.
    """

    def __init__(self, url_or_engine: str | Engine, *, migrate: bool = True) -> None:
        self.engine = (
            make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        dialect = self.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._upsert_latest_stmt = self._upsert_latest()
        self._metric_writer = MetricWriter(
            self.engine,
            metrics_t.insert().values({c: bindparam(c) for c in _METRIC_COLUMNS}),
            self._upsert_latest_stmt.values({c: bindparam(c) for c in _METRIC_COLUMNS}),
        )
        if migrate:
            with self._translate():
                ensure_schema(self.engine)

    # -- plumbing ----------------------------------------------------------
    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.OperationalError as exc:
            raise StoreError(
                f"metadata database error ({self.engine.url.render_as_string(True)}): "
                f"{exc.orig}; check that the database is reachable and the disk is not full"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        """Release pooled connections."""
        self._metric_writer.close()
        self.engine.dispose()

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
            return self._experiment(conn, row)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, or ``None``."""
        with self._read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).one_or_none()
            return None if row is None else self._experiment(conn, row)

    def list_experiments(self) -> list[Experiment]:
        """All active experiments, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(experiments)
                .where(experiments.c.lifecycle_stage == "active")
                .order_by(experiments.c.experiment_id)
            ).all()
            return [self._experiment(conn, row) for row in rows]

    @staticmethod
    def _experiment(conn: Connection, row: Any) -> Experiment:
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
        tag_rows = self._kv_rows(run_id, tags or {}, validation.check_tag_value, "tag")
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
            conn.execute(
                runs.insert().values(
                    run_id=run_id,
                    experiment_id=experiment_id,
                    name=name,
                    parent_run_id=parent_run_id,
                    status="RUNNING",
                    user_id=user_id,
                    start_time=start_time if start_time is not None else now_ms(),
                    lifecycle_stage="active",
                )
            )
            if tag_rows:
                conn.execute(tags_t.insert(), tag_rows)
        return self.get_run(run_id).info

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
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                update(runs).where(runs.c.run_id == run_id).values(status=status, end_time=end_time)
            )
        return self.get_run(run_id).info

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics.

        Raises:
            NotFoundError: No such run.
        """
        validation.check_run_id(run_id)
        with self._read() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).one_or_none()
            if row is None:
                raise _run_not_found(run_id)
            return self._load_runs(conn, [row])[0]

    def _require_run(self, conn: Connection, run_id: str, what: str = "run") -> None:
        validation.check_run_id(run_id)
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise _run_not_found(run_id, what)

    def _load_runs(self, conn: Connection, rows: Sequence[Any]) -> list[Run]:
        ids = [row.run_id for row in rows]
        found: dict[str, dict[str, dict[str, Any]]] = {
            i: {"params": {}, "tags": {}, "metrics": {}} for i in ids
        }
        for part, table in (("params", params), ("tags", tags)):
            for rid, key, value in conn.execute(
                select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(ids))
            ):
                found[rid][part][key] = value
        lm = latest_metrics.c
        for rid, key, value, is_nan in conn.execute(
            select(lm.run_id, lm.key, lm.value, lm.is_nan).where(lm.run_id.in_(ids))
        ):
            found[rid]["metrics"][key] = math.nan if is_nan else value
        return [
            Run(
                info=RunInfo(
                    run_id=row.run_id,
                    experiment_id=row.experiment_id,
                    name=row.name,
                    status=row.status,
                    user_id=row.user_id,
                    start_time=row.start_time,
                    end_time=row.end_time,
                    parent_run_id=row.parent_run_id,
                    lifecycle_stage=row.lifecycle_stage,
                ),
                data=RunData(**found[row.run_id]),
            )
            for row in rows
        ]

    # -- logging -----------------------------------------------------------
    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Record one metric point (the hot path: one short write transaction)."""
        self.log_batch(run_id, metrics=[Metric(key, value, step, timestamp or now_ms())])

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
        metric_rows = [self._metric_row(run_id, m) for m in metrics]
        param_rows = self._kv_rows(run_id, params or {}, validation.check_param_value, "param")
        tag_rows = self._kv_rows(run_id, tags or {}, validation.check_tag_value, "tag")
        if not (metric_rows or param_rows or tag_rows):
            return
        if not (param_rows or tag_rows):
            self._write_metrics(run_id, metric_rows)
            return
        try:
            with self._write() as conn:
                if metric_rows:
                    conn.execute(metrics_t.insert(), metric_rows)
                    conn.execute(self._upsert_latest_stmt, _newest_per_key(metric_rows))
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
            writer.write(rows, _newest_per_key(rows))
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
            if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
                raise _run_not_found(run_id) from exc
        raise StoreError(f"could not write to run {run_id}: {exc}") from exc

    @staticmethod
    def _metric_row(run_id: str, metric: Metric) -> dict[str, Any]:
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

    @staticmethod
    def _kv_rows(
        run_id: str, values: Mapping[str, Any], check_value: Any, what: str
    ) -> list[dict[str, Any]]:
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

    def _upsert_latest(self) -> Insert:
        stmt = self._insert(latest_metrics)
        new, old = stmt.excluded, latest_metrics.c
        newer = (new.step > old.step) | ((new.step == old.step) & (new.timestamp >= old.timestamp))
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={c: new[c] for c in ("value", "is_nan", "step", "timestamp")},
            where=newer,
        )

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
        keys = [parse_order_by(clause) for clause in order_by]
        offset = search.decode_page_token(page_token)
        query = select(runs).where(
            runs.c.experiment_id.in_(list(experiment_ids)),
            runs.c.lifecycle_stage == "active",
            where,
        )
        query = search.apply_order(query, keys).limit(max_results + 1).offset(offset)
        with self._read() as conn:
            rows = conn.execute(query).all()
            page = self._load_runs(conn, rows[:max_results])
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


def _newest_per_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # One upsert row per key: an ON CONFLICT statement may not touch a row twice.
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        held = newest.get(row["key"])
        if held is None or (row["step"], row["timestamp"]) >= (held["step"], held["timestamp"]):
            newest[row["key"]] = row
    return list(newest.values())


def _run_not_found(run_id: str, what: str = "run") -> NotFoundError:
    return NotFoundError(
        f"no {what} with id {run_id}; `modelyard runs list` shows the existing runs",
        run_id=run_id,
    )
