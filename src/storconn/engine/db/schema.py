"""The engine's tables, as SQLAlchemy 2 typed models.

The migrations (``migrations/versions/``) create these tables by hand, so
that an old revision never changes when a model does; a unit test compares
the two (``tests/unit/engine/test_db.py``).

Identity: every connection row stores the vocabulary's normalized identity
key (``storconn.engine.rules.identity_key``), its SHA-256 (fixed length, so
long paths index well on PostgreSQL) and a *scope*: "" for everything but
local storage, whose scope is its data center (or the connection itself
while it has none). The unique index on (identity_hash, scope) makes the
database refuse a duplicate that slipped past the rules and the locks, for
example from another engine process.

Secrets are stored encrypted (``*_encrypted`` columns, Fernet tokens) or
hashed (``users.password_hash``); nothing here ever holds a clear secret.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ClusterRow",
    "ConnectionRow",
    "DataCenterRow",
    "DiskAttachmentRow",
    "DomainConnectionRow",
    "DomainRow",
    "FlowRow",
    "HostRow",
    "LunDiskConnectionRow",
    "LunDiskRow",
    "ReferenceRow",
    "UserRow",
    "VmRow",
    "utcnow",
]

ID = String(36)  # uuid4 in its canonical text form

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataCenterRow(Base):
    __tablename__ = "data_centers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Revision 0002 (clusters):
    comment: Mapped[str | None] = mapped_column(Text)
    version_major: Mapped[int] = mapped_column(Integer, default=4)
    version_minor: Mapped[int] = mapped_column(Integer, default=7)


class HostRow(Base):
    __tablename__ = "hosts"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    data_center_id: Mapped[str | None] = mapped_column(ForeignKey("data_centers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Revision 0002 (clusters): data_center_id above is always the cluster's.
    cluster_id: Mapped[str | None] = mapped_column(ForeignKey("clusters.id"), index=True)


class ConnectionRow(Base):
    __tablename__ = "storage_connections"
    __table_args__ = (
        UniqueConstraint("identity_hash", "scope", name="uq_storage_connections_identity"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    type_code: Mapped[int] = mapped_column(Integer)  # oVirt's storage_type number
    connection: Mapped[str] = mapped_column(Text)
    port: Mapped[int | None] = mapped_column(Integer)
    iqn: Mapped[str | None] = mapped_column(Text)
    portal: Mapped[str | None] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(Text)
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    vfs_type: Mapped[str | None] = mapped_column(String(64))
    mount_options: Mapped[str | None] = mapped_column(Text)
    nfs_version: Mapped[str | None] = mapped_column(String(8))
    nfs_timeo: Mapped[int | None] = mapped_column(Integer)
    nfs_retrans: Mapped[int | None] = mapped_column(Integer)
    gluster_volume: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    identity_key: Mapped[str] = mapped_column(Text)
    identity_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(80))
    # Local storage only: the data center its path belongs to, once known.
    data_center_id: Mapped[str | None] = mapped_column(ForeignKey("data_centers.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DomainRow(Base):
    __tablename__ = "storage_domains"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    storage_type: Mapped[str] = mapped_column(String(16))
    domain_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    data_center_id: Mapped[str | None] = mapped_column(ForeignKey("data_centers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DomainConnectionRow(Base):
    """Which connections a domain uses: one for a file domain, one or more (multipath) for iSCSI."""

    __tablename__ = "storage_domain_connections"

    domain_id: Mapped[str] = mapped_column(
        ForeignKey("storage_domains.id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT: a connection in use is never deleted from under its domain.
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("storage_connections.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class LunDiskRow(Base):
    __tablename__ = "lun_disks"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    lun_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LunDiskConnectionRow(Base):
    __tablename__ = "lun_disk_connections"

    disk_id: Mapped[str] = mapped_column(
        ForeignKey("lun_disks.id", ondelete="CASCADE"), primary_key=True
    )
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("storage_connections.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class VmRow(Base):
    __tablename__ = "vms"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DiskAttachmentRow(Base):
    __tablename__ = "disk_attachments"

    vm_id: Mapped[str] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True)
    disk_id: Mapped[str] = mapped_column(
        ForeignKey("lun_disks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    plugged: Mapped[bool] = mapped_column(Boolean, default=True)


class ReferenceRow(Base):
    """What each host should hold (``engine:<domain>:<connection>:<revision>``), derived from domain state.

    Named ``host_references``: ``references`` is a reserved word in SQL.
    """

    __tablename__ = "host_references"

    host_id: Mapped[str] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True
    )
    ref_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    domain_id: Mapped[str] = mapped_column(
        ForeignKey("storage_domains.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("storage_connections.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)


class FlowRow(Base):
    """A flow in progress on a host: its ``engine-flow:<id>:`` references are not leftovers."""

    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    host_id: Mapped[str] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClusterRow(Base):
    """oVirt's cluster, as far as storage goes: a named group of hosts in one data center (revision 0002).

    Names are unique across the engine, as oVirt's are. ``data_center_id``
    becomes NULL when the data center is removed (oVirt's ON DELETE SET NULL).
    """

    __tablename__ = "clusters"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    data_center_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_centers.id", ondelete="SET NULL"), index=True
    )
    version_major: Mapped[int] = mapped_column(Integer)
    version_minor: Mapped[int] = mapped_column(Integer)
    cpu_type: Mapped[str | None] = mapped_column(String(255))
    cpu_architecture: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Listing order everywhere: creation time, then id for rows created in the same microsecond.
Index("ix_storage_connections_created", ConnectionRow.created_at, ConnectionRow.id)
