"""A real PostgreSQL 15 server on 127.0.0.1 and a free port, for the engine's tests.

As ``/work/shared/peers.md`` says: ``initdb`` once per session (~0.5 s) as
the ``postgres`` user, ``postgres`` in the foreground under ``Popen`` (so
pytest is its parent and reaps it), readiness by a real query, stop with
SIGINT to the postmaster itself. Each test gets a fresh database
(``CREATE DATABASE``), which is much faster than a new cluster.

The data directory lives in a directory of its own under /tmp, owned by
``postgres``: pytest's tmp directories are 0700 root, which the server
cannot enter.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.peers.agent import free_port

__all__ = ["PostgresServer", "available"]

_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _binary(name: str) -> Path | None:
    for directory in _BIN_DIRS:
        if (directory / name).exists():
            return directory / name
    found = shutil.which(name)
    return Path(found) if found else None


def available() -> str | None:
    """None when a server can be started here, else why not (printed as the skip reason)."""
    if _binary("postgres") is None or _binary("initdb") is None:
        return "PostgreSQL server binaries (postgres, initdb) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no 'postgres' user to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


class PostgresServer:
    """One cluster, started once; ``new_database()`` gives each test its own database URL."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="storconn-pg-"))
        self.data = self.workdir / "data"
        self.sockets = self.workdir / "run"
        self.port = free_port()
        self.log = self.workdir / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, *, timeout: float = 30.0) -> None:
        self.sockets.mkdir(parents=True)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            for path in (self.workdir, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        initdb = [
            str(_binary("initdb")),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
        subprocess.run(initdb, check=True, capture_output=True, timeout=120, user=self._user)
        argv = [
            str(_binary("postgres")),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.sockets}",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, user=self._user
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with {self.process.returncode}:\n{self._tail()}"
                )
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                time.sleep(0.02)
        raise RuntimeError(f"postgres did not answer within {timeout} s:\n{self._tail()}")

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                # SIGINT: "fast shutdown", sent to the postmaster itself.
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""
