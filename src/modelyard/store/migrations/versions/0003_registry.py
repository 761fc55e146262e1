"""Model registry: registered models, versions, aliases, events, deployment routes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("model_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=True),
        sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("model_id", name="pk_registered_models"),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("lineage", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("formats", sa.Text, nullable=False),
        sa.Column("evaluation", sa.Text, nullable=True),
        sa.Column("gates", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("model_id", "version", name="pk_model_versions"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name="fk_model_versions_model_id_registered_models",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("model_id", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            name="fk_model_aliases_model_id_model_versions",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "model_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("alias", sa.String(250), nullable=True),
        sa.Column("from_value", sa.String(250), nullable=True),
        sa.Column("to_value", sa.String(250), nullable=True),
        sa.Column("user", sa.String(256), nullable=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_model_events"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name="fk_model_events_model_id_registered_models",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_model_events_model_id_event_id", "model_events", ["model_id", "event_id"])
    op.create_table(
        "deployment_routes",
        sa.Column("deployment", sa.String(250), nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float(precision=53), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("deployment", "model_id", "version", name="pk_deployment_routes"),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            name="fk_deployment_routes_model_id_model_versions",
            ondelete="RESTRICT",
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("deployment_routes")
    op.drop_table("model_events")
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
