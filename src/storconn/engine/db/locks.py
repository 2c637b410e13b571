"""Command locks: exclusive per key for the length of a command, never waited for.

oVirt's commands take their locks with a try-lock and fail at once with
``ACTION_TYPE_FAILED_OBJECT_LOCKED`` (409) when another command holds one;
the engine does the same, at two levels:

- in this process, a set of held keys under a mutex: threads of one engine
  exclude each other with no round trip to the database (SQLite, and the
  first check on PostgreSQL too);
- on PostgreSQL, also a session advisory lock per key
  (``pg_try_advisory_lock``) on a dedicated connection held for the
  command: engine *processes* sharing one database exclude each other. The
  key is a 64-bit number from SHA-256 of the key text, so two keys collide
  with negligible probability; a collision would only make two unrelated
  commands exclude each other, never let two related ones run together.
  A crashed process's connection closes, and PostgreSQL frees its locks.

All keys of a command are taken together, or none (taking them in sorted
order and failing at the first one held cannot deadlock: nobody waits).

Thread-safety: ``Locks`` is shared by every thread of the engine; ``hold``
may be called from any thread. It is not re-entrant: a command takes all
its keys in one ``hold``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from storconn.engine.errors import EngineError, ObjectLocked
from storconn.engine.rules.locks import describe

__all__ = ["Locks", "advisory_key"]


def advisory_key(key: str) -> int:
    """The signed 64-bit advisory lock number of ``key`` (the same in every process)."""
    return int.from_bytes(
        hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:8], "big", signed=True
    )


class Locks:
    def __init__(self, engine: Engine | None = None) -> None:
        self._mutex = threading.Lock()
        self._held: set[str] = set()
        self._engine = (
            engine if engine is not None and engine.dialect.name == "postgresql" else None
        )

    @property
    def across_processes(self) -> bool:
        """True when the locks also hold against other engine processes (PostgreSQL)."""
        return self._engine is not None

    @contextmanager
    def hold(self, keys: Iterable[str], *, action: str | None = None) -> Iterator[None]:
        """Hold every key in ``keys`` for the block; ``ObjectLocked`` at once if any is taken."""
        wanted = sorted(set(keys))
        self._take_local(wanted, action)
        try:
            connection = self._take_advisory(wanted, action) if self._engine is not None else None
        except BaseException:
            self._release_local(wanted)
            raise
        try:
            yield
        finally:
            try:
                if connection is not None:
                    self._release_advisory(connection, wanted)
            finally:
                self._release_local(wanted)

    def held(self) -> set[str]:
        """The keys this process holds now (a copy), for tests and diagnostics."""
        with self._mutex:
            return set(self._held)

    def _take_local(self, keys: list[str], action: str | None) -> None:
        with self._mutex:
            for key in keys:
                if key in self._held:
                    raise ObjectLocked(describe(key), action=action)
            self._held.update(keys)

    def _release_local(self, keys: list[str]) -> None:
        with self._mutex:
            self._held.difference_update(keys)

    def _take_advisory(self, keys: list[str], action: str | None) -> Connection:
        assert self._engine is not None
        # Autocommit: the lock belongs to the session, and the connection
        # should not sit "idle in transaction" for the whole command.
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise EngineError(
                "DB_UNAVAILABLE", "The database cannot be reached.", action=action
            ) from exc
        taken: list[str] = []
        try:
            for key in keys:
                got: bool = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(key)}
                ).scalar_one()
                if not got:
                    raise ObjectLocked(describe(key), action=action)
                taken.append(key)
        except SQLAlchemyError as exc:
            self._release_advisory(connection, taken)
            raise EngineError(
                "DB_UNAVAILABLE", "The database cannot be reached.", action=action
            ) from exc
        except BaseException:
            self._release_advisory(connection, taken)
            raise
        return connection

    def _release_advisory(self, connection: Connection, keys: list[str]) -> None:
        try:
            for key in keys:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(key)}
                )
        except SQLAlchemyError:
            # The session's locks die with it: make sure it is not reused.
            connection.invalidate()
        finally:
            connection.close()
