"""``MemoryPersistence``: records in dicts, for one process and for tests.

Behaves as the ``db`` plugin does (same checks, same versions, same order,
same errors), so code tested on it behaves the same on a database; only
nothing survives the process, and ``lock`` excludes this process's threads
only (there is no other process that could share the data).

Thread-safety: one lock guards the four dicts; records go in and out as
deep copies, so no caller ever holds an object another thread can change.
"""

from __future__ import annotations

import threading
from datetime import UTC
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import ConcurrentUpdate, VolumeError
from ..records import ConnectionRecord, KeyValue, SnapshotRecord, VolumeRecord
from .checks import (
    check_connection,
    check_deletable,
    check_filter,
    check_key_value,
    check_snapshot,
    check_volume,
)
from .locks import ThreadLocks

__all__ = ["MemoryPersistence"]

_Versioned = TypeVar("_Versioned", VolumeRecord, SnapshotRecord, ConnectionRecord)


def _oldest_first(record: VolumeRecord | SnapshotRecord | ConnectionRecord) -> tuple[Any, str]:
    return (record.created_at, record.id)


class MemoryPersistence:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._volumes: dict[str, VolumeRecord] = {}
        self._snapshots: dict[str, SnapshotRecord] = {}
        self._connections: dict[str, ConnectionRecord] = {}
        self._key_values: dict[str, KeyValue] = {}
        self._locks = ThreadLocks()
        self._closed = False

    def __repr__(self) -> str:
        return "MemoryPersistence()"

    # -- reads ---------------------------------------------------------------

    def get_volumes(
        self,
        volume_id: str | None = None,
        volume_name: str | None = None,
        backend_name: str | None = None,
    ) -> list[VolumeRecord]:
        check_filter(volume_id, "volume_id")
        check_filter(volume_name, "volume_name")
        check_filter(backend_name, "backend_name")
        return self._select(
            self._volumes,
            lambda r: (volume_id is None or r.id == volume_id)
            and (volume_name is None or r.name == volume_name)
            and (backend_name is None or r.backend == backend_name),
        )

    def get_snapshots(
        self,
        snapshot_id: str | None = None,
        snapshot_name: str | None = None,
        volume_id: str | None = None,
    ) -> list[SnapshotRecord]:
        check_filter(snapshot_id, "snapshot_id")
        check_filter(snapshot_name, "snapshot_name")
        check_filter(volume_id, "volume_id")
        return self._select(
            self._snapshots,
            lambda r: (snapshot_id is None or r.id == snapshot_id)
            and (snapshot_name is None or r.name == snapshot_name)
            and (volume_id is None or r.volume_id == volume_id),
        )

    def get_connections(
        self, connection_id: str | None = None, volume_id: str | None = None
    ) -> list[ConnectionRecord]:
        check_filter(connection_id, "connection_id")
        check_filter(volume_id, "volume_id")
        return self._select(
            self._connections,
            lambda r: (connection_id is None or r.id == connection_id)
            and (volume_id is None or r.volume_id == volume_id),
        )

    def get_key_values(self, key: str | None = None) -> list[KeyValue]:
        check_filter(key, "key")
        with self._mutex:
            self._check_open_locked()
            if key is not None:
                found = self._key_values.get(key)
                return [found.copy()] if found is not None else []
            return [self._key_values[k].copy() for k in sorted(self._key_values)]

    def _select(
        self, table: dict[str, _Versioned], wanted: Callable[[_Versioned], bool]
    ) -> list[_Versioned]:
        with self._mutex:
            self._check_open_locked()
            found = [record.copy() for record in table.values() if wanted(record)]
        return sorted(found, key=_oldest_first)

    # -- writes --------------------------------------------------------------

    def set_volume(self, record: VolumeRecord) -> None:
        check_volume(record)
        self._store(self._volumes, record, "volume")

    def set_snapshot(self, record: SnapshotRecord) -> None:
        check_snapshot(record)
        self._store(self._snapshots, record, "snapshot")

    def set_connection(self, record: ConnectionRecord) -> None:
        check_connection(record)
        self._store(self._connections, record, "connection")

    def set_key_value(self, key_value: KeyValue) -> None:
        check_key_value(key_value)
        stored = key_value.copy()
        with self._mutex:
            self._check_open_locked()
            previous = self._key_values.get(key_value.key)
            # Last writer wins: the version only counts writes.
            stored.version = (previous.version if previous is not None else 0) + 1
            self._key_values[key_value.key] = stored
        key_value.version = stored.version

    def _store(self, table: dict[str, _Versioned], record: _Versioned, kind: str) -> None:
        stored = record.copy()
        stored.version = record.version + 1
        stored.created_at = stored.created_at.astimezone(UTC)  # as the db plugin reads it back
        with self._mutex:
            self._check_open_locked()
            current = table.get(record.id)
            if record.version == 0:
                if current is not None:
                    raise ConcurrentUpdate(f"{kind} {record.id} already exists")
            elif current is None:
                raise ConcurrentUpdate(f"{kind} {record.id} was deleted by another writer")
            elif current.version != record.version:
                raise ConcurrentUpdate(
                    f"{kind} {record.id} was changed by another writer "
                    f"(version {current.version}, not {record.version}); read it again"
                )
            table[record.id] = stored
        record.version = stored.version

    def delete_volume(self, record: VolumeRecord) -> None:
        self._delete(self._volumes, check_deletable(record, VolumeRecord, "volume"))

    def delete_snapshot(self, record: SnapshotRecord) -> None:
        self._delete(self._snapshots, check_deletable(record, SnapshotRecord, "snapshot"))

    def delete_connection(self, record: ConnectionRecord) -> None:
        self._delete(self._connections, check_deletable(record, ConnectionRecord, "connection"))

    def delete_key_value(self, key_value: KeyValue) -> None:
        self._delete(self._key_values, check_deletable(key_value, KeyValue, "key_value"))

    def _delete(self, table: dict[str, Any], key: str) -> None:
        with self._mutex:
            self._check_open_locked()
            table.pop(key, None)

    # -- the rest ------------------------------------------------------------

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        self._check_open()
        with self._locks.hold(name):
            yield

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            for table in (self._volumes, self._snapshots, self._connections, self._key_values):
                table.clear()

    def _check_open(self) -> None:
        with self._mutex:
            self._check_open_locked()

    def _check_open_locked(self) -> None:
        if self._closed:
            raise VolumeError("this persistence was closed")
