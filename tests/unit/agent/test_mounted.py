"""How the mount connectors recognise their own target in the mount table: type and source, not the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from storconn.agent.connectors.base import Timeouts
from storconn.agent.connectors.mounted import GlusterfsConnector, NfsConnector, PosixfsConnector, same_source
from storconn.agent.system.mountinfo import MountEntry
from storconn.connection import parse_info


def _entry(fstype: str, source: str) -> MountEntry:
    return MountEntry(1, "/mnt/x", fstype, source, "rw")


@pytest.mark.parametrize(
    ("spec", "shown", "same"),
    [
        ("scratch", "scratch", True),
        ("scratch", "other", False),
        ("server:/export", "server:/export", True),
        ("server:/export/", "server:/export", True),
        ("Server:/export", "server:/export", True),
        ("server:/a//b", "server:/a/b", True),
        ("server:/export", "server:/other", False),
        ("[fd00::1]:/export", "[fd00::1]:/export", True),
        ("root@127.0.0.1:/srv/data", "root@127.0.0.1:/srv/data", True),
        ("gluster1:/vol", "gluster1:vol", True),
        ("UUID=1234", "/dev/sdb1", True),
        ("/srv/image.raw", "/dev/sdb1", False),
    ],
)
def test_same_source(spec: str, shown: str, same: bool) -> None:
    assert same_source(spec, shown) is same


def test_nfs_is_either_version_and_its_export(tmp_path: Path) -> None:
    connector = NfsConnector(tmp_path, Timeouts())
    info = parse_info({"type": "nfs", "params": {"export": "127.0.0.1:/export"}})
    path = connector.path(info)
    assert connector.present(info, path, {path: _entry("nfs4", "127.0.0.1:/export")})
    assert connector.present(info, path, {path: _entry("nfs", "127.0.0.1:/export")})
    assert not connector.present(info, path, {path: _entry("tmpfs", "127.0.0.1:/export")})
    assert not connector.present(info, path, {path: _entry("nfs4", "127.0.0.1:/elsewhere")})


def test_glusterfs_shows_as_fuse_glusterfs(tmp_path: Path) -> None:
    connector = GlusterfsConnector(tmp_path, Timeouts(), log_dir=tmp_path / "log")
    info = parse_info({"type": "glusterfs", "params": {"spec": "127.0.0.1:/vm"}})
    path = connector.path(info)
    assert connector.present(info, path, {path: _entry("fuse.glusterfs", "127.0.0.1:/vm")})
    assert not connector.present(info, path, {path: _entry("fuse.sshfs", "127.0.0.1:/vm")})


def test_a_foreign_mount_of_another_type_at_the_path_is_not_the_target(tmp_path: Path) -> None:
    connector = PosixfsConnector(tmp_path, Timeouts())
    info = parse_info({"type": "posixfs", "params": {"spec": "root@h:/d", "vfsType": "fuse.sshfs"}})
    path = connector.path(info)
    assert connector.present(info, path, {path: _entry("fuse.sshfs", "root@h:/d")})
    assert not connector.present(info, path, {path: _entry("tmpfs", "root@h:/d")})
    assert not connector.present(info, path, {})
