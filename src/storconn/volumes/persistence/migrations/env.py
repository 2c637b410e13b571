"""Alembic's environment, configured from code: there is no alembic.ini.

``storconn.volumes.persistence.db_open.upgrade`` builds the ``Config`` and
puts an open connection in ``config.attributes["connection"]``; offline
mode (SQL scripts) takes ``sqlalchemy.url`` from the config instead. The
version table is the volumes' own, so the engine's migrations and these
may run on one database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storconn.volumes.persistence.db_schema import VERSION_TABLE, metadata

config = context.config


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storconn.volumes.persistence.db_open.upgrade")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later revisions use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
