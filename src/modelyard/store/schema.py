"""The metadata schema, as SQLAlchemy Core tables.

Migrations in ``store/migrations/versions`` create and evolve these tables; this
module is what the code queries against. A later feature (datasets, models,
deployments, monitors, pipelines, users, audit) adds its tables here *and* in a
new migration; ``tests/store/test_migrations.py`` checks the two agree.

Times are integer milliseconds since the epoch (UTC), as in MLflow, so they sort
and compare the same on every backend. Tables keyed by (run, key) are
``WITHOUT ROWID`` on SQLite, so a run's rows sit together in primary-key order
and loading a page of runs reads them in one sweep per run.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "KEY_MAX",
    "PARAM_VALUE_MAX",
    "RUN_STATUSES",
    "TAG_VALUE_MAX",
    "dataset_splits",
    "dataset_stream_messages",
    "dataset_versions",
    "datasets",
    "deployment_changes",
    "deployment_routes",
    "deployments",
    "experiment_tags",
    "experiments",
    "latest_metrics",
    "metadata",
    "metrics",
    "model_aliases",
    "model_events",
    "model_versions",
    "params",
    "registered_models",
    "run_artifacts",
    "runs",
    "tags",
]

KEY_MAX = 250
PARAM_VALUE_MAX = 6000
TAG_VALUE_MAX = 8000
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(KEY_MAX), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(256), nullable=False),
    Column("parent_run_id", String(32), ForeignKey("runs.run_id", ondelete="SET NULL")),
    Column("status", String(16), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    CheckConstraint(
        "status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')", name="status"
    ),
    Index(None, "experiment_id", "start_time"),
    Index(None, "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_MAX), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_MAX), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

# Every point ever logged. NaN is kept as is_nan=True with value 0, because SQLite
# turns a NaN REAL into NULL.
metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_MAX), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, server_default="0"),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "run_id", "key", "step"),
)

# The newest point per (run, key): highest step, then newest timestamp. Kept in
# step with ``metrics`` inside the same transaction so search and order-by never
# scan the history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_MAX), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False, server_default="0"),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "key", "value"),
    sqlite_with_rowid=False,
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("blob", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)


# -- datasets -------------------------------------------------------------------
# A dataset version is immutable: Parquet parts in the blob store (``parts``, a JSON
# list of {sha256, rows, bytes}), identified by ``content_hash`` (SHA-256 over the
# parts' hashes in order). JSON columns hold documents the code reads whole.
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(KEY_MAX), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column(
        "dataset_id",
        Integer,
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("num_bytes", BigInteger, nullable=False),
    Column("schema", Text, nullable=False),
    Column("parts", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("sketches", String(64), nullable=True),
    Column("source", Text, nullable=False),
    Column("masking", Text, nullable=False),
    Column("validation", Text, nullable=True),
    Column("bad_lines", BigInteger, nullable=False, server_default="0"),
    Column("parent_version", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    Index(None, "content_hash"),
    sqlite_with_rowid=False,
)

dataset_splits = Table(
    "dataset_splits",
    metadata,
    Column("dataset_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(KEY_MAX), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("counts", Text, nullable=False),
    Column("assignment", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["dataset_id", "version"],
        ["dataset_versions.dataset_id", "dataset_versions.version"],
        ondelete="CASCADE",
    ),
    sqlite_with_rowid=False,
)

# Every Redis Stream message id committed into a dataset, written in the same
# transaction as the version holding its row, so a redelivered message is skipped.
dataset_stream_messages = Table(
    "dataset_stream_messages",
    metadata,
    Column(
        "dataset_id",
        Integer,
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("stream", String(KEY_MAX), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    sqlite_with_rowid=False,
)


# -- model registry -------------------------------------------------------------
# A model version is immutable once registered, except for its status (ready /
# archived) and the evaluation and gate documents added later. Aliases point at
# one version each and move inside one transaction; every move and status change
# is appended to ``model_events``.
registered_models = Table(
    "registered_models",
    metadata,
    Column("model_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(KEY_MAX), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    # The highest version number ever given: numbers of deleted versions are never reused.
    Column("last_version", Integer, nullable=False, server_default="0"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("task", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    Column("description", Text, nullable=True),
    Column("lineage", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("formats", Text, nullable=False),
    Column("evaluation", Text, nullable=True),
    Column("gates", Text, nullable=True),
    Index(None, "run_id"),
    sqlite_with_rowid=False,
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, primary_key=True),
    Column("alias", String(KEY_MAX), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=True),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["model_versions.model_id", "model_versions.version"],
        ondelete="CASCADE",
    ),
    sqlite_with_rowid=False,
)

model_events = Table(
    "model_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(32), nullable=False),
    Column("version", Integer, nullable=True),
    Column("alias", String(KEY_MAX), nullable=True),
    Column("from_value", String(KEY_MAX), nullable=True),
    Column("to_value", String(KEY_MAX), nullable=True),
    Column("user", String(256), nullable=True),
    Column("at", BigInteger, nullable=False),
    Column("reason", Text, nullable=True),
    Index(None, "model_id", "event_id"),
)

# Which model versions a serving deployment routes traffic to (written by the
# serving layer); a version with a route cannot be deleted.
deployment_routes = Table(
    "deployment_routes",
    metadata,
    Column("deployment", String(KEY_MAX), primary_key=True),
    Column("model_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("role", String(16), nullable=False),
    Column("weight", Float(precision=53), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["model_versions.model_id", "model_versions.version"],
        ondelete="RESTRICT",
    ),
    sqlite_with_rowid=False,
)

# One row per deployment the serving layer has written: its sticky flag (a property
# of the deployment, not of a route) and the row locked while its routes and history
# change (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(KEY_MAX), primary_key=True),
    Column("sticky", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Every change of a deployment's routes, newest last: the routes (and sticky flag) it
# replaced, as JSON, so a rollback restores them even after the worker that made the
# change is gone. A rollback marks the change it undid (``undone_at``) and is logged
# itself; rollbacks are never undone in turn, so rolling back twice goes back two steps.
deployment_changes = Table(
    "deployment_changes",
    metadata,
    Column("change_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "deployment",
        String(KEY_MAX),
        ForeignKey("deployments.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("action", String(16), nullable=False),
    Column("routes", Text, nullable=False),
    Column("sticky", Boolean, nullable=False),
    Column("user", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("undone_at", BigInteger, nullable=True),
    CheckConstraint("action IN ('start', 'set', 'canary', 'promote', 'rollback')", name="action"),
    Index(None, "deployment", "change_id"),
)
