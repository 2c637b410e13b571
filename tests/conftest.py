"""Shared fixtures: real agents and real mount roots. Root-only tests skip with a printed reason elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.peers.agent import AgentProcess, is_root

if TYPE_CHECKING:
    from tests.peers.sshd import SshServer
from tests.peers.mounts import unmount_all_under

needs_root = pytest.mark.skipif(not is_root(), reason="needs root: real mounts")


@pytest.fixture
def mount_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "mnt"
    root.mkdir()
    yield root
    if is_root():
        unmount_all_under(root)


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
