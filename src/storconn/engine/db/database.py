"""Opening the database: SQLite (WAL) by default, PostgreSQL by URL, one transaction per command.

SQLite details, and why:
- WAL lets readers run while one writer writes; ``synchronous=FULL`` so a
  command that answered is on disk (the inventory is the engine's truth);
  ``foreign_keys=ON`` since SQLite leaves them off; a busy timeout so that
  writers queue instead of failing.
- Write transactions start with ``BEGIN IMMEDIATE``: they take the write
  lock up front, so the rules read the state they are about to change. A
  deferred transaction would read, then fail with SQLITE_BUSY on its first
  write if another writer got in between.
- An in-memory database (``sqlite://``) is one shared connection; its
  transactions are serialized by a lock here.
- The database file holds password hashes and encrypted secrets: it is
  created 0600 before SQLite opens it (and an older, wider one is narrowed),
  and SQLite gives its ``-wal`` and ``-shm`` files the database file's mode.

PostgreSQL: ``postgresql://`` means ``postgresql+psycopg://`` (psycopg 3 is
the driver installed); transactions are READ COMMITTED, and the engine's
locks (``locks.py``) plus the unique index keep commands apart.

Thread-safety: ``Database`` is shared by every thread; each ``transaction()``
uses its own pooled connection and session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from storconn.sqlite_engine import WRITE_FLAG, sqlite_engine

__all__ = ["Database", "make_engine", "normalize_url"]



def normalize_url(url: str) -> str:
    """``postgresql://`` gets the psycopg 3 driver; anything else is returned as is."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    return url


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine with the SQLite pragmas and BEGIN handling described above."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    memory = parsed.database in (None, "", ":memory:")
    file = Path(parsed.database) if parsed.database and not memory and not parsed.database.startswith("file:") else None
    return sqlite_engine(url, file=file, in_memory=memory)


class Database:
    """The engine's connection to its database."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        memory = self.dialect == "sqlite" and make_url(self.url).database in (None, "", ":memory:")
        # One shared connection cannot run two transactions at once.
        self._serial: threading.RLock | None = threading.RLock() if memory else None

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises."""
        with self._serial if self._serial is not None else nullcontext():
            with self.engine.connect() as connection:
                if self.dialect == "sqlite":
                    connection.info[WRITE_FLAG] = write
                with connection.begin():
                    session = Session(bind=connection, expire_on_commit=False, autoflush=True)
                    try:
                        yield session
                        session.flush()
                    finally:
                        session.close()

    def close(self) -> None:
        self.engine.dispose()
