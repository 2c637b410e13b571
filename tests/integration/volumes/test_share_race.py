"""Many volumes of one share attached at once: one mount, every attach succeeds, the share never vanishes under one.

The share is a real GlusterFS volume on loopback. The controller (the
module's agent, through the library) creates the volumes and connects them;
a second agent is the node that attaches them, so the node's mount is held
by the attachments alone. os-brick mounts a not-yet-mounted share from
every thread that finds it absent, and then fails some calls with "already
mounted" and stacks mounts; the node agent must merge the 16 attaches into
one mount, and must never unmount the share while an attachment needs it,
even when the last detach and the next attach cross.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import storconn.volumes as cl
from tests.peers.agent import AgentProcess
from tests.peers.gluster import GlusterServer
from tests.peers.mounts import eventually

from .conftest import Library

THREADS = 16
RACE_ROUNDS = 3
SOAK_SECONDS = 10.0
# Every SOAK_PERIOD the threads stop attaching for QUIET seconds: longer than the
# test agent's grace (0.5 s) plus a reconciler period (0.2 s), so the node starts
# unmounting and the next attaches cross that unmount.
SOAK_PERIOD = 3.0
QUIET = 1.5
FUSE = "fuse.glusterfs"


def share_mounts(root: Path) -> int:
    """Mounts of the share under ``root``, one per mountinfo line: a mount stacked on another counts twice."""
    prefix = str(root).rstrip("/") + "/"
    count = 0
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            left, _, right = line.partition(" - ")
            if left.split()[4].startswith(prefix) and right.split()[0] == FUSE:
                count += 1
    return count


def run_together(count: int, action: Callable[[int], Any]) -> list[Any]:
    """``action(i)`` on ``count`` threads released at once by a barrier; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as exc:  # reported by the test with every other result
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


class PeakWatch:
    """The most mounts of the share seen at once under ``root`` while the block runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, share_mounts(self.root))
            self._stop.wait(0.005)

    def __enter__(self) -> PeakWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, share_mounts(self.root))


@pytest.fixture
def gluster_volumes(
    library: Library, node_agent: AgentProcess, gluster_server: GlusterServer
) -> Any:
    """16 volumes on the GlusterFS share, connected to the node; deleted afterwards."""
    backend = library.backend(share={"type": "glusterfs", "params": {"spec": gluster_server.spec}})
    volumes = [backend.create_volume(size=1) for _ in range(THREADS)]
    connector = cl.get_connector_properties(agent_url=node_agent.url, host="node")
    connections = [volume.connect(connector) for volume in volumes]
    node = node_agent.client()
    yield connections, node
    for connection in connections:
        connection.detach(agent=node, force=True)
        connection.disconnect(force=True)
    node.close()
    for volume in volumes:
        volume.delete()


def test_sixteen_attaches_on_a_share_not_mounted_yet_all_succeed_with_one_mount(
    gluster_volumes: Any, node_agent: AgentProcess
) -> None:
    connections, node = gluster_volumes
    root = node_agent.mount_root
    for _ in range(RACE_ROUNDS):
        assert share_mounts(root) == 0, "the share must not be mounted on the node before the race"

        with PeakWatch(root) as watch:
            results = run_together(THREADS, lambda i: connections[i].attach(device_type="file", agent=node))

        failed = [r for r in results if isinstance(r, Exception)]
        assert failed == [], f"{len(failed)} of {THREADS} attaches failed: {failed[:3]}"
        paths = [r["path"] for r in results]
        assert len(set(paths)) == THREADS
        for path in paths:
            assert os.path.getsize(path) == 1024**3, path
        assert share_mounts(root) == 1
        assert watch.peak == 1, f"{watch.peak} mounts of the share were seen at once"

        for connection in connections:
            connection.detach(agent=node)
        # Nothing holds the node's mount now: gone after the agent's grace period.
        eventually(lambda: share_mounts(root) == 0, timeout=15)


def test_the_share_is_never_absent_while_an_attachment_exists(
    gluster_volumes: Any, node_agent: AgentProcess
) -> None:
    connections, node = gluster_volumes
    root = node_agent.mount_root
    # Attachments counted as existing from the moment attach returns until detach
    # is called; changed only under the lock the watcher holds while it reads the
    # mount table, so a positive count covers that whole read.
    lock = threading.Lock()
    attached = 0
    violations: list[str] = []
    errors: list[str] = []
    unmounted_while_quiet = 0
    attaches = 0
    stop = threading.Event()
    started = time.monotonic()

    def quiet() -> bool:
        return (time.monotonic() - started) % SOAK_PERIOD >= SOAK_PERIOD - QUIET

    def watcher() -> None:
        nonlocal unmounted_while_quiet
        while not stop.is_set():
            with lock:
                mounted = share_mounts(root)
                if attached and mounted == 0:
                    violations.append(f"share absent with {attached} attachments at {time.monotonic() - started:.2f} s")
                if mounted > 1:
                    violations.append(f"{mounted} mounts of the share at {time.monotonic() - started:.2f} s")
                if mounted == 0 and attached == 0:
                    unmounted_while_quiet += 1
            stop.wait(0.002)

    def worker(index: int) -> None:
        nonlocal attached, attaches
        rng = random.Random(index)
        connection = connections[index]
        while not stop.is_set():
            if quiet():
                time.sleep(0.02)
                continue
            try:
                device = connection.attach(device_type="file", agent=node)
                with lock:
                    attached += 1
                    attaches += 1
                # The volume is usable through the share while attached.
                with open(device["path"], "rb") as volume_file:
                    volume_file.read(512)
                time.sleep(rng.uniform(0, 0.05))
                with lock:
                    attached -= 1
                connection.detach(agent=node)
            except Exception as exc:  # collected and asserted empty below
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            time.sleep(rng.uniform(0, 0.05))

    watch = threading.Thread(target=watcher, daemon=True)
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    watch.start()
    for thread in workers:
        thread.start()
    time.sleep(SOAK_SECONDS)
    stop.set()
    for thread in workers:
        thread.join(timeout=120)
    watch.join(timeout=10)

    print(f"{attaches} attaches on {THREADS} threads in {SOAK_SECONDS:g} s; "
          f"{unmounted_while_quiet} samples saw the share unmounted with nothing attached")
    assert errors == [], f"{len(errors)} attach/detach calls failed: {errors[:3]}"
    assert violations == [], violations[:5]
    assert attaches > THREADS, f"only {attaches} attaches in {SOAK_SECONDS} s"
    # The quiet windows let the node unmount, so attaches did cross unmounts.
    assert unmounted_while_quiet > 0, "the share was never unmounted during the quiet windows"
    for connection in connections:
        connection.detach(agent=node)
    eventually(lambda: share_mounts(root) == 0, timeout=15)
