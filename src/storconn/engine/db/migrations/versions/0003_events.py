"""The audit log: ``events``, what the engine did and saw, served as oVirt's ``/events``.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30

Written once and never edited. ``sqlite_autoincrement`` makes SQLite never
give an id twice (without it a deleted newest id is reused, and a client
reading ``from=`` that id would miss the next event).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("custom_id", sa.Integer(), nullable=True),
        sa.Column("flood_rate", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column("host_id", sa.String(length=36), nullable=True),
        sa.Column("host_name", sa.String(length=255), nullable=True),
        sa.Column("storage_domain_id", sa.String(length=36), nullable=True),
        sa.Column("storage_domain_name", sa.String(length=255), nullable=True),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("data_center_name", sa.String(length=255), nullable=True),
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.Column("storage_connection_id", sa.String(length=36), nullable=True),
        sa.Column("disk_id", sa.String(length=36), nullable=True),
        sa.Column("vm_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("origin", "custom_id", name="uq_events_origin_custom_id"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("events")
