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
    Float,
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
    "DomainLunRow",
    "DomainRow",
    "EventRow",
    "FlowRow",
    "HostDiskReferenceRow",
    "HostRow",
    "LunDiskConnectionRow",
    "LunDiskRow",
    "ReferenceRow",
    "SsoTokenRow",
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
    # Block domains (iSCSI, FCP): oVirt's volume group uuid, made once when the domain is added.
    volume_group_id: Mapped[str | None] = mapped_column(String(64))


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
    # The host an Up VM runs on. No foreign key: adding one to an existing
    # table rebuilds it on SQLite; removing a host clears it explicitly.
    host_id: Mapped[str | None] = mapped_column(String(36))


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


class EventRow(Base):
    """One event of the audit log (oVirt's ``audit_log``): what happened, to what, and who did it.

    ``id`` only ever grows (AUTOINCREMENT on SQLite, a sequence on
    PostgreSQL): a client that read event N asks for ``from=N`` and gets
    what came after, so an id is never given twice, even after the newest
    event is deleted. The objects an event concerns are plain columns, no
    foreign keys: an event outlives what it tells of. Their names are kept
    as they were then, as oVirt keeps them. ``severity`` is oVirt's number
    (0 normal, 1 warning, 2 error, 10 alert), so that ``severity>=warning``
    is a comparison.
    """

    __tablename__ = "events"
    __table_args__ = (
        # An external event's (origin, custom_id) is unique; internal events have no custom_id.
        UniqueConstraint("origin", "custom_id", name="uq_events_origin_custom_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    severity: Mapped[int] = mapped_column(Integer)
    code: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(255))
    custom_id: Mapped[int | None] = mapped_column(Integer)
    flood_rate: Mapped[int] = mapped_column(Integer, default=30)
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(ID)
    user_name: Mapped[str | None] = mapped_column(String(255))
    host_id: Mapped[str | None] = mapped_column(ID)
    host_name: Mapped[str | None] = mapped_column(String(255))
    storage_domain_id: Mapped[str | None] = mapped_column(ID)
    storage_domain_name: Mapped[str | None] = mapped_column(String(255))
    data_center_id: Mapped[str | None] = mapped_column(ID)
    data_center_name: Mapped[str | None] = mapped_column(String(255))
    cluster_id: Mapped[str | None] = mapped_column(ID)
    storage_connection_id: Mapped[str | None] = mapped_column(ID)
    disk_id: Mapped[str | None] = mapped_column(ID)
    vm_id: Mapped[str | None] = mapped_column(ID)


class DomainLunRow(Base):
    """The LUNs of a block domain (oVirt's ``luns`` and ``lun_storage_server_connection_map``).

    One row per path: a LUN seen through two connections has two rows. A
    surrogate key because an FCP LUN has no connection (NULL), and a removed
    connection leaves its LUNs in the domain without their path.
    """

    __tablename__ = "domain_luns"
    __table_args__ = (UniqueConstraint("domain_id", "lun_id", "connection_id", name="uq_domain_luns_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    domain_id: Mapped[str] = mapped_column(
        ForeignKey("storage_domains.id", ondelete="CASCADE"), index=True
    )
    lun_id: Mapped[str] = mapped_column(String(255))
    connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("storage_connections.id", ondelete="SET NULL"), index=True
    )
    lun_mapping: Mapped[int | None] = mapped_column(Integer)


class HostDiskReferenceRow(Base):
    """What a host should hold for the direct LUN disks of the VMs up on it (``engine:disk:...``)."""

    __tablename__ = "host_disk_references"

    host_id: Mapped[str] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True
    )
    ref_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    disk_id: Mapped[str] = mapped_column(ForeignKey("lun_disks.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("storage_connections.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)


# Listing order everywhere: creation time, then id for rows created in the same microsecond.
Index("ix_storage_connections_created", ConnectionRow.created_at, ConnectionRow.id)


class SsoTokenRow(Base):
    """A bearer token from the SSO endpoint, by its SHA-256: any engine process on the database accepts it.

    The token itself is never stored (a copy of the database logs no one
    in). ``expires_at`` is wall-clock seconds since the epoch, so that every
    engine process reads it the same way; it moves ``idle_timeout`` seconds
    ahead as the token is used. The user's role is read through the join on
    every use, and a removed user's tokens go with it.
    """

    __tablename__ = "sso_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    idle_timeout: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
