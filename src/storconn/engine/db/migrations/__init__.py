"""Alembic migrations of the engine's database; run with ``storconn.engine.db.upgrade(url)``."""
