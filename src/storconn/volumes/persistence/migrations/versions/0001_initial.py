"""The initial schema: volumes, snapshots, connections, key-values, the key check.

Revision ID: v0001
Revises:
Create Date: 2026-11-29

Written once and never edited: later changes go in new revisions. Revision
ids start with ``v`` so they can never be mistaken for the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("multiattach", sa.Boolean(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("source_volid", sa.String(length=64), nullable=True),
        sa.Column("snapshot_id", sa.String(length=64), nullable=True),
        sa.Column("provider_location", sa.Text(), nullable=True),
        sa.Column("provider_auth", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volumes")),
    )
    op.create_index(op.f("ix_volumes_backend"), "volumes", ["backend"])
    op.create_index(op.f("ix_volumes_name"), "volumes", ["name"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=255), nullable=False),
        sa.Column("volume_id", sa.String(length=64), nullable=False),
        sa.Column("volume_size", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("provider_location", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
    )
    op.create_index(op.f("ix_snapshots_volume_id"), "snapshots", ["volume_id"])
    op.create_index(op.f("ix_snapshots_name"), "snapshots", ["name"])
    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=255), nullable=False),
        sa.Column("volume_id", sa.String(length=64), nullable=False),
        sa.Column("connector_info", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("conn_info", sa.Text(), nullable=False),
        sa.Column("device", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("attached_host", sa.String(length=255), nullable=True),
        sa.Column("attach_mode", sa.String(length=2), nullable=False),
        sa.Column("local_attach", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    op.create_index(op.f("ix_connections_volume_id"), "connections", ["volume_id"])
    op.create_table(
        "key_values",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_key_values")),
    )
    op.create_table(
        "volumes_meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_volumes_meta")),
    )


def downgrade() -> None:
    op.drop_table("volumes_meta")
    op.drop_table("key_values")
    op.drop_index(op.f("ix_connections_volume_id"), table_name="connections")
    op.drop_table("connections")
    op.drop_index(op.f("ix_snapshots_name"), table_name="snapshots")
    op.drop_index(op.f("ix_snapshots_volume_id"), table_name="snapshots")
    op.drop_table("snapshots")
    op.drop_index(op.f("ix_volumes_name"), table_name="volumes")
    op.drop_index(op.f("ix_volumes_backend"), table_name="volumes")
    op.drop_table("volumes")
