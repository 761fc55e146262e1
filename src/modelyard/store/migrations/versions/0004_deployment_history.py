"""Deployment history: the sticky flag of each deployment, and every change of its routes.

Until now each serving worker kept its own rollback history in memory, so with
several workers a rollback went wherever that worker's history pointed.

``deployments`` (name, sticky, updated_at) is a table rather than a ``sticky``
column on ``deployment_routes`` because the flag belongs to the deployment, not
to each of its routes: a column would repeat it on every route and vanish when a
deployment has none. The row is also what a change locks (``SELECT ... FOR
UPDATE`` on PostgreSQL), like ``registered_models`` when numbering versions, so
two rollbacks at once cannot take the same history entry.

``deployment_changes`` keeps the routes a change replaced as JSON, not as rows
with a foreign key: the registry refuses to delete versions that *serve*
traffic, but a version only named in old history may be deleted (a rollback to
it then says so). Existing deployments get a ``deployments`` row (not sticky).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    deployments = op.create_table(
        "deployments",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("sticky", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_deployments"),
    )
    op.create_table(
        "deployment_changes",
        sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment", sa.String(250), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("routes", sa.Text, nullable=False),
        sa.Column("sticky", sa.Boolean, nullable=False),
        sa.Column("user", sa.String(256), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("undone_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("change_id", name="pk_deployment_changes"),
        sa.ForeignKeyConstraint(
            ["deployment"],
            ["deployments.name"],
            name="fk_deployment_changes_deployment_deployments",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "action IN ('start', 'set', 'canary', 'promote', 'rollback')",
            name="ck_deployment_changes_action",
        ),
    )
    op.create_index(
        "ix_deployment_changes_deployment_change_id",
        "deployment_changes",
        ["deployment", "change_id"],
    )
    routes = sa.table(
        "deployment_routes",
        sa.column("deployment", sa.String),
        sa.column("updated_at", sa.BigInteger),
    )
    op.execute(
        deployments.insert().from_select(
            ["name", "sticky", "updated_at"],
            sa.select(routes.c.deployment, sa.false(), sa.func.max(routes.c.updated_at)).group_by(
                routes.c.deployment
            ),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_changes_deployment_change_id", "deployment_changes")
    op.drop_table("deployment_changes")
    op.drop_table("deployments")
