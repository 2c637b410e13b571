"""The ``db`` plugin's tables (SQLAlchemy Core), one per record type plus a key check.

The migrations (``migrations/versions/``) create these tables by hand, so
an old revision never changes when a table here does; a unit test compares
the two. Alembic's bookkeeping lives in ``volumes_alembic_version``, not
the default ``alembic_version``, so the volumes tables may share a database
(and a PostgreSQL schema) with the engine's.

Secrets are never stored in clear (see ``storconn.volumes.secrets``):
``provider_auth`` and ``conn_info`` hold Fernet tokens; ``extra``,
``connector_info`` and ``device`` hold JSON whose secret-named values are
sealed; a key-value whose JSON holds a secret is stored as a token
(``sealed``). ``volumes_meta.key_check`` is a token of a known text: a
process opening the database with another key fails at once, clearly,
instead of on the first connection it reads.

No foreign keys: the library decides the order in which a volume, its
snapshots and its connections go (a crash may leave any of them behind,
and ``cleanup()`` must be able to read and delete each on its own).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "META_KEY_CHECK",
    "VERSION_TABLE",
    "connections",
    "key_values",
    "meta",
    "metadata",
    "snapshots",
    "volumes",
]

VERSION_TABLE = "volumes_alembic_version"
META_KEY_CHECK = "key_check"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = String(64)  # storconn.connection.volume_shapes.VOLUME_ID_PATTERN
NAME = String(255)
STATUS = String(32)

volumes = Table(
    "volumes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("backend", NAME, nullable=False, index=True),
    Column("name", NAME, nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", STATUS, nullable=False),
    Column("multiattach", Boolean, nullable=False),
    Column("format", String(16), nullable=False),
    Column("source_volid", ID, nullable=True),
    Column("snapshot_id", ID, nullable=True),
    Column("provider_location", Text, nullable=True),
    Column("provider_auth", Text, nullable=True),  # a Fernet token
    Column("extra", JSON, nullable=False),  # sealed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", ID, primary_key=True),
    Column("backend", NAME, nullable=False),
    Column("volume_id", ID, nullable=False, index=True),
    Column("volume_size", BigInteger, nullable=False),
    Column("name", NAME, nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("status", STATUS, nullable=False),
    Column("provider_location", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)

connections = Table(
    "connections",
    metadata,
    Column("id", ID, primary_key=True),
    Column("backend", NAME, nullable=False),
    Column("volume_id", ID, nullable=False, index=True),
    Column("connector_info", JSON, nullable=False),  # sealed
    Column("status", STATUS, nullable=False),
    Column("conn_info", Text, nullable=False),  # a Fernet token of the whole JSON
    Column("device", JSON(none_as_null=True), nullable=True),  # sealed
    Column("attached_host", NAME, nullable=True),
    Column("attach_mode", String(2), nullable=False),
    Column("local_attach", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)

key_values = Table(
    "key_values",
    metadata,
    Column("key", NAME, primary_key=True),
    Column("value", Text, nullable=True),
    Column("sealed", Boolean, nullable=False),  # value is a Fernet token
    Column("version", BigInteger, nullable=False),
)

meta = Table(
    "volumes_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
