"""What the engine's integration tests share: a real Engine served on loopback, its users, PostgreSQL.

``open_engine``, ``ADMIN`` and ``VIEWER`` are imported by the test modules
(``from .conftest import ...``); the fixtures reach them by name. Two ways
to the API: ``base``/``url``, a server of the test's own (for the SDK and
Ansible), and ``api``, one uvicorn a module with a fresh engine a test
behind it, in XML and in JSON (``fmt``), spoken by ``rest.Api``.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storconn.engine import secrets
from storconn.engine.api import create_app
from storconn.engine.errors import Unauthorized
from storconn.engine.model import Role
from storconn.engine.service import Engine
from tests.unit.engine_api.server import serve

from .rest import MEDIA, Api, Clients, CurrentEngine

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


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The users these tests add are hashed at a cost a test can afford; the cost is stored in the hash.
    monkeypatch.setattr(secrets, "SCRYPT_N", 2**10)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[CurrentEngine, str]]:
    current = CurrentEngine()
    with serve(create_app(current)) as url:
        yield current, url


@pytest.fixture
def engine(tmp_path: Path, server: tuple[CurrentEngine, str]) -> Iterator[Engine]:
    real = open_engine(tmp_path)
    server[0].engine = real
    yield real
    server[0].engine = None
    real.close()


@pytest.fixture
def root(engine: Engine, server: tuple[CurrentEngine, str]) -> str:
    return server[1]


@pytest.fixture(params=["xml", "json"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def clients() -> Iterator[Clients]:
    """``clients(root, fmt, user)``: one HTTP client per server, format and user for the whole module."""
    made: dict[tuple[str, str, tuple[str, str] | None], httpx.Client] = {}

    def get(root: str, fmt: str, user: tuple[str, str] | None) -> Api:
        if (root, fmt, user) not in made:
            made[root, fmt, user] = httpx.Client(
                base_url=f"{root}/ovirt-engine/api",
                auth=user,
                timeout=30.0,
                headers={"Accept": MEDIA[fmt]},
            )
        return Api(made[root, fmt, user], fmt)

    yield get
    for client in made.values():
        client.close()


@pytest.fixture
def api(root: str, fmt: str, clients: Clients) -> Api:
    return clients(root, fmt, ADMIN)
