"""What the engine's integration tests share: a real Engine served on loopback, its users, PostgreSQL.

``open_engine``, ``ADMIN`` and ``VIEWER`` are imported by the test modules
(``from .conftest import ...``); the fixtures reach them by name.
"""

from __future__ import annotations

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
    """A real Engine on SQLite in ``tmp_path`` with an admin and a viewer."""
    real = Engine(f"sqlite:///{tmp_path / 'engine.db'}", key_file=tmp_path / "key", admin_password=ADMIN[1])
    try:
        real.authenticate(*ADMIN)
    except Unauthorized:  # an engine that does not create its admin itself
        real.add_user(*ADMIN, Role.ADMIN)
    real.add_user(*VIEWER, Role.VIEWER)
    return real


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


