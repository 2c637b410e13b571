"""The persistence contract: what every plugin (``memory``, ``memory_db``, ``db``) offers.

Method names are cinderlib's, so ``cl.Backend.persistence.get_key_values(node_id)``
and ``set_key_value(kv)`` from its documentation work unchanged.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from ..records import ConnectionRecord, KeyValue, SnapshotRecord, VolumeRecord

__all__ = ["Persistence"]


class Persistence(Protocol):
    """Stores records; every getter returns copies, every setter stores a copy.

    Thread-safe: any thread may call any method. Several processes may share
    a ``db`` plugin's database; ``lock`` and the records' ``version`` keep
    their updates from being lost.

    Every plugin checks a record before storing it (``persistence/checks.py``):
    a bad field raises ``InvalidParameter`` naming it (``volume.extra``,
    ``connection.attach_mode``) and nothing is stored. Ids must pass
    ``check_volume_id``; JSON fields must be JSON (str keys, lists, finite
    numbers); ``created_at`` must be timezone-aware and reads back in UTC.
    A filter that is neither None nor a string is an ``InvalidParameter``.
    A database failure is a ``VolumeError`` that names the database (no
    password) and the kind of failure, never a statement or a value. After
    ``close()`` every method raises ``VolumeError``.
    """

    def get_volumes(
        self,
        volume_id: str | None = None,
        volume_name: str | None = None,
        backend_name: str | None = None,
    ) -> list[VolumeRecord]:
        """Volumes matching every given filter (all when none), oldest first."""

    def get_snapshots(
        self,
        snapshot_id: str | None = None,
        snapshot_name: str | None = None,
        volume_id: str | None = None,
    ) -> list[SnapshotRecord]:
        """Snapshots matching every given filter, oldest first."""

    def get_connections(
        self, connection_id: str | None = None, volume_id: str | None = None
    ) -> list[ConnectionRecord]:
        """Connections matching every given filter, oldest first; secrets decrypted."""

    def get_key_values(self, key: str | None = None) -> list[KeyValue]:
        """The pair for ``key`` (a list of 0 or 1), or every pair when ``key`` is None, by key."""

    def set_volume(self, record: VolumeRecord) -> None:
        """Insert (version 0) or update; raises ConcurrentUpdate if the stored version differs.

        On success ``record.version`` is the stored row's new version (1
        after an insert). ConcurrentUpdate, with nothing changed, also when
        a version-0 record's id exists already and when the row was deleted
        since it was read.
        """

    def set_snapshot(self, record: SnapshotRecord) -> None:
        """As ``set_volume``."""

    def set_connection(self, record: ConnectionRecord) -> None:
        """As ``set_volume``; the conn_info's secrets are encrypted at rest."""

    def set_key_value(self, key_value: KeyValue) -> None:
        """Insert or replace the pair (last writer wins: key-values are a node's own).

        ``key_value.version`` becomes the number of writes of that key. A
        value whose JSON holds a secret-named key is encrypted at rest.
        """

    def delete_volume(self, record: VolumeRecord) -> None:
        """Delete the row; deleting a row that is already gone is not an error."""

    def delete_snapshot(self, record: SnapshotRecord) -> None:
        """As ``delete_volume``."""

    def delete_connection(self, record: ConnectionRecord) -> None:
        """As ``delete_volume``."""

    def delete_key_value(self, key_value: KeyValue) -> None:
        """As ``delete_volume``."""

    def lock(self, name: str) -> AbstractContextManager[None]:
        """An exclusive lock on ``name`` across every process of this persistence.

        Held around decisions that read several rows and then act on the
        storage (export or not, remove an initiator's ACL or not). Writes
        inside it commit as usual, so each step is durable before the next.
        Not reentrant: taking a name the same thread holds waits forever.
        Locks of different names may be nested (always in one order, or two
        holders deadlock). Names are non-empty strings (``InvalidParameter``
        otherwise), hashed to at least 62 bits, so two names sharing a lock
        (which nested, would wait forever) is not a practical concern.
        """

    def close(self) -> None:
        """Release connections and files; the plugin is unusable afterwards."""


