"""What the engine's integration tests share: a real Engine served on loopback, its users, PostgreSQL.

``open_engine``, ``ADMIN`` and ``VIEWER`` are imported by the test modules
(``from .conftest import ...``); the fixtures reach them by name.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.engine.api import create_app
from storconn.engine.errors import Unauthorized
from storconn.engine.model import Role
from storconn.engine.service import Engine
from tests.unit.engine_api.server import serve

ADMIN = ("admin@internal", "admin-Pa55word")
VIEWER = ("viewer@internal", "viewer-Pa55word")


def open_engine(tmp_path: Path) -> Engine:
    """A real Engine on SQLite in ``tmp_path`` with an admin and a viewer.

    The database starts as a copy of one made (migrated, with both users) once
    per test run: migrating a fresh database and hashing two passwords costs
    ~0.3 s, and the engine's tests open ~1,500 engines. Opening the copy runs
    the engine's real start (migration check, admin check, its start event).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    template = _template()
    for name in ("engine.db", "key"):
        shutil.copy2(template / name, tmp_path / name)
    return Engine(f"sqlite:///{tmp_path / 'engine.db'}", key_file=tmp_path / "key", admin_password=ADMIN[1])


_TEMPLATE: list[Path] = []


def _template() -> Path:
    if not _TEMPLATE:
        where = Path(tempfile.mkdtemp(prefix="storconn-engine-template-"))
        atexit.register(shutil.rmtree, where, ignore_errors=True)
        made = Engine(f"sqlite:///{where / 'engine.db'}", key_file=where / "key", admin_password=ADMIN[1],
                      sync_on_start=False)
        try:
            try:
                made.authenticate(*ADMIN)
            except Unauthorized:  # an engine that does not create its admin itself
                made.add_user(*ADMIN, Role.ADMIN)
            made.add_user(*VIEWER, Role.VIEWER)
        finally:
            made.close()  # the last connection checkpoints the WAL into engine.db
        # As a fresh database has it: no event yet (the copy's own start records the first).
        with contextlib.closing(sqlite3.connect(where / "engine.db")) as db, db:
            db.execute("DELETE FROM events")
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        _TEMPLATE.append(where)
    return _TEMPLATE[0]


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT``: uvicorn serving the API over ``open_engine``, closed after the test."""
    # A directory of its own: tests that start agents keep their state in tmp_path too.
    engine = open_engine(tmp_path / "engine")
    try:
        with serve(create_app(engine)) as root:
            yield root
    finally:
        engine.close()


@pytest.fixture
def url(base: str) -> str:
    """The API's root on ``base``, as the SDK wants it."""
    return f"{base}/ovirt-engine/api"


