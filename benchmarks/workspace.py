"""A benchmark's private corner of the machine: one temp dir, the agents it runs, the mounts it makes.

Everything a benchmark creates lives under ``Workspace.root``: agent state
directories, mount roots, bare SQLite files (so agent and limit write to the
same disk), and target directories. Closing the workspace stops the agents
it started, lazily unmounts whatever is still mounted under the root (a
benchmark that crashed mid-way may have left mounts) and removes the tree.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from storconn.agent.system import mountinfo
from tests.peers.agent import AgentProcess

# The agent's defaults (period 1 s, grace 2 s, probes every 2 s). AgentProcess
# swaps an empty list for the fast test timings; benchmarks measure the
# agent as it ships, so they give it one flag with its default value.
DEFAULT_TIMINGS = ["--period", "1"]


class Workspace:
    def __init__(self, name: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"storconn-bench-{name}-"))
        self._agents: list[AgentProcess] = []

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def agent(self, name: str = "agent", *, extra: list[str] | None = None) -> AgentProcess:
        """Start ``storconn agent serve`` with state in ``<root>/<name>``; the same name reuses its state.

        Returns once ``/healthz`` answers.
        """
        process = self._process(name, extra)
        process.start()
        return process

    def spawn(self, name: str = "agent", *, extra: list[str] | None = None) -> AgentProcess:
        """Like :meth:`agent`, but return as soon as the process exists, to time its start.

        AgentProcess.start polls with a new httpx client each time, about
        50 ms apiece here: too coarse a clock for a start measured against 1 s.
        The command line is the one AgentProcess.start runs.
        """
        process = self._process(name, extra)
        argv = [
            sys.executable, "-m", "storconn.cli.main", "agent", "serve",
            "--state-dir", str(process.state_dir), "--mount-root", str(process.mount_root),
            "--listen", f"127.0.0.1:{process.port}", *process.extra,
        ]
        with process.log.open("ab") as log:
            process.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        return process

    def _process(self, name: str, extra: list[str] | None) -> AgentProcess:
        process = AgentProcess(
            self.dir(name, "state"), self.dir(name, "mnt"), extra=extra or DEFAULT_TIMINGS
        )
        self._agents.append(process)
        return process

    def close(self) -> None:
        for process in self._agents:
            process.stop()  # SIGTERM, then SIGKILL after 10 s
        self._agents.clear()
        for point in mounts_under(self.root):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)
        left = mounts_under(self.root)
        if left:
            # Never rmtree through a mount point: keep the tree and say so.
            print(f"warning: {len(left)} mounts left under {self.root}; not removed", file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)


def mounts_under(root: Path) -> list[str]:
    """Mount points under ``root``, deepest first (the order to unmount them in)."""
    prefix = str(root) + "/"
    return sorted((p for p in mountinfo.read() if p.startswith(prefix)), key=len, reverse=True)


class BareStore:
    """The limit for a durable acquire: SQLite alone, configured as the agent's store is.

    WAL and ``synchronous=FULL`` as in ``storconn.agent.store``; one table
    with a text primary key and the JSON of the info, nothing else.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS refs (id TEXT PRIMARY KEY, info TEXT NOT NULL)")

    def insert(self, rows: list[tuple[str, str]]) -> None:
        """One transaction: durable on disk when this returns."""
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO refs (id, info) VALUES (?, ?)", rows)
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def localfs(path: Path | str) -> dict[str, Any]:
    return {"type": "localfs", "params": {"path": str(path)}}


def tmpfs(spec: str, size: str = "1m") -> dict[str, Any]:
    return {"type": "posixfs", "params": {"spec": spec, "vfsType": "tmpfs", "options": f"size={size}"}}


def as_row(ref_id: str, info: dict[str, Any]) -> tuple[str, str]:
    """A bare-store row holding what the agent stores: the id and the info's JSON."""
    return ref_id, json.dumps(info, sort_keys=True, separators=(",", ":"))


def rss_mib(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def populate(agent: AgentProcess, count: int, targets: list[Path], *, prefix: str = "ref") -> list[str]:
    """Acquire ``count`` localfs references spread over ``targets`` in one call; return their ids."""
    ids = [f"{prefix}-{n:05d}" for n in range(count)]
    batch = {ref_id: localfs(targets[n % len(targets)]) for n, ref_id in enumerate(ids)}
    with agent.client() as client:
        answer = client.acquire(batch)
    failed = {ref_id: code for ref_id, code in answer.items() if code != 0}
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} acquires failed, e.g. {next(iter(failed.items()))}")
    return ids
