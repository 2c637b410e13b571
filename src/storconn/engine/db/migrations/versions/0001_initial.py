"""The initial schema: inventory, users, what each host should hold, flows in progress.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written once and never edited: later changes go in new revisions. The unique
constraint ``uq_storage_connections_identity`` is what makes the database
itself refuse duplicate connections (see ``schema.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_centers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_centers")),
        sa.UniqueConstraint("name", name=op.f("uq_data_centers_name")),
    )
    op.create_table(
        "lun_disks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lun_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lun_disks")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "vms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vms")),
        sa.UniqueConstraint("name", name=op.f("uq_vms_name")),
    )
    op.create_table(
        "disk_attachments",
        sa.Column("vm_id", sa.String(length=36), nullable=False),
        sa.Column("disk_id", sa.String(length=36), nullable=False),
        sa.Column("plugged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["disk_id"],
            ["lun_disks.id"],
            name=op.f("fk_disk_attachments_disk_id_lun_disks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name=op.f("fk_disk_attachments_vm_id_vms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", "disk_id", name=op.f("pk_disk_attachments")),
    )
    op.create_index(op.f("ix_disk_attachments_disk_id"), "disk_attachments", ["disk_id"])
    op.create_table(
        "hosts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=True),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_center_id"],
            ["data_centers.id"],
            name=op.f("fk_hosts_data_center_id_data_centers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("name", name=op.f("uq_hosts_name")),
    )
    op.create_index(op.f("ix_hosts_data_center_id"), "hosts", ["data_center_id"])
    op.create_table(
        "storage_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("type_code", sa.Integer(), nullable=False),
        sa.Column("connection", sa.Text(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("iqn", sa.Text(), nullable=True),
        sa.Column("portal", sa.String(length=64), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("vfs_type", sa.String(length=64), nullable=True),
        sa.Column("mount_options", sa.Text(), nullable=True),
        sa.Column("nfs_version", sa.String(length=8), nullable=True),
        sa.Column("nfs_timeo", sa.Integer(), nullable=True),
        sa.Column("nfs_retrans", sa.Integer(), nullable=True),
        sa.Column("gluster_volume", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("identity_key", sa.Text(), nullable=False),
        sa.Column("identity_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_center_id"],
            ["data_centers.id"],
            name=op.f("fk_storage_connections_data_center_id_data_centers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_connections")),
        sa.UniqueConstraint("identity_hash", "scope", name="uq_storage_connections_identity"),
    )
    op.create_index("ix_storage_connections_created", "storage_connections", ["created_at", "id"])
    op.create_table(
        "storage_domains",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("storage_type", sa.String(length=16), nullable=False),
        sa.Column("domain_type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_center_id"],
            ["data_centers.id"],
            name=op.f("fk_storage_domains_data_center_id_data_centers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_storage_domains_name")),
    )
    op.create_index(
        op.f("ix_storage_domains_data_center_id"), "storage_domains", ["data_center_id"]
    )
    op.create_table(
        "flows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("host_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_flows_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
    )
    op.create_index(op.f("ix_flows_host_id"), "flows", ["host_id"])
    op.create_table(
        "host_references",
        sa.Column("host_id", sa.String(length=36), nullable=False),
        sa.Column("ref_id", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["storage_connections.id"],
            name=op.f("fk_host_references_connection_id_storage_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["storage_domains.id"],
            name=op.f("fk_host_references_domain_id_storage_domains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
            name=op.f("fk_host_references_host_id_hosts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("host_id", "ref_id", name=op.f("pk_host_references")),
    )
    op.create_index(op.f("ix_host_references_connection_id"), "host_references", ["connection_id"])
    op.create_index(op.f("ix_host_references_domain_id"), "host_references", ["domain_id"])
    op.create_table(
        "lun_disk_connections",
        sa.Column("disk_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["storage_connections.id"],
            name=op.f("fk_lun_disk_connections_connection_id_storage_connections"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["disk_id"],
            ["lun_disks.id"],
            name=op.f("fk_lun_disk_connections_disk_id_lun_disks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("disk_id", "connection_id", name=op.f("pk_lun_disk_connections")),
    )
    op.create_index(
        op.f("ix_lun_disk_connections_connection_id"), "lun_disk_connections", ["connection_id"]
    )
    op.create_table(
        "storage_domain_connections",
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["storage_connections.id"],
            name=op.f("fk_storage_domain_connections_connection_id_storage_connections"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["storage_domains.id"],
            name=op.f("fk_storage_domain_connections_domain_id_storage_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "domain_id", "connection_id", name=op.f("pk_storage_domain_connections")
        ),
    )
    op.create_index(
        op.f("ix_storage_domain_connections_connection_id"),
        "storage_domain_connections",
        ["connection_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_storage_domain_connections_connection_id"), table_name="storage_domain_connections"
    )
    op.drop_table("storage_domain_connections")
    op.drop_index(op.f("ix_lun_disk_connections_connection_id"), table_name="lun_disk_connections")
    op.drop_table("lun_disk_connections")
    op.drop_index(op.f("ix_host_references_domain_id"), table_name="host_references")
    op.drop_index(op.f("ix_host_references_connection_id"), table_name="host_references")
    op.drop_table("host_references")
    op.drop_index(op.f("ix_flows_host_id"), table_name="flows")
    op.drop_table("flows")
    op.drop_index(op.f("ix_storage_domains_data_center_id"), table_name="storage_domains")
    op.drop_table("storage_domains")
    op.drop_index("ix_storage_connections_created", table_name="storage_connections")
    op.drop_table("storage_connections")
    op.drop_index(op.f("ix_hosts_data_center_id"), table_name="hosts")
    op.drop_table("hosts")
    op.drop_index(op.f("ix_disk_attachments_disk_id"), table_name="disk_attachments")
    op.drop_table("disk_attachments")
    op.drop_table("vms")
    op.drop_table("users")
    op.drop_table("lun_disks")
    op.drop_table("data_centers")
