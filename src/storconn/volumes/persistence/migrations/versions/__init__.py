"""One module per revision; alembic skips this file."""
