"""What the engine benchmarks share: the engine as a process of its own, its databases, a logged-in client.

The engine runs the way an administrator runs it, ``python -m
storconn.cli.main engine serve --state-dir ... --db ... --listen
127.0.0.1:PORT`` with ``STORCONN_ADMIN_PASSWORD`` set, so that its VmRSS is
the engine's alone and the benchmark's own threads never share its GIL.
PostgreSQL is the tests' peer (``tests.peers.postgres``): one cluster on
loopback per benchmark, one fresh database per engine.

Not a benchmark: ``benchmarks/__main__.py`` does not list it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from storconn.engine.db import Database, UnitOfWork
from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.rules import checked_connection
from storconn.engine.secrets import SecretBox
from tests.peers.agent import free_port

from .workspace import Workspace

ADMIN = ("admin@internal", "bench-Pa55word")
API = "/ovirt-engine/api"
JSON = {"Accept": "application/json"}
XML = {"Accept": "application/xml"}


class EngineProcess:
    """``storconn engine serve`` in a child process, on SQLite in its state directory or on ``db``."""

    def __init__(self, state_dir: Path, db: str | None = None, *, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.env = env or {}
        self.db = db or f"sqlite:///{state_dir / 'engine.sqlite'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}{API}"
        self.log = state_dir.parent / f"engine-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def key_file(self) -> Path:
        return self.state_dir / "key"

    # Generous: on a loaded 2-core VM, imports, migrations and the admin's scrypt took 30+ s.
    def start(self, *, timeout: float = 180.0) -> None:
        """Spawn it; return once the SSO endpoint hands out a token."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = [
            sys.executable, "-m", "storconn.cli.main", "engine", "serve",
            "--state-dir", str(self.state_dir), "--db", self.db,
            "--listen", f"127.0.0.1:{self.port}", "--log-level", "warning",
        ]
        env = {**os.environ, **self.env, "STORCONN_ADMIN_PASSWORD": ADMIN[1]}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the engine exited with {self.process.returncode}:\n{self._tail()}")
                try:
                    login(client, self.url)
                    return
                except httpx.HTTPError:
                    time.sleep(0.05)
        raise RuntimeError(f"the engine did not answer within {timeout:g} s:\n{self._tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def token(self) -> str:
        """A bearer token from the SSO endpoint."""
        with httpx.Client(timeout=30) as once:
            return login(once, self.url)

    def client(self, token: str | None = None, *, timeout: float = 120.0) -> httpx.Client:
        """An httpx client sending ``token`` (else one from a new SSO login) on every call."""
        token = token or self.token()
        return httpx.Client(base_url=self.api, timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # uvicorn's graceful shutdown
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def login(client: httpx.Client, base: str) -> str:
    """The SSO password grant, as the SDK does it; the bearer token."""
    answer = client.post(
        f"{base}/ovirt-engine/sso/oauth/token",
        data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1], "scope": "ovirt-app-api"},
        headers={"Accept": "application/json"},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@contextmanager
def engine(
    work: Workspace, name: str, db: str | None = None, *, env: dict[str, str] | None = None
) -> Iterator[EngineProcess]:
    """A started engine with its state under ``<root>/<name>``; stopped when the block ends."""
    process = EngineProcess(work.dir(name, "state"), db, env=env)
    try:
        process.start()
        yield process
    finally:
        process.stop()


@contextmanager
def postgres() -> Iterator[Any]:
    """A PostgreSQL server on loopback (``tests.peers.postgres``), or the reason why not as a str."""
    from tests.peers.postgres import PostgresServer, available

    reason = available()
    if reason:
        yield reason
        return
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def databases(server: Any) -> list[tuple[str, str | None, str | None]]:
    """(label, URL or None for SQLite in the state dir, skip reason) for SQLite and PostgreSQL."""
    pg: tuple[str, str | None, str | None]
    if isinstance(server, str):
        pg = ("PostgreSQL", None, server)
    else:
        pg = ("PostgreSQL", server.new_database(), None)
    return [("SQLite", None, None), pg]


def nfs(n: int, prefix: str = "bench") -> dict[str, Any]:
    """A JSON body for a distinct NFS connection (no host: nothing connects it)."""
    return {"type": "nfs", "address": "filer.example.com", "path": f"/exports/{prefix}/{n:06d}"}


def insert_connections(db: str, key_file: Path, count: int, *, prefix: str = "bulk") -> float:
    """``count`` NFS connections through the engine's repository in one transaction; the seconds it took.

    The same validation and row building as ``Engine.add_connection``
    (``rules.checked_connection``, ``Repository.save_connection``), without
    its per-command locks and commit: 10,000 adds one by one would take
    minutes on a synced SQLite.
    """
    started = time.perf_counter()
    database = Database(db)
    try:
        unit = UnitOfWork(database, SecretBox(key_file))
        with unit() as repo:
            for n in range(count):
                fields = ConnectionFields(
                    type=StorageType.NFS, address="filer.example.com", path=f"/exports/{prefix}/{n:06d}"
                )
                repo.save_connection(checked_connection(fields, connection_id=str(uuid.uuid4())))
    finally:
        database.close()
    return time.perf_counter() - started


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` field in kB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
