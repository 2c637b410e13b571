"""Volumes on one share share one mount, and one volume's detach never cuts another.

The controller's own reference on the share (``volumes-backend:<name>``) is
released once the volumes exist, so that the mount is held by the
attachments alone and its lifetime can be watched.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import storconn.volumes as cl
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
            with count.get_lock():
                count.value += 1
        os.close(fd)
    except OSError as exc:
        errors.put(f"{exc.errno} {exc.strerror}")


def _share_mounts(root: Path, name: str) -> list[str]:
    return [path for path in mounts_under(root) if name in path]


def test_one_mount_for_many_volumes_and_detaching_one_never_cuts_another(library: Library) -> None:
    share = library.tmpfs_share()
    name = share.split("spec=")[1].split("&")[0]
    backend = library.backend(share=share)
    volume_a = backend.create_volume(size=1)
    volume_b = backend.create_volume(size=1)
    conn_a = volume_a.connect(cl.get_connector_properties())
    conn_b = volume_b.connect(cl.get_connector_properties())
    device_a = conn_a.attach()
    agent = library.agent.client()
    agent.release(["volumes-backend:b1"])
    assert len(_share_mounts(library.agent.mount_root, name)) == 1

    stop = multiprocessing.Event()
    errors: Any = multiprocessing.Queue()
    count: Any = multiprocessing.Value("i", 0)
    writer = multiprocessing.Process(target=_writer, args=(device_a["path"], stop, errors, count))
    writer.start()
    try:
        for _ in range(50):
            conn_b.attach(device_type="block")
            assert len(_share_mounts(library.agent.mount_root, name)) == 1
            conn_b.detach()
    finally:
        stop.set()
        writer.join(timeout=30)
    assert errors.empty(), errors.get()
    assert writer.exitcode == 0 and count.value > 0

    conn_a.detach()
    # Nothing holds the share now: unmounted after the agent's grace period.
    eventually(lambda: _share_mounts(library.agent.mount_root, name) == [], timeout=10)
    conn_a.disconnect()
    conn_b.disconnect()
