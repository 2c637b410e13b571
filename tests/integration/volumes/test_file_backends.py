"""The ``file`` driver for real on every kind of share this machine can serve.

Each share: create → attach as a file and as a block device → write 1 MiB
through the device → read it back from the volume's file through the
controller's own mount → detach → clone (reflink where the file system
shares blocks) → delete, leaving the share empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storconn.volumes as cl

from .conftest import Library

MIB = 1024 * 1024
PATTERN = bytes(range(256)) * 4096  # 1 MiB


def _image(tmp_path: Path, fstype: str) -> str:
    tool = shutil.which(f"mkfs.{fstype}")
    if tool is None:
        pytest.skip(f"needs mkfs.{fstype} (scripts/install-test-deps installs it)")
    image = tmp_path / f"{fstype}.img"
    with image.open("wb") as f:
        f.truncate(512 * MIB if fstype != "xfs" else 600 * MIB)
    args = {"ext4": ["-q", "-F"], "xfs": ["-q", "-f"], "btrfs": ["-q", "-f"]}[fstype]
    subprocess.run([tool, *args, str(image)], check=True, capture_output=True, timeout=60)
    return f"posixfs://?spec={image}&vfsType={fstype}&options=loop"


@pytest.fixture(params=["tmpfs", "ext4", "xfs", "btrfs", "sshfs", "glusterfs"])
def share(request: pytest.FixtureRequest, library: Library, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    kind: str = request.param
    if kind == "tmpfs":
        yield kind, library.tmpfs_share()
    elif kind in ("ext4", "xfs", "btrfs"):
        yield kind, _image(tmp_path, kind)
    elif kind == "sshfs":
        server = request.getfixturevalue("ssh_server")
        remote = tmp_path / "remote"
        remote.mkdir()
        yield kind, {"type": "posixfs", "params": {
            "spec": f"root@127.0.0.1:{remote}", "vfsType": "fuse.sshfs", "options": server.sshfs_options()}}
    else:
        server = request.getfixturevalue("gluster_server")
        yield kind, {"type": "glusterfs", "params": {"spec": server.spec}}


def _file_of(volume: cl.Volume) -> Path:
    backend = volume.backend
    assert isinstance(backend, cl.Backend)
    return backend.driver.store.path_of(f"volume-{volume.id}")  # type: ignore[attr-defined, no-any-return]


def _write_through(path: str, offset: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        assert os.pwrite(fd, PATTERN, offset) == len(PATTERN)
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(len(PATTERN))


def test_volume_life_on_a_real_share(library: Library, share: tuple[str, Any]) -> None:
    kind, uri = share
    backend = library.backend(f"fb-{kind}", share=uri)
    volume = backend.create_volume(size=1)

    for device_type, offset in (("file", 0), ("block", 3 * MIB)):
        connection = volume.attach(device_type=device_type)
        assert connection.device is not None and connection.device["type"] == device_type
        if device_type == "block":
            assert connection.path is not None and connection.path.startswith("/dev/loop")
        else:
            assert connection.path is not None and connection.path.endswith(f"volume-{volume.id}")
        _write_through(connection.path, offset)
        volume.detach()
        assert _read(_file_of(volume), offset) == PATTERN, f"{device_type} write did not reach the file"

    clone = volume.clone()
    stored = cl.Backend.persistence.get_volumes(volume_id=clone.id)[0]
    expected = "reflink" if kind in ("xfs", "btrfs") else "copy"
    assert stored.extra.get("copy") == expected
    assert _read(_file_of(clone), 3 * MIB) == PATTERN

    clone.delete()
    volume.delete()
    assert not _file_of(volume).exists() and not _file_of(clone).exists()
    assert library.agent.client().call("Volumes.list", {}) == {}
