"""The engine's persistence: tables, migrations, the repository and the command locks.

SQLite (WAL) by default, PostgreSQL by URL (``postgresql+psycopg://...``).
``upgrade(url)`` brings a database to the newest revision; the engine runs
it on every start.
"""

from __future__ import annotations

from .database import Database, make_engine, normalize_url
from .locks import Locks, advisory_key
from .migrate import current_revision, head_revision, upgrade, upgrade_engine
from .repository import Repository
from .schema import Base
from .unit_of_work import UnitOfWork

__all__ = [
    "Base",
    "Database",
    "Locks",
    "Repository",
    "UnitOfWork",
    "advisory_key",
    "current_revision",
    "head_revision",
    "make_engine",
    "normalize_url",
    "upgrade",
    "upgrade_engine",
]
