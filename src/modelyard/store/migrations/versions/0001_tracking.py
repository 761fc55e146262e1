"""Tracking: experiments, runs, params, metrics (+ latest), tags, run artifacts.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_experiment_tags_experiment_id_experiments",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("parent_run_id", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_runs_experiment_id_experiments",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["runs.run_id"],
            name="fk_runs_parent_run_id_runs",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')",
            name="ck_runs_status",
        ),
    )
    op.create_index("ix_runs_experiment_id_start_time", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    for name, value_type in (("params", sa.Text), ("tags", sa.Text)):
        op.create_table(
            name,
            sa.Column("run_id", sa.String(32), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", value_type, nullable=False),
            sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{name}"),
            sa.ForeignKeyConstraint(
                ["run_id"], ["runs.run_id"], name=f"fk_{name}_run_id_runs", ondelete="CASCADE"
            ),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "metrics",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_metrics_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_metrics_run_id_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_latest_metrics"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_latest_metrics_run_id_runs", ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "run_artifacts",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("blob", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "path", name="pk_run_artifacts"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_run_artifacts_run_id_runs", ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for name in (
        "run_artifacts",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(name)
