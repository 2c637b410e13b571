"""What the volumes benchmarks share: the library pointed at a benchmark's agent, mount counting, skips.

The volumes library keeps process-wide state as cinderlib does (the
backends, the persistence, the local agent's address); :func:`use_library`
resets it for each benchmark. Mounts are counted from ``/proc/self/mountinfo``
line by line, so a mount stacked on another at the same point (os-brick's
race) counts twice, which a dict keyed by mount point would hide.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from storconn.agent.client import AgentClient, AgentRpcError

from .report import Row
from .timing import wait_until
from .workspace import Workspace

__all__ = [
    "Mount",
    "MountWatch",
    "agent_volumes_problem",
    "db_persistence_problem",
    "gluster_problem",
    "gluster_share",
    "library_problem",
    "mounts",
    "reset_library",
    "run_threads",
    "skipped",
    "unmount_stacked",
    "use_library",
    "wait_unmounted",
]

# JSON-RPC "method not found": the agent predates the Volumes.* verbs.
METHOD_NOT_FOUND = -32601
COMMAND_TIMEOUT = 30.0


def skipped(name: str, unit: str, target: float | None, reason: str) -> Row:
    """A row that could not run here; the suite prints it with its reason."""
    return Row(name, None, None, unit, target=target, skipped=reason)


def library_problem() -> str | None:
    """None when ``storconn.volumes`` imports, else why the volumes rows cannot run."""
    try:
        import storconn.volumes  # noqa: F401
    except ImportError as exc:
        return f"storconn.volumes does not import here: {exc}"
    return None


def agent_volumes_problem(client: AgentClient) -> str | None:
    """None when the agent serves ``Volumes.attach``, else the reason to skip (an older agent)."""
    try:
        client.call("Volumes.list", {})
    except AgentRpcError as exc:
        if exc.rpc_code == METHOD_NOT_FOUND:
            return "needs the agent's Volumes.attach/detach verbs (issue 8 part 5, not merged yet)"
        raise
    return None


def db_persistence_problem() -> str | None:
    """None when the ``db`` persistence (SQLAlchemy) is in this tree, else the reason to skip."""
    from storconn.volumes import persistence

    if not hasattr(persistence, "DbPersistence"):
        return "needs the 'db' persistence (issue 8 part 2, not merged yet)"
    return None


def use_library(agent_url: str, token_file: Path, persistence: dict[str, Any] | None = None) -> None:
    """Forget every backend of this process and point the library at this agent and persistence."""
    import storconn.volumes as cl

    _forget_backends()
    cl.setup(
        persistence_config=persistence or {"storage": "memory"},
        agent_url=agent_url,
        agent_token_file=str(token_file),
    )


def reset_library() -> None:
    """Back to the library's defaults: no backends, memory persistence, no agent client."""
    import storconn.volumes as cl
    from storconn.volumes import agent_link

    _forget_backends()
    cl.setup(persistence_config={"storage": "memory"})
    agent_link.configure(None, None)


def _forget_backends() -> None:
    # cinderlib keeps backends per process; a benchmark's must not leak into the next one.
    import storconn.volumes as cl
    from storconn.volumes import agent_link

    for backend in list(cl.Backend.backends.values()):
        backend.driver.close()
    cl.Backend.backends.clear()
    agent_link.close_all()


# -- mounts ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mount:
    point: str
    fstype: str
    source: str


def mounts(under: Path, fstypes: tuple[str, ...] = ()) -> list[Mount]:
    """Every mount under ``under`` (of these types, if given), one per mountinfo line: stacked ones too."""
    prefix = str(under).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            left, _, right = line.partition(" - ")
            point = _unescape(left.split()[4])
            fields = right.split()
            if not point.startswith(prefix) or len(fields) < 2:
                continue
            if fstypes and fields[0] not in fstypes:
                continue
            found.append(Mount(point, fields[0], _unescape(fields[1])))
    return found


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def unmount_stacked(point: str) -> None:
    """Unmount ``point`` until nothing is mounted there (os-brick may have stacked several)."""
    for _ in range(50):
        if not any(m.point == point for m in mounts(Path(point).parent)):
            return
        subprocess.run(["umount", point], capture_output=True, timeout=COMMAND_TIMEOUT, check=False)
    raise RuntimeError(f"{point} is still mounted after 50 unmounts")


def wait_unmounted(root: Path, fstypes: tuple[str, ...], *, timeout: float = 60.0) -> float:
    """Wait until nothing of ``fstypes`` is mounted under ``root`` (the agent's grace unmount); seconds waited."""
    started = time.monotonic()
    wait_until(lambda: not mounts(root, fstypes), timeout=timeout, what=f"unmount under {root}", interval=0.05)
    return time.monotonic() - started


class MountWatch:
    """Samples the mount table on a thread; ``peak`` is the most mounts of ``fstypes`` under ``root`` seen at once.

    mountinfo is read every ``interval`` seconds (a read of a short table
    costs ~0.1 ms): a stacked mount that lived less than that may be missed,
    but the os-brick stacks it is meant to catch stay until unmounted.
    """

    def __init__(self, root: Path, fstypes: tuple[str, ...], *, interval: float = 0.005) -> None:
        self.root = root
        self.fstypes = fstypes
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mount-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, len(mounts(self.root, self.fstypes)))
            self._stop.wait(self.interval)

    def __enter__(self) -> MountWatch:
        self.peak = len(mounts(self.root, self.fstypes))
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, len(mounts(self.root, self.fstypes)))


@contextmanager
def gluster_share(work: Workspace, volume: str) -> Iterator[Any]:
    """A started GlusterFS volume on loopback (tests/peers/gluster.py), stopped and cleaned after."""
    from tests.peers import gluster

    server = gluster.GlusterServer(work.dir("gluster"), volume=volume)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        _kill_fuse_clients(work.root)


def gluster_problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root: glusterd and FUSE mounts"
    from tests.peers import gluster

    return gluster.available()


def _kill_fuse_clients(root: Path) -> None:
    from . import outages

    outages.kill_leftover_daemons(root, b"glusterfs")


def run_threads(count: int, action: Callable[[int], object]) -> list[object]:
    """``action(i)`` for i in range(count) on ``count`` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as exc:  # counted by the caller
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,), name=f"race-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
