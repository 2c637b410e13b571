"""Block domains' LUNs and volume group, the host of an Up VM, and what hosts hold for direct LUN disks.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30

Issue 9 items 8 and 12: ``domain_luns`` (a domain's LUN ids and the
connection each is reached through), ``storage_domains.volume_group_id``,
``vms.host_id`` and ``host_disk_references`` (``engine:disk:<disk>:<connection>:<revision>``).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable columns: SQLite adds them without rebuilding the tables.
    op.add_column("storage_domains", sa.Column("volume_group_id", sa.String(length=64), nullable=True))
    op.add_column("vms", sa.Column("host_id", sa.String(length=36), nullable=True))
    _give_block_domains_a_volume_group()
    op.create_table(
        "domain_luns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("lun_id", sa.String(length=255), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("lun_mapping", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["storage_connections.id"],
            name=op.f("fk_domain_luns_connection_id_storage_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["storage_domains.id"],
            name=op.f("fk_domain_luns_domain_id_storage_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_luns")),
        sa.UniqueConstraint("domain_id", "lun_id", "connection_id", name="uq_domain_luns_path"),
    )
    op.create_index(op.f("ix_domain_luns_connection_id"), "domain_luns", ["connection_id"])
    op.create_index(op.f("ix_domain_luns_domain_id"), "domain_luns", ["domain_id"])
    op.create_table(
        "host_disk_references",
        sa.Column("host_id", sa.String(length=36), nullable=False),
        sa.Column("ref_id", sa.String(length=255), nullable=False),
        sa.Column("disk_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["storage_connections.id"],
            name=op.f("fk_host_disk_references_connection_id_storage_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["disk_id"],
            ["lun_disks.id"],
            name=op.f("fk_host_disk_references_disk_id_lun_disks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
            name=op.f("fk_host_disk_references_host_id_hosts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("host_id", "ref_id", name=op.f("pk_host_disk_references")),
    )
    op.create_index(
        op.f("ix_host_disk_references_connection_id"), "host_disk_references", ["connection_id"]
    )
    op.create_index(op.f("ix_host_disk_references_disk_id"), "host_disk_references", ["disk_id"])


def _give_block_domains_a_volume_group() -> None:
    """Block domains added before this revision get their volume group uuid now, once (LVM's form)."""
    domains = sa.table(
        "storage_domains",
        sa.column("id", sa.String()),
        sa.column("storage_type", sa.String()),
        sa.column("volume_group_id", sa.String()),
    )
    bind = op.get_bind()
    ids: list[str] = list(
        bind.execute(
            sa.select(domains.c.id).where(domains.c.storage_type.in_(["iscsi", "fcp"]))
        ).scalars()
    )
    alphabet = string.ascii_letters + string.digits
    for domain_id in ids:
        parts = ["".join(secrets.choice(alphabet) for _ in range(n)) for n in (6, 4, 4, 4, 4, 4, 6)]
        bind.execute(
            domains.update().where(domains.c.id == domain_id).values(volume_group_id="-".join(parts))
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_host_disk_references_disk_id"), table_name="host_disk_references")
    op.drop_index(op.f("ix_host_disk_references_connection_id"), table_name="host_disk_references")
    op.drop_table("host_disk_references")
    op.drop_index(op.f("ix_domain_luns_domain_id"), table_name="domain_luns")
    op.drop_index(op.f("ix_domain_luns_connection_id"), table_name="domain_luns")
    op.drop_table("domain_luns")
    with op.batch_alter_table("vms") as batch:
        batch.drop_column("host_id")
    with op.batch_alter_table("storage_domains") as batch:
        batch.drop_column("volume_group_id")
