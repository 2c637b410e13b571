"""Running the Alembic migrations from code (no alembic.ini): ``upgrade(url)`` on every engine start.

Several engine processes may start at once on one PostgreSQL: the upgrade
runs under a session advisory lock, so one migrates while the others wait
and then find nothing to do. SQLite serializes writers itself.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from .database import make_engine

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade",
    "upgrade_engine",
]

MIGRATIONS = Path(__file__).with_name("migrations")

# The advisory lock key serializing upgrades: any fixed 64-bit number unlikely to be used elsewhere.
_UPGRADE_LOCK = 0x53544F52434F4E4E  # "STORCONN"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # "%" is ConfigParser's interpolation character; a password may contain it.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest revision."""
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": _signed(_UPGRADE_LOCK)}
            )
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if postgres:
                connection.rollback()
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _signed(_UPGRADE_LOCK)}
                )
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value
