"""Alembic migrations of the volumes database; ``DbPersistence`` runs them on open (``db_open.upgrade``)."""
