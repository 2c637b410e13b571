"""Engine *processes* racing on one connection: the command locks hold across them (issue 4).

Real ``storconn engine serve`` processes (``python -m storconn.cli.main``),
talked to over HTTP with Basic auth, as a client would:

- two processes on one real PostgreSQL (``tests/peers/postgres.py``), each
  with its own state directory but the same key file, so that a CHAP
  password one of them stored decrypts in the other;
- 50 concurrent edits of one connection, half to each process: every answer
  is 200 or 409 ``ACTION_TYPE_FAILED_OBJECT_LOCKED``, and no successful edit
  was lost (the stored revision went up once per 200, which two edits
  running together past the lock would break);
- a process killed with SIGKILL while it holds an edit's locks: PostgreSQL
  frees the session's advisory locks and the other process's next edit
  succeeds;
- the same race against one process on SQLite (locks between its threads).

The connections are NFS ones without a host: nothing outside is contacted.
The PostgreSQL tests skip, with the reason printed, where a server cannot
be started (``tests.peers.postgres.available``).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from storconn.engine.db.locks import advisory_key
from storconn.engine.rules import locks as lock_keys
from tests.peers.agent import free_port
from tests.peers.postgres import PostgresServer
from tests.peers.processes import stop

ADMIN = ("admin@internal", "race-Adm1n-pw")
LOCKED = "ACTION_TYPE_FAILED_OBJECT_LOCKED"
KEY_HEADER = "Storconn-Message-Key"
API = "/ovirt-engine/api"
RACERS = 50
SEQUENTIAL = 10

# Each engine process takes a few seconds to start (imports, migrations, the admin's scrypt).
pytestmark = pytest.mark.slow


# -- engine processes ---------------------------------------------------------------------


class EngineProcess:
    """``storconn engine serve`` in a child process on a free loopback port."""

    def __init__(self, state_dir: Path, database: str | None) -> None:
        self.state_dir = state_dir
        self.database = database
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = state_dir.parent / f"{state_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client: httpx.Client | None = None

    @property
    def key_file(self) -> Path:
        return self.state_dir / "key"

    def start(self, *, timeout: float = 60.0) -> None:
        argv = [
            sys.executable,
            "-m",
            "storconn.cli.main",
            "engine",
            "serve",
            "--state-dir",
            str(self.state_dir),
            "--listen",
            f"127.0.0.1:{self.port}",
        ]
        if self.database is not None:
            argv += ["--db", self.database]
        env = {**os.environ, "STORCONN_ADMIN_PASSWORD": ADMIN[1], "STORCONN_LOG_LEVEL": "warning"}
        for name in (
            "STORCONN_ENGINE_DB",
            "STORCONN_ENGINE_STATE_DIR",
            "STORCONN_ENGINE_LISTEN",
            "STORCONN_ENGINE_LOCAL_AGENT",
        ):
            env.pop(name, None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.client = httpx.Client(
            base_url=self.base + API,
            auth=ADMIN,
            timeout=30.0,
            limits=httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS),
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited with {self.process.returncode}:\n{self.tail()}")
            try:
                # Also fills the engine's Basic auth cache: the racers do not all run scrypt at once.
                if self.client.get("", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"engine did not answer within {timeout} s:\n{self.tail()}")
            time.sleep(0.05)

    def http(self) -> httpx.Client:
        assert self.client is not None
        return self.client

    def stop(self) -> bool:
        """SIGTERM, as systemd sends; True when it shut down cleanly (no forced kill, no traceback).

        uvicorn finishes the requests under way, then re-raises the SIGTERM it
        caught, so a clean exit is -SIGTERM (0 if the CLI handles the signal).
        """
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process is None or self.process.poll() is not None:
            return False
        stop(self.process, signal.SIGTERM, timeout=20)
        return self.process.returncode in (0, -signal.SIGTERM) and "Traceback" not in self.tail()

    def kill(self) -> None:
        """SIGKILL, as a crash would; returns once the process is reaped."""
        assert self.process is not None
        stop(self.process, signal.SIGKILL)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture
def start_engine(tmp_path: Path) -> Iterator[Callable[..., EngineProcess]]:
    started: list[EngineProcess] = []

    def start(
        name: str, database: str | None, *, key_from: EngineProcess | None = None
    ) -> EngineProcess:
        engine = EngineProcess(tmp_path / name, database)
        engine.state_dir.mkdir(mode=0o700)
        if key_from is not None:
            # Every engine of a site uses the same key: CHAP passwords must decrypt in all of them.
            shutil.copyfile(key_from.key_file, engine.key_file)
            engine.key_file.chmod(0o600)
        started.append(engine)
        engine.start()
        return engine

    yield start
    for engine in started:  # whatever a failing test left running
        engine.stop()


@pytest.fixture
def pg_database(postgres: PostgresServer) -> str:
    """A fresh database, as the plain ``postgresql://`` URL an operator would give ``--db``."""
    return postgres.new_database().replace("postgresql+psycopg://", "postgresql://", 1)


# -- the REST calls ---------------------------------------------------------------------------


def add_nfs(engine: EngineProcess, path: str = "/exports/a") -> str:
    answer = engine.http().post(
        "/storageconnections",
        json={"type": "nfs", "address": "filer.example.com", "path": path},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def get_record(engine: EngineProcess, connection_id: str) -> dict[str, Any]:
    answer = engine.http().get(
        f"/storageconnections/{connection_id}", headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    record.pop("href", None)  # the same path on both, but keep the comparison about the data
    return record


@dataclass
class Edit:
    index: int
    engine: int
    path: str
    as_json: bool
    status: int = 0
    answered_path: str | None = None
    key: str | None = None
    detail: str = ""
    started: float = 0.0
    finished: float = 0.0
    error: str | None = None


def put_path(client: httpx.Client, connection_id: str, edit: Edit) -> None:
    """PUT one edit of ``path``, in JSON or XML, and note what came back."""
    url = f"/storageconnections/{connection_id}"
    if edit.as_json:
        kwargs: dict[str, Any] = {
            "json": {"path": edit.path},
            "headers": {"Accept": "application/json"},
        }
    else:
        body = f"<storage_connection><path>{edit.path}</path></storage_connection>"
        kwargs = {
            "content": body.encode(),
            "headers": {"Content-Type": "application/xml", "Accept": "application/xml"},
        }
    edit.started = time.monotonic()
    answer = client.put(url, **kwargs)
    edit.finished = time.monotonic()
    edit.status = answer.status_code
    edit.key = answer.headers.get(KEY_HEADER)
    if edit.as_json:
        document = answer.json()
        if answer.status_code == 200:
            edit.answered_path = document.get("path")
        else:
            edit.detail = str(document.get("detail", ""))
    else:
        root = ET.fromstring(answer.content)
        if answer.status_code == 200:
            edit.answered_path = root.findtext("path")
        else:
            edit.detail = root.findtext("detail") or ""


def race(engines: list[EngineProcess], connection_id: str, tag: str) -> list[Edit]:
    """RACERS edits released together by a barrier, spread over ``engines``, half JSON and half XML."""
    edits = [
        Edit(index=i, engine=i % len(engines), path=f"/exports/{tag}{i}", as_json=(i // 2) % 2 == 0)
        for i in range(RACERS)
    ]
    barrier = threading.Barrier(RACERS)

    def run(edit: Edit) -> None:
        try:
            barrier.wait(timeout=30)
            put_path(engines[edit.engine].http(), connection_id, edit)
        except Exception as exc:  # reported by the assertions below, with the others
            edit.error = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(edit,)) for edit in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an edit did not finish within 120 s"
    return edits


def check_answers(edits: list[Edit]) -> list[Edit]:
    """Every answer is 200 (with the path asked for) or 409 object locked; the successful edits."""
    errors = [(e.index, e.error) for e in edits if e.error]
    assert not errors, errors
    unexpected = [(e.index, e.status, e.key, e.detail) for e in edits if e.status not in (200, 409)]
    assert not unexpected, unexpected
    for edit in edits:
        if edit.status == 200:
            assert edit.answered_path == edit.path, edit
        else:
            assert edit.key == LOCKED, edit
            assert edit.detail.startswith(
                "[Cannot edit Storage Connection. Related operation is currently in progress"
            ), edit
    done = [e for e in edits if e.status == 200]
    assert done, "no edit succeeded"
    return done


def report(label: str, edits: list[Edit]) -> None:
    by_engine = Counter((e.engine, e.status) for e in edits)
    print(
        f"\n{label}: {Counter(e.status for e in edits)}; per engine {dict(sorted(by_engine.items()))}"
    )


# -- reading the stored row directly: the revision counts the edits that were applied -------


def pg_revision(database: str, connection_id: str) -> int:
    import psycopg

    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT revision FROM storage_connections WHERE id = %s", (connection_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def pg_advisory_locks(database: str) -> list[tuple[int, int, int]]:
    """(pid, classid, objid) of every advisory lock granted in ``database``."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    return [(int(pid), int(classid), int(objid)) for pid, classid, objid in rows]


def lock_id(key: str) -> tuple[int, int]:
    """``pg_locks``' (classid, objid) of the advisory lock on ``key``: the two halves of the 64-bit number."""
    number = advisory_key(key) & 0xFFFF_FFFF_FFFF_FFFF
    return number >> 32, number & 0xFFFF_FFFF


def sqlite_revision(state_dir: Path, connection_id: str) -> int:
    with sqlite3.connect(state_dir / "engine.sqlite") as conn:
        row = conn.execute(
            "SELECT revision FROM storage_connections WHERE id = ?", (connection_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


# -- the tests ------------------------------------------------------------------------------------


def test_two_engine_processes_on_one_postgres_race_edits(
    pg_database: str, start_engine: Callable[..., EngineProcess]
) -> None:
    first = start_engine("engine-a", pg_database)
    second = start_engine("engine-b", pg_database, key_from=first)
    engines = [first, second]
    assert first.key_file.read_bytes() == second.key_file.read_bytes()
    conn_id = add_nfs(first)
    assert get_record(second, conn_id)["path"] == "/exports/a"

    # A CHAP password stored by one process is read (and re-encrypted) by the other: one key.
    iscsi = first.http().post(
        "/storageconnections",
        headers={"Accept": "application/json"},
        json={
            "type": "iscsi",
            "address": "192.0.2.10",
            "port": 3260,
            "target": "iqn.2026-01.test:race",
            "username": "chap-user",
            "password": "chap-Secret-1",
        },
    )
    assert iscsi.status_code == 201, iscsi.text
    moved = second.http().put(
        f"/storageconnections/{iscsi.json()['id']}",
        json={"address": "192.0.2.11"},
        headers={"Accept": "application/json"},
    )
    assert moved.status_code == 200, moved.text
    assert "password" not in moved.json()

    # Round 1: 50 edits at once, 25 to each process.
    edits = race(engines, conn_id, "v")
    report("two processes on PostgreSQL", edits)
    done = check_answers(edits)
    final = get_record(first, conn_id)
    assert final == get_record(second, conn_id)
    assert final["path"] in {e.path for e in done}
    assert final["address"] == "filer.example.com"
    # Edits serialized by the lock: each 200 raised the revision by one; none was lost or merged.
    assert pg_revision(pg_database, conn_id) == 1 + len(done)
    # The latest-finishing 200 answered after the final edit committed, so it is the final one
    # unless an earlier-committed edit's answer was slower to arrive: report, do not assert.
    last_answered = max(done, key=lambda e: e.finished)
    print(f"final path {final['path']}; the 200 answered last: {last_answered.path}")
    assert not pg_advisory_locks(pg_database), (
        "an advisory lock is still held after every edit answered"
    )

    # Round 2, one edit at a time alternating the processes: each succeeds and is what both see.
    revision = pg_revision(pg_database, conn_id)
    for i in range(SEQUENTIAL):
        edit = Edit(index=i, engine=i % 2, path=f"/exports/seq{i}", as_json=i % 3 != 0)
        put_path(engines[edit.engine].http(), conn_id, edit)
        assert (edit.status, edit.answered_path) == (200, edit.path), edit
        assert get_record(engines[1 - edit.engine], conn_id) == get_record(
            engines[edit.engine], conn_id
        )
    assert (
        get_record(first, conn_id)["path"]
        == get_record(second, conn_id)["path"]
        == f"/exports/seq{SEQUENTIAL - 1}"
    )
    assert pg_revision(pg_database, conn_id) == revision + SEQUENTIAL

    assert [engine.stop() for engine in engines] == [True, True], [
        engine.tail() for engine in engines
    ]


def test_a_killed_engine_process_frees_its_locks(
    pg_database: str, start_engine: Callable[..., EngineProcess]
) -> None:
    import psycopg

    doomed = start_engine("engine-a", pg_database)
    survivor = start_engine("engine-b", pg_database, key_from=doomed)
    conn_id = add_nfs(doomed)
    held = lock_id(lock_keys.connection_key(conn_id))

    # Hold the connection's row from outside: the doomed engine's edit takes its locks, then
    # waits on the row in its write transaction, holding them for as long as we like.
    blocker = psycopg.connect(pg_database)
    try:
        blocker.execute("SELECT 1 FROM storage_connections WHERE id = %s FOR UPDATE", (conn_id,))
        hanging = Edit(index=0, engine=0, path="/exports/never", as_json=True)

        def edit_then_die() -> None:
            try:
                put_path(doomed.http(), conn_id, hanging)
            except httpx.TransportError as exc:
                hanging.error = type(exc).__name__

        thread = threading.Thread(target=edit_then_die)
        thread.start()
        wait_until(
            lambda: any((c, o) == held for _, c, o in pg_advisory_locks(pg_database)),
            timeout=20,
            what="the doomed engine holding the edit's advisory lock",
        )
        holder = {pid for pid, c, o in pg_advisory_locks(pg_database) if (c, o) == held}

        # While it holds them, the other process is refused at once, not made to wait.
        refused = Edit(index=1, engine=1, path="/exports/refused", as_json=False)
        put_path(survivor.http(), conn_id, refused)
        assert (refused.status, refused.key) == (409, LOCKED), refused

        doomed.kill()
        assert doomed.process is not None and doomed.process.returncode == -signal.SIGKILL
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert hanging.status == 0 and hanging.error, (
            hanging
        )  # no answer: the process died mid-edit
    finally:
        blocker.rollback()  # the dead engine's transaction gets the row, finds no client, rolls back
        blocker.close()

    # PostgreSQL ended the dead process's sessions and with them their advisory locks.
    wait_until(
        lambda: not any((c, o) == held for _, c, o in pg_advisory_locks(pg_database)),
        timeout=20,
        what="PostgreSQL freeing the killed engine's advisory lock",
    )
    assert not {pid for pid, _, _ in pg_advisory_locks(pg_database)} & holder

    after = Edit(index=2, engine=1, path="/exports/after-kill", as_json=True)
    put_path(survivor.http(), conn_id, after)
    assert (after.status, after.answered_path) == (200, "/exports/after-kill"), after
    assert get_record(survivor, conn_id)["path"] == "/exports/after-kill"
    assert pg_revision(pg_database, conn_id) == 2  # the killed edit never committed

    assert survivor.stop(), survivor.tail()


def test_one_engine_process_on_sqlite_races_edits(
    tmp_path: Path, start_engine: Callable[..., EngineProcess]
) -> None:
    engine = start_engine("engine-sqlite", None)  # no --db: SQLite in the state directory
    conn_id = add_nfs(engine)
    edits = race([engine], conn_id, "s")
    report("one process on SQLite", edits)
    done = check_answers(edits)
    final = get_record(engine, conn_id)
    assert final["path"] in {e.path for e in done}
    assert sqlite_revision(engine.state_dir, conn_id) == 1 + len(done)

    last = Edit(index=RACERS, engine=0, path="/exports/s-last", as_json=False)
    put_path(engine.http(), conn_id, last)
    assert (last.status, last.answered_path) == (200, "/exports/s-last"), last
    assert get_record(engine, conn_id)["path"] == "/exports/s-last"

    assert engine.stop(), engine.tail()
