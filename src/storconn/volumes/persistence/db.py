"""``DbPersistence``: the records in SQLite or PostgreSQL, shared by every controller process.

Concurrency: every update is ``UPDATE ... SET version = v + 1 WHERE id = ?
AND version = v``; no row changed means another writer got there first
(``ConcurrentUpdate``: read again, retry). An insert is ``INSERT ... ON
CONFLICT DO NOTHING``: a record of version 0 whose id exists is a
``ConcurrentUpdate`` too. Key-values are upserts, last writer wins. Each
call is one transaction, committed before it returns, so inside ``lock()``
every step is durable before the next (``locks.py`` explains the locks).

Secrets: see ``storconn.volumes.secrets`` and ``db_schema``. The box is
checked against the database on open, so a wrong key file fails there,
naming the file, and never half-way through a listing.

Errors: SQLAlchemy's and the drivers' exceptions become ``VolumeError``
here. Messages name the database (password hidden) and the kind of failure,
never a statement or a value; the engine is created with
``hide_parameters=True`` so the chained exception carries no values either.

Thread-safety: any thread may call any method; each call takes a pooled
connection of its own (``memory_db``: the one connection, in turn).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ..errors import ConcurrentUpdate, VolumeError
from ..records import ConnectionRecord, KeyValue, SnapshotRecord, VolumeRecord
from ..secrets import SecretBox, has_secret, key_file_for
from .checks import (
    check_connection,
    check_deletable,
    check_filter,
    check_key_value,
    check_snapshot,
    check_volume,
)
from .db_open import Database, parse_url, upgrade
from .db_schema import META_KEY_CHECK, connections, key_values, meta, snapshots, volumes
from .locks import AdvisoryLocks, FileLocks, ThreadLocks

__all__ = ["DbPersistence"]

_KEY_CHECK_TEXT = "storconn.volumes key check"


class DbPersistence:
    """The ``db`` plugin; ``DbPersistence("sqlite://")`` is ``memory_db``."""

    def __init__(self, connection_url: str, *, key_file: str | Path | None = None) -> None:
        url = parse_url(connection_url)
        self._closed = False
        self._closing = threading.Lock()
        try:
            self._db = Database(url)
        except OSError as exc:
            raise VolumeError(f"cannot create the volumes database file: {exc.strerror}") from exc
        except SQLAlchemyError as exc:
            raise VolumeError(f"cannot open the volumes database: {_reason(exc)}") from exc
        try:
            with self._guard("migrate"):
                upgrade(self._db)
            if key_file is not None:
                self._box = SecretBox(key_file)
            elif self._db.in_memory:
                self._box = SecretBox.ephemeral()
            else:
                self._box = SecretBox(key_file_for(self._db.file))
            self._check_key()
            self._locks: AdvisoryLocks | FileLocks | ThreadLocks
            if self._db.dialect == "postgresql":
                self._locks = AdvisoryLocks(self._db.engine)
            elif self._db.file is not None:
                self._locks = FileLocks(self._db.file.with_name(self._db.file.name + ".locks"))
            else:
                self._locks = ThreadLocks()
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"DbPersistence({self._db.describe()!r})"

    @property
    def key_file(self) -> Path | None:
        """The key file in use; None for an in-memory database's in-process key."""
        return self._box.key_file

    # -- reads ---------------------------------------------------------------

    def get_volumes(
        self,
        volume_id: str | None = None,
        volume_name: str | None = None,
        backend_name: str | None = None,
    ) -> list[VolumeRecord]:
        query = select(volumes)
        for column, value, field in (
            (volumes.c.id, volume_id, "volume_id"),
            (volumes.c.name, volume_name, "volume_name"),
            (volumes.c.backend, backend_name, "backend_name"),
        ):
            if check_filter(value, field) is not None:
                query = query.where(column == value)
        rows = self._read(query.order_by(volumes.c.created_at, volumes.c.id), "list volumes")
        return [self._volume(row) for row in rows]

    def get_snapshots(
        self,
        snapshot_id: str | None = None,
        snapshot_name: str | None = None,
        volume_id: str | None = None,
    ) -> list[SnapshotRecord]:
        query = select(snapshots)
        for column, value, field in (
            (snapshots.c.id, snapshot_id, "snapshot_id"),
            (snapshots.c.name, snapshot_name, "snapshot_name"),
            (snapshots.c.volume_id, volume_id, "volume_id"),
        ):
            if check_filter(value, field) is not None:
                query = query.where(column == value)
        rows = self._read(query.order_by(snapshots.c.created_at, snapshots.c.id), "list snapshots")
        return [_snapshot(row) for row in rows]

    def get_connections(
        self, connection_id: str | None = None, volume_id: str | None = None
    ) -> list[ConnectionRecord]:
        query = select(connections)
        for column, value, field in (
            (connections.c.id, connection_id, "connection_id"),
            (connections.c.volume_id, volume_id, "volume_id"),
        ):
            if check_filter(value, field) is not None:
                query = query.where(column == value)
        rows = self._read(
            query.order_by(connections.c.created_at, connections.c.id), "list connections"
        )
        return [self._connection(row) for row in rows]

    def get_key_values(self, key: str | None = None) -> list[KeyValue]:
        query = select(key_values)
        if check_filter(key, "key") is not None:
            query = query.where(key_values.c.key == key)
        rows = self._read(query.order_by(key_values.c.key), "list key-values")
        return [self._key_value(row) for row in rows]

    def _read(self, query: Any, action: str) -> list[Row[Any]]:
        self._check_open()
        with self._guard(action), self._db.transaction(write=False) as connection:
            return list(connection.execute(query).all())

    # -- writes --------------------------------------------------------------

    def set_volume(self, record: VolumeRecord) -> None:
        check_volume(record)
        values = {
            "backend": record.backend,
            "name": record.name,
            "description": record.description,
            "size": record.size,
            "status": record.status,
            "multiattach": record.multiattach,
            "format": record.format,
            "source_volid": record.source_volid,
            "snapshot_id": record.snapshot_id,
            "provider_location": record.provider_location,
            "provider_auth": None
            if record.provider_auth is None
            else self._box.encrypt(record.provider_auth),
            "extra": self._box.seal(record.extra),
            "created_at": _to_utc(record.created_at),
        }
        self._store(volumes, record, values, "volume")

    def set_snapshot(self, record: SnapshotRecord) -> None:
        check_snapshot(record)
        values = {
            "backend": record.backend,
            "volume_id": record.volume_id,
            "volume_size": record.volume_size,
            "name": record.name,
            "description": record.description,
            "status": record.status,
            "provider_location": record.provider_location,
            "created_at": _to_utc(record.created_at),
        }
        self._store(snapshots, record, values, "snapshot")

    def set_connection(self, record: ConnectionRecord) -> None:
        check_connection(record)
        values = {
            "backend": record.backend,
            "volume_id": record.volume_id,
            "connector_info": self._box.seal(record.connector_info),
            "status": record.status,
            "conn_info": self._box.encrypt_json(record.conn_info),
            "device": None if record.device is None else self._box.seal(record.device),
            "attached_host": record.attached_host,
            "attach_mode": record.attach_mode,
            "local_attach": record.local_attach,
            "created_at": _to_utc(record.created_at),
        }
        self._store(connections, record, values, "connection")

    def set_key_value(self, key_value: KeyValue) -> None:
        check_key_value(key_value)
        sealed = _holds_secret(key_value.value)
        value = (
            self._box.encrypt(key_value.value) if sealed and key_value.value else key_value.value
        )
        self._check_open()
        with self._guard("store a key-value"), self._db.transaction(write=True) as connection:
            statement = (
                _dialect_insert(self._db.dialect, key_values)
                .values(key=key_value.key, value=value, sealed=sealed, version=1)
                .on_conflict_do_update(
                    index_elements=[key_values.c.key],
                    set_={"value": value, "sealed": sealed, "version": key_values.c.version + 1},
                )
                .returning(key_values.c.version)
            )
            version: int = connection.execute(statement).scalar_one()
        key_value.version = version

    def _store(
        self,
        table: Table,
        record: VolumeRecord | SnapshotRecord | ConnectionRecord,
        values: dict[str, Any],
        kind: str,
    ) -> None:
        self._check_open()
        new_version = record.version + 1
        insert_new, update_if_version = _store_statements(self._db.dialect, table.name)
        with (
            self._guard(f"store {kind} {record.id}"),
            self._db.transaction(write=True) as connection,
        ):
            if record.version == 0:
                inserted = connection.execute(
                    insert_new, {"id": record.id, "version": new_version, **values}
                ).first()
                if inserted is None:
                    raise ConcurrentUpdate(f"{kind} {record.id} already exists")
            else:
                result = connection.execute(
                    update_if_version,
                    {
                        "b_id": record.id,
                        "b_version": record.version,
                        "version": new_version,
                        **values,
                    },
                )
                if result.rowcount != 1:
                    stored = connection.execute(
                        select(table.c.version).where(table.c.id == record.id)
                    ).scalar_one_or_none()
                    if stored is None:
                        raise ConcurrentUpdate(f"{kind} {record.id} was deleted by another writer")
                    raise ConcurrentUpdate(
                        f"{kind} {record.id} was changed by another writer "
                        f"(version {stored}, not {record.version}); read it again"
                    )
        record.version = new_version

    def delete_volume(self, record: VolumeRecord) -> None:
        self._delete(volumes, volumes.c.id, check_deletable(record, VolumeRecord, "volume"))

    def delete_snapshot(self, record: SnapshotRecord) -> None:
        self._delete(snapshots, snapshots.c.id, check_deletable(record, SnapshotRecord, "snapshot"))

    def delete_connection(self, record: ConnectionRecord) -> None:
        key = check_deletable(record, ConnectionRecord, "connection")
        self._delete(connections, connections.c.id, key)

    def delete_key_value(self, key_value: KeyValue) -> None:
        key = check_deletable(key_value, KeyValue, "key_value")
        self._delete(key_values, key_values.c.key, key)

    def _delete(self, table: Table, column: Any, key: str) -> None:
        self._check_open()
        with (
            self._guard(f"delete from {table.name}"),
            self._db.transaction(write=True) as connection,
        ):
            connection.execute(delete(table).where(column == key))

    # -- the rest ------------------------------------------------------------

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        self._check_open()
        with self._locks.hold(name):
            yield

    def close(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
        self._db.close()

    def _check_open(self) -> None:
        if self._closed:
            raise VolumeError("this persistence was closed")

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise VolumeError(
                f"the volumes database {self._db.describe()} failed to {action}: {_reason(exc)}"
            ) from exc

    def _check_key(self) -> None:
        """Store a token of a known text on first open; afterwards it must decrypt."""
        with self._guard("check the key"):
            try:
                token = self._key_check_token()
            except IntegrityError:
                # Another controller opening the new database stored its token
                # first (PostgreSQL's READ COMMITTED lets both see none): use theirs.
                token = self._key_check_token()
        self._box.decrypt(token, what="the database's key check")

    def _key_check_token(self) -> str:
        with self._db.transaction(write=True) as connection:
            token = connection.execute(
                select(meta.c.value).where(meta.c.name == META_KEY_CHECK)
            ).scalar_one_or_none()
            if token is None:
                token = self._box.encrypt(_KEY_CHECK_TEXT)
                connection.execute(insert(meta).values(name=META_KEY_CHECK, value=token))
        return str(token)

    # -- rows to records -----------------------------------------------------

    def _volume(self, row: Row[Any]) -> VolumeRecord:
        what = f"volume {row.id}"
        return VolumeRecord(
            id=row.id,
            backend=row.backend,
            name=row.name,
            description=row.description,
            size=row.size,
            status=row.status,
            multiattach=row.multiattach,
            format=row.format,
            source_volid=row.source_volid,
            snapshot_id=row.snapshot_id,
            provider_location=row.provider_location,
            provider_auth=None
            if row.provider_auth is None
            else self._box.decrypt(row.provider_auth, what=f"the provider_auth of {what}"),
            extra=self._box.unseal(row.extra, what=f"a secret in the extra of {what}"),
            created_at=_from_db(row.created_at),
            version=row.version,
        )

    def _connection(self, row: Row[Any]) -> ConnectionRecord:
        what = f"connection {row.id}"
        return ConnectionRecord(
            id=row.id,
            backend=row.backend,
            volume_id=row.volume_id,
            connector_info=self._box.unseal(row.connector_info, what=f"a secret of {what}"),
            status=row.status,
            conn_info=self._box.decrypt_json(row.conn_info, what=f"the conn_info of {what}"),
            device=None if row.device is None else self._box.unseal(row.device, what=what),
            attached_host=row.attached_host,
            attach_mode=row.attach_mode,
            local_attach=row.local_attach,
            created_at=_from_db(row.created_at),
            version=row.version,
        )

    def _key_value(self, row: Row[Any]) -> KeyValue:
        value = row.value
        if row.sealed and value is not None:
            value = self._box.decrypt(value, what=f"the value of key {row.key!r}")
        return KeyValue(key=row.key, value=value, version=row.version)


_TABLES = {table.name: table for table in (volumes, snapshots, connections)}


def _dialect_insert(dialect: str, table: Table) -> Any:
    # ON CONFLICT is dialect-specific in SQLAlchemy; both of ours have it.
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


@lru_cache(maxsize=8)
def _store_statements(dialect: str, table_name: str) -> tuple[Any, Any]:
    """The insert-if-absent and the update-if-version of a table, built once.

    Values come as execution parameters (a statement's ``values()`` would
    cost more than the write itself on in-memory SQLite).
    """
    table = _TABLES[table_name]
    insert_new = (
        _dialect_insert(dialect, table)
        .on_conflict_do_nothing(index_elements=[table.c.id])
        .returning(table.c.id)
    )
    update_if_version = update(table).where(
        table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version")
    )
    return insert_new, update_if_version


def _snapshot(row: Row[Any]) -> SnapshotRecord:
    return SnapshotRecord(
        id=row.id,
        backend=row.backend,
        volume_id=row.volume_id,
        volume_size=row.volume_size,
        name=row.name,
        description=row.description,
        status=row.status,
        provider_location=row.provider_location,
        created_at=_from_db(row.created_at),
        version=row.version,
    )


def _holds_secret(value: str | None) -> bool:
    """Whether a key-value's text is JSON with a secret-named key (then it is stored encrypted)."""
    if not value:
        return False
    try:
        return has_secret(json.loads(value))
    except ValueError:
        return False


def _to_utc(moment: datetime) -> datetime:
    # SQLite keeps no offset: store every moment in UTC, so reading it back as UTC is right.
    return moment.astimezone(UTC)


def _from_db(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _reason(exc: SQLAlchemyError) -> str:
    """What went wrong, without the statement or any value in it."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        orig = exc.orig
        if isinstance(orig, sqlite3.Error):
            # SQLite's own messages ("database is locked", "disk I/O error") hold no values.
            return f"{type(orig).__name__}: {orig}"
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate:
            return f"{type(orig).__name__} (SQLSTATE {sqlstate})"
        # Without a SQLSTATE the server was not reached: psycopg says why (host, port, refused).
        first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
        return f"{type(orig).__name__}: {first_line}" if first_line else type(orig).__name__
    return type(exc).__name__
