"""Alembic's environment, configured from code: there is no alembic.ini.

``storconn.engine.db.migrate`` builds the ``Config`` and puts an open
connection in ``config.attributes["connection"]``; offline mode (SQL
scripts) takes ``sqlalchemy.url`` from the config instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storconn.engine.db.schema import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later revisions use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storconn.engine.db.upgrade(url)")
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
