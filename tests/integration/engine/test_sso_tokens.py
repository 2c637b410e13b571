"""SSO tokens live in the database: any engine process on it accepts them, and a revocation anywhere holds everywhere.

Real ``storconn engine serve`` processes (``test_processes.EngineProcess``)
on one real PostgreSQL, and on one SQLite file: a token from the SSO
endpoint of one process is accepted by the other (XML and JSON answers,
and the official SDK given the token), revoked through the other's
``sso-logout`` (what ``ovirtsdk4.Connection.close(logout=True)`` posts),
then refused by the first. The token never appears in the database or the
engines' logs.

In process, on a real SQLite database: expiry after the idle timeout
(sliding, with its touch interval), pruning of expired tokens at the next
login, a removed user's tokens gone with them, and the one indexed SELECT a
request costs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from storconn.engine.model import Role, User
from storconn.engine.service import Engine
from storconn.engine.service.sessions import TOUCH_INTERVAL, token_digest
from tests.integration.engine.test_processes import ADMIN, API, EngineProcess
from tests.peers.postgres import PostgresServer

TOKEN_URL = "/ovirt-engine/sso/oauth/token"
LOGOUT_URL = "/ovirt-engine/services/sso-logout"
JSON = {"Accept": "application/json"}
XML = {"Accept": "application/xml"}


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Callable[[str, str | None], EngineProcess]]:
    started: list[EngineProcess] = []

    def start(name: str, database: str | None) -> EngineProcess:
        process = EngineProcess(tmp_path / name, database)
        process.state_dir.mkdir(mode=0o700)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


def login(engine: EngineProcess) -> str:
    """The SDK's password grant against ``engine``'s SSO endpoint."""
    answer = httpx.post(
        engine.base + TOKEN_URL,
        data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1], "scope": "ovirt-app-api"},
        headers=JSON,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def list_connections(engine: EngineProcess, token: str, accept: dict[str, str]) -> httpx.Response:
    return httpx.get(
        f"{engine.base}{API}/storageconnections",
        headers={**accept, "Authorization": f"Bearer {token}"},
        timeout=30,
    )


def revoke(engine: EngineProcess, token: str) -> None:
    """What ``ovirtsdk4.Connection.close(logout=True)`` sends."""
    answer = httpx.post(
        engine.base + LOGOUT_URL, data={"scope": "ovirt-app-api", "token": token}, headers=JSON, timeout=30
    )
    assert answer.status_code == 200 and answer.json() == {}, answer.text


def check_shared_tokens(first: EngineProcess, second: EngineProcess) -> str:
    """Log in on ``first``, use on ``second``, revoke on ``second``, refused on ``first``; the token."""
    token = login(first)
    for accept in (JSON, XML):
        answer = list_connections(second, token, accept)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(accept["Accept"])
    assert list_connections(first, token, JSON).status_code == 200

    revoke(second, token)
    for process in (first, second):
        for accept in (JSON, XML):
            refused = list_connections(process, token, accept)
            assert refused.status_code == 401, refused.text
            assert refused.headers["content-type"].startswith(accept["Accept"])
            assert refused.headers["Storconn-Message-Key"] == "USER_IS_NOT_LOGGED_IN"
            assert token not in refused.text
    return token


def check_sdk(first: EngineProcess, second: EngineProcess) -> str:
    """The SDK logs in on ``first``; a second SDK connection uses its token on ``second`` and logs out there."""
    sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK is not installed")
    on_first = sdk.Connection(url=first.base + API, username=ADMIN[0], password=ADMIN[1], insecure=True)
    try:
        token = on_first.authenticate()
        on_second = sdk.Connection(url=second.base + API, token=token, insecure=True)
        assert on_second.system_service().storage_connections_service().list() == []
        on_second.close(logout=True)
        assert list_connections(first, token, XML).status_code == 401
    finally:
        on_first.close(logout=False)  # already revoked
    return str(token)


def assert_not_leaked(token: str, engines: list[EngineProcess], database_files: list[Path]) -> None:
    for process in engines:
        assert token not in process.log.read_text(errors="replace")
    for path in database_files:
        for file in [path, *path.parent.glob(path.name + "-*")]:
            assert token.encode() not in file.read_bytes(), file


@pytest.mark.slow
def test_two_processes_on_one_postgres_share_tokens(
    postgres: PostgresServer, engines: Callable[[str, str | None], EngineProcess]
) -> None:
    import psycopg

    database = postgres.new_database().replace("postgresql+psycopg://", "postgresql://", 1)
    first = engines("engine-a", database)
    second = engines("engine-b", database)
    token = check_shared_tokens(first, second)
    sdk_token = check_sdk(second, first)
    assert_not_leaked(token, [first, second], [])
    assert_not_leaked(sdk_token, [first, second], [])

    live = login(first)
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT token_hash FROM sso_tokens").fetchall()
    # Revoked tokens are gone; what is stored is the digest, never the token.
    assert [row[0] for row in rows] == [token_digest(live)]


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file_share_tokens(
    tmp_path: Path, engines: Callable[[str, str | None], EngineProcess]
) -> None:
    shared = tmp_path / "shared" / "engine.sqlite"
    url = f"sqlite:///{shared}"
    first = engines("engine-a", url)
    second = engines("engine-b", url)
    token = check_shared_tokens(first, second)
    sdk_token = check_sdk(first, second)
    live = login(second)
    with sqlite3.connect(shared) as conn:
        stored = [row[0] for row in conn.execute("SELECT token_hash FROM sso_tokens")]
    assert stored == [token_digest(live)]
    assert_not_leaked(token, [first, second], [shared])
    assert_not_leaked(live, [first, second], [shared])
    assert_not_leaked(sdk_token, [first, second], [shared])


# -- in process: expiry, pruning, removed users, the cost of a request --------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[Engine, Clock, Path]]:
    path = tmp_path / "engine.sqlite"
    real = Engine(f"sqlite:///{path}", key_file=tmp_path / "key", admin_password=ADMIN[1], sync_on_start=False)
    clock = Clock()
    real._session_clock = clock  # type: ignore[method-assign]
    yield real, clock, path
    real.close()


def stored_expiry(path: Path, token: str) -> float | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT expires_at FROM sso_tokens WHERE token_hash = ?", (token_digest(token),)).fetchone()
    return None if row is None else float(row[0])


def test_a_token_lapses_after_its_idle_timeout_and_use_extends_it(engine: tuple[Engine, Clock, Path]) -> None:
    real, clock, path = engine
    admin = User(ADMIN[0], Role.ADMIN)
    token = real.open_session(admin, 600)
    issued = stored_expiry(path, token)
    assert issued == pytest.approx(clock.now + 600)

    clock.now += 30  # within the touch interval: no write, the expiry stays
    assert real.session_user(token) == admin
    assert stored_expiry(path, token) == issued

    clock.now += 500  # past the touch interval, before the expiry: extended from now
    assert real.session_user(token) == admin
    assert stored_expiry(path, token) == pytest.approx(clock.now + 600)

    clock.now += 599
    assert real.session_user(token) == admin
    clock.now += 601
    assert real.session_user(token) is None
    assert real.session_user("never-issued") is None
    real.close_session("never-issued")  # ignored


def test_expired_tokens_are_pruned_at_the_next_login(engine: tuple[Engine, Clock, Path]) -> None:
    real, clock, path = engine
    admin = User(ADMIN[0], Role.ADMIN)
    old = [real.open_session(admin, 10) for _ in range(3)]
    clock.now += 11
    fresh = real.open_session(admin, 10)
    assert [stored_expiry(path, t) is None for t in old] == [True, True, True]
    assert stored_expiry(path, fresh) is not None


def test_a_token_follows_its_users_role_and_removal(engine: tuple[Engine, Clock, Path]) -> None:
    real, _clock, path = engine
    real.add_user("viewer@internal", "viewer-Pa55word", Role.VIEWER)
    token = real.open_session(User("viewer@internal", Role.VIEWER), 600)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE users SET role = 'admin' WHERE name = 'viewer@internal'")
    assert real.session_user(token) == User("viewer@internal", Role.ADMIN)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM users WHERE name = 'viewer@internal'")
    assert real.session_user(token) is None
    assert stored_expiry(path, token) is None


def test_a_request_costs_one_indexed_select(engine: tuple[Engine, Clock, Path]) -> None:
    real, clock, _path = engine
    token = real.open_session(User(ADMIN[0], Role.ADMIN), 1800)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    db_engine = real._db.engine
    event.listen(db_engine, "before_cursor_execute", record)
    try:
        clock.now += TOUCH_INTERVAL / 2
        assert real.session_user(token) is not None
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
        assert "token_hash = ?" in statements[0]
        with db_engine.connect() as conn:
            plan = " ".join(
                str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statements[0], (token_digest(token),))
            )
        assert "USING INDEX" in plan or "PRIMARY KEY" in plan, plan
    finally:
        event.remove(db_engine, "before_cursor_execute", record)
    started = time.perf_counter()
    for _ in range(200):
        real.session_user(token)
    print(f"\nsession_user on SQLite: {(time.perf_counter() - started) / 200 * 1e3:.2f} ms a call")
