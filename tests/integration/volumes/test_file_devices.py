"""Devices of the ``file`` driver: online extend, read-only attachments, qcow2 volumes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import storconn.volumes as cl

from .conftest import Library

GIB = 1024**3


def _sectors(device: str) -> int:
    return int(Path("/sys/block", Path(device).name, "size").read_text()) * 512


def test_extend_reaches_an_attached_loop_device_online(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    connection = volume.attach(device_type="block")
    assert connection.path is not None and _sectors(connection.path) == GIB
    volume.extend(2)
    assert _sectors(connection.path) == 2 * GIB
    volume.detach()


def test_a_read_only_connection_gets_a_read_only_device(library: Library) -> None:
    volume = library.backend().create_volume(size=1, multiattach=True)
    connection = volume.connect(cl.get_connector_properties(), attach_mode="ro")
    device = connection.attach(device_type="block")
    try:
        assert Path("/sys/block", Path(device["path"]).name, "ro").read_text().strip() == "1"
        with pytest.raises(OSError) as refused:
            fd = os.open(device["path"], os.O_WRONLY)  # the kernel may refuse here, or at the write
            try:
                os.write(fd, b"x" * 4096)
                os.fsync(fd)
            finally:
                os.close(fd)
        assert refused.value.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    finally:
        connection.detach()
        connection.disconnect()


def test_qcow2_volumes_are_made_by_qemu_img_and_attach_as_files(library: Library) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("needs qemu-img (scripts/install-test-deps installs qemu-utils)")
    backend = library.backend("q1", volume_format="qcow2")
    volume = backend.create_volume(size=1)
    path = library.share_dir / f"volume-{volume.id}"
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(path)],
                                     check=True, capture_output=True, text=True, timeout=30).stdout)
    assert (info["format"], info["virtual-size"]) == ("qcow2", GIB)
    volume.extend(2)
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(path)],
                                     check=True, capture_output=True, text=True, timeout=30).stdout)
    assert info["virtual-size"] == 2 * GIB
    connection = volume.attach(device_type="file")
    assert connection.conn_info["data"]["format"] == "qcow2" and connection.path == str(path)
    volume.detach()
    # A raw loop device over a qcow2 file would show the guest its metadata: refused.
    with pytest.raises(cl.AgentError, match="deviceType"):
        volume.attach(device_type="block")
    assert volume.connections == []
    volume.delete()
