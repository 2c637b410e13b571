"""Volumes on one share share one mount, and one volume's detach never cuts another.

The controller (the module's agent) creates the volumes; a second agent
is the node that attaches them, so the node's mount is held by the
attachments alone and its lifetime can be watched.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import storconn.volumes as cl
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

from .conftest import Library


def _writer(path: str, stop: Any, errors: Any, count: Any) -> None:
    """Write and fsync 4 KiB blocks to ``path`` until told to stop; report any error."""
    block = b"w" * 4096
    try:
        fd = os.open(path, os.O_WRONLY)
        offset = 0
        while not stop.is_set():
            os.pwrite(fd, block, offset % (64 * 1024 * 1024))
            os.fsync(fd)
            offset += len(block)
            count.value += 1
        os.close(fd)
    except OSError as exc:
        errors.put(f"{exc.errno} {exc.strerror}")


def test_one_mount_for_many_volumes_and_detaching_one_never_cuts_another(
    library: Library, node_agent: AgentProcess
) -> None:
    backend = library.backend(share=library.tmpfs_share())
    node = node_agent.client()
    connector = cl.get_connector_properties(agent_url=node_agent.url, host="node")
    volume_a = backend.create_volume(size=1)
    volume_b = backend.create_volume(size=1)
    conn_a = volume_a.connect(connector)
    conn_b = volume_b.connect(connector)
    device_a = conn_a.attach(agent=node)
    assert len(mounts_under(node_agent.mount_root)) == 1

    stop = multiprocessing.Event()
    errors: Any = multiprocessing.Queue()
    count = multiprocessing.Value("i", 0)
    writer = multiprocessing.Process(target=_writer, args=(device_a["path"], stop, errors, count))
    writer.start()
    try:
        for _ in range(50):
            conn_b.attach(agent=node)
            assert len(mounts_under(node_agent.mount_root)) == 1
            conn_b.detach(agent=node)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert errors.empty(), errors.get()
    assert writer.exitcode == 0 and count.value > 0

    conn_a.detach(agent=node)
    # Nothing holds the node's mount now: gone after the agent's grace period.
    eventually(lambda: mounts_under(node_agent.mount_root) == {}, timeout=10)
    conn_a.disconnect()
    conn_b.disconnect()
