"""Shared fixtures: real agents and real mount roots. Root-only tests skip with a printed reason elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.peers.agent import AgentProcess, is_root

if TYPE_CHECKING:
    from tests.peers.sshd import SshServer
from tests.peers.mounts import unmount_all_under

needs_root = pytest.mark.skipif(not is_root(), reason="needs root: real mounts")


def kernel_module_available(module: str) -> bool:
    """Whether the kernel has ``module`` or can load it: not only whether it is loaded now.

    A fresh host loads iscsi_tcp or nfs on first use (iscsiadm and mount ask
    for them), so "not loaded" must not skip the tests that would run there.
    ``modprobe -n`` finds modules built in or on disk; without modprobe the
    module tree is searched.
    """
    if Path("/sys/module", module).exists():
        return True
    modprobe = shutil.which("modprobe") or next(
        (p for p in ("/sbin/modprobe", "/usr/sbin/modprobe") if Path(p).exists()), None
    )
    if modprobe:
        dry_run = subprocess.run(
            [modprobe, "-n", module], capture_output=True, timeout=10, check=False
        )
        return dry_run.returncode == 0
    tree = Path("/lib/modules", os.uname().release)
    try:
        if f"/{module}.ko" in (tree / "modules.builtin").read_text():
            return True
    except OSError:
        pass
    return any(tree.rglob(f"{module}.ko*")) if tree.is_dir() else False


@pytest.fixture
def mount_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "mnt"
    root.mkdir()
    yield root
    if is_root():
        unmount_all_under(root)
        # The agent seals its mount points (immutable); unseal them so that
        # pytest can remove the test's directory.
        subprocess.run(["chattr", "-R", "-i", str(root)], check=False, capture_output=True, timeout=30)


@pytest.fixture
def agent_process(tmp_path: Path, mount_root: Path) -> Iterator[AgentProcess]:
    agent = AgentProcess(tmp_path / "state", mount_root)
    agent.start()
    yield agent
    agent.stop()


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator["SshServer"]:
    from tests.peers.sshd import SshServer, available

    if not is_root():
        pytest.skip("needs root: sshd and FUSE mounts")
    reason = available()
    if reason:
        pytest.skip(reason)
    server = SshServer(tmp_path / "sshd")
    server.start()
    yield server
    server.stop()


# -- GlusterFS and NFS servers (tests/peers/gluster.py, tests/peers/ganesha.py) --

if TYPE_CHECKING:
    from tests.peers.ganesha import NfsServer
    from tests.peers.gluster import GlusterServer


@pytest.fixture(scope="session")
def gluster_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlusterServer]:
    """One glusterd and one started single-brick volume for the whole session (start ~3 s, stop ~1 s)."""
    from tests.peers.gluster import GlusterServer, available

    if not is_root():
        pytest.skip("needs root: glusterd and FUSE mounts")
    reason = available()
    if reason:
        pytest.skip(reason)
    server = GlusterServer(tmp_path_factory.mktemp("gluster"))
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
def gluster_server(gluster_session: GlusterServer) -> GlusterServer:
    """The session's GlusterFS server, with glusterd and the brick up when the test begins."""
    gluster_session.ensure_up()
    return gluster_session


def _nfs_server(workdir: Path, port: int | None) -> Iterator[NfsServer]:
    from tests.peers.ganesha import NfsServer, available

    if not is_root():
        pytest.skip("needs root: nfs-ganesha")
    reason = available(port)
    if reason:
        pytest.skip(reason)
    server = NfsServer(workdir, port=port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nfs_server(tmp_path: Path) -> Iterator[NfsServer]:
    """nfs-ganesha, NFSv4 only, on 127.0.0.1 and a free port (for libnfs and the agent's ping)."""
    yield from _nfs_server(tmp_path / "ganesha", None)


@pytest.fixture
def nfs_server_2049(tmp_path: Path) -> Iterator[NfsServer]:
    """nfs-ganesha on 127.0.0.1:2049, where the agent's NFS references reach it; skips if the port is taken."""
    from tests.peers.ganesha import NFS_PORT

    yield from _nfs_server(tmp_path / "ganesha", NFS_PORT)
