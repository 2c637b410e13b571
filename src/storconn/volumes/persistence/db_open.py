"""Opening the ``db`` plugin's database: which URL, which engine settings, the migrations.

SQLite (the default), and why:
- WAL lets readers run while one writer writes; ``synchronous=FULL`` so a
  step that returned is on disk (``cleanup()`` after a crash reads it); a
  busy timeout so writers queue instead of failing; foreign keys on.
- Writes begin with ``BEGIN IMMEDIATE``: a deferred transaction that reads
  a version and then writes would fail with SQLITE_BUSY if another process
  wrote in between, instead of waiting its turn.
- The file is created 0600 (its directory 0700 when new): it holds driver
  state and encrypted secrets.
- ``sqlite://`` (``memory_db``) is one connection shared by every thread
  (``StaticPool``); ``Database.transaction`` serializes its users.

PostgreSQL: ``postgresql://`` means ``postgresql+psycopg://`` (psycopg 3);
READ COMMITTED, which is enough since every update is guarded by its
``version`` in the ``WHERE`` clause.

Migrations run on every open (``upgrade``): on PostgreSQL under an advisory
lock so that several controllers starting at once migrate once; on SQLite
inside one ``BEGIN IMMEDIATE`` transaction, which serializes them the same
way. A database already at head costs one small query.

Nothing here puts a URL's password in a message: URLs are shown with
``hide_password=True``, and a URL that does not parse is not shown at all.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from storconn.connection import InvalidParameter
from storconn.sqlite_engine import WRITE_FLAG, sqlite_engine

from ..errors import VolumeError
from .db_schema import VERSION_TABLE
from .locks import lock_key

__all__ = ["Database", "MIGRATIONS", "head_revision", "parse_url", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
_URL_FIELD = "persistence_config.connection"


def parse_url(url: object) -> URL:
    """The SQLAlchemy URL for ``url``: SQLite or PostgreSQL (through psycopg 3) only."""
    if isinstance(url, URL):
        parsed = url
    elif isinstance(url, str) and url:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            raise InvalidParameter(_URL_FIELD, "is not a database URL") from None
    else:
        raise InvalidParameter(_URL_FIELD, "must be a database URL (sqlite:// or postgresql://)")
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise InvalidParameter(
        _URL_FIELD, "must be a sqlite:// or postgresql:// URL (the databases storconn supports)"
    )


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for in-memory, PostgreSQL and ``file:`` URIs."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database).absolute()


class Database:
    """An engine plus the rules above; ``transaction()`` is the one way in."""

    def __init__(self, url: URL) -> None:
        self.dialect = url.get_backend_name()
        self.file = sqlite_file(url)
        if self.file is not None:
            # Absolute, so a later chdir cannot point new connections at another file.
            url = url.set(database=str(self.file))
        self.url = url
        self.in_memory = self.dialect == "sqlite" and self.file is None
        self.engine = _make_engine(url, self.file, in_memory=self.in_memory)
        # One shared connection cannot run two transactions at once.
        self._serial: threading.RLock | None = threading.RLock() if self.in_memory else None
        if not self.in_memory:
            _forget_pool_in_children(self.engine)

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """A connection in one transaction: committed when the block ends, rolled back if it raises."""
        serial: AbstractContextManager[Any] = self._serial if self._serial else nullcontext()
        with serial, self.engine.connect() as connection:
            if self.dialect == "sqlite":
                connection.info[WRITE_FLAG] = write
            with connection.begin():
                yield connection

    def close(self) -> None:
        self.engine.dispose()


def _forget_pool_in_children(engine: Engine) -> None:
    """A forked child starts with an empty pool instead of sharing its parent's connections.

    Two processes talking over one socket or SQLite handle corrupt each
    other's transactions; ``dispose(close=False)`` drops the inherited ones
    without closing them under the parent. (``memory_db`` keeps its one
    connection: its data lives nowhere else.) A weak reference, since a
    fork hook cannot be unregistered and must not keep a closed engine alive.
    """
    ref = weakref.ref(engine)

    def after_fork_in_child() -> None:
        inherited = ref()
        if inherited is not None:
            inherited.dispose(close=False)

    os.register_at_fork(after_in_child=after_fork_in_child)


def _make_engine(url: URL, file: Path | None, *, in_memory: bool) -> Engine:
    if url.get_backend_name() != "sqlite":
        # Threads that hold a lock() keep a connection of their own (locks.py);
        # the pool grows for them rather than making the others wait.
        return create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=-1, hide_parameters=True
        )
    return sqlite_engine(url, file=file, in_memory=in_memory, hide_parameters=True)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the volumes migrations have no head revision"
    return head


def upgrade(database: Database) -> None:
    """Bring the database to the newest revision (see the module docstring)."""
    if _at_head(database):
        return
    postgres = database.dialect == "postgresql"
    key = lock_key("alembic upgrade")
    with database.engine.connect() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
        try:
            config = _alembic_config()
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError:
                # The only way here with our own scripts: the database names a
                # revision they do not have, written by a newer storconn.
                raise VolumeError(
                    f"the volumes database {database.describe()} has a schema revision this "
                    f"storconn does not know (its newest is {head_revision()}): "
                    "it was written by a newer version"
                ) from None
            connection.commit()
        finally:
            if postgres:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def _at_head(database: Database) -> bool:
    """One query instead of Alembic's machinery when nothing is to be done (the usual open)."""
    with database.transaction(write=False) as connection:
        if not connection.dialect.has_table(connection, VERSION_TABLE):
            return False
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return [row[0] for row in rows] == [head_revision()]
