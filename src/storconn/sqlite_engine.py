"""SQLite as storconn's databases open it: one recipe for the engine's inventory and the
volumes library's records (the agent's store speaks sqlite3 directly, for its group commit).

- WAL lets readers run while one writer writes; ``synchronous=FULL`` so a
  transaction that returned is on disk; foreign keys on; a busy timeout so
  that writers queue instead of failing.
- A write transaction begins with ``BEGIN IMMEDIATE`` (it takes the write
  lock up front, so what it read is what it changes); a transaction whose
  connection has ``info[WRITE_FLAG] = False`` begins with a plain ``BEGIN``.
- The database file is created 0600 before SQLite opens it (its directory
  0700 when new; an existing, wider one is narrowed), since both databases
  hold secrets; SQLite gives its ``-wal`` and ``-shm`` the file's mode.
- ``in_memory``: one connection shared by every thread (``StaticPool``);
  the caller serializes its transactions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

__all__ = ["BUSY_TIMEOUT_MS", "WRITE_FLAG", "make_private", "sqlite_engine"]

BUSY_TIMEOUT_MS = 10_000
WRITE_FLAG = "storconn_write"


def sqlite_engine(url: str | URL, *, file: Path | None, in_memory: bool, **options: Any) -> Engine:
    """A SQLite engine set up as the module docstring says; ``options`` go to ``create_engine``."""
    options.setdefault("connect_args", {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
    if in_memory:
        options["poolclass"] = StaticPool
    elif file is not None:
        make_private(file)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.info.pop(WRITE_FLAG, True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def make_private(path: Path) -> None:
    """Create the SQLite file 0600 (its directory 0700 when new); narrow an existing one and its -wal, -shm."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_CREAT with mode 0600 is exact whatever the umask; never follow a
    # symlink planted where the database will be.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            os.chmod(f"{path}{suffix}", 0o600, follow_symlinks=False)
        except FileNotFoundError:
            pass
