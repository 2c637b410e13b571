"""Clusters: hosts belong to a cluster, clusters to a data center; data centers get a version and a comment.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Existing hosts keep their data center and get no cluster (the engine puts
a host named by its data center only into that data center's default
cluster from now on); existing data centers get oVirt's default
compatibility version, 4.7.

``hosts.cluster_id`` is added with ``ALTER TABLE ... ADD COLUMN`` on every
database: on SQLite a batch rebuild of ``hosts`` would drop the table, and
with ``foreign_keys=ON`` that deletes the references and flows that cascade
from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("version_major", sa.Integer(), nullable=False),
        sa.Column("version_minor", sa.Integer(), nullable=False),
        sa.Column("cpu_type", sa.String(length=255), nullable=True),
        sa.Column("cpu_architecture", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_center_id"],
            ["data_centers.id"],
            name=op.f("fk_clusters_data_center_id_data_centers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
        sa.UniqueConstraint("name", name=op.f("uq_clusters_name")),
    )
    op.create_index(op.f("ix_clusters_data_center_id"), "clusters", ["data_center_id"])
    op.add_column("data_centers", sa.Column("comment", sa.Text(), nullable=True))
    op.add_column(
        "data_centers",
        sa.Column("version_major", sa.Integer(), nullable=False, server_default="4"),
    )
    op.add_column(
        "data_centers",
        sa.Column("version_minor", sa.Integer(), nullable=False, server_default="7"),
    )
    fk_name = op.f("fk_hosts_cluster_id_clusters")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline, named REFERENCES clause; alembic's
        # add_column would want a batch rebuild (see the module's docstring).
        op.execute(
            f"ALTER TABLE hosts ADD COLUMN cluster_id VARCHAR(36) "
            f"CONSTRAINT {fk_name} REFERENCES clusters (id)"
        )
    else:
        op.add_column("hosts", sa.Column("cluster_id", sa.String(length=36), nullable=True))
        op.create_foreign_key(fk_name, "hosts", "clusters", ["cluster_id"], ["id"])
    op.create_index(op.f("ix_hosts_cluster_id"), "hosts", ["cluster_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hosts_cluster_id"), table_name="hosts")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("cluster_id")
    with op.batch_alter_table("data_centers") as batch:
        batch.drop_column("version_minor")
        batch.drop_column("version_major")
        batch.drop_column("comment")
    op.drop_index(op.f("ix_clusters_data_center_id"), table_name="clusters")
    op.drop_table("clusters")
