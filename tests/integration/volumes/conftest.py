"""Fixtures for the volumes library: a real agent per module, a fresh library per test.

The library keeps process-wide state as cinderlib does (``Backend.backends``,
``Backend.persistence``, the agent address); ``library`` resets it around
each test so tests never see each other's backends.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import storconn.volumes as cl
from storconn.volumes import agent_link
from tests.peers.agent import AgentProcess, is_root
from tests.peers.mounts import unmount_all_under


@dataclass
class Library:
    agent: AgentProcess
    share_dir: Path
    tmp: Path

    @property
    def share_uri(self) -> str:
        return f"localfs://{self.share_dir}"

    def tmpfs_share(self, size: str = "256m") -> str:
        """A posixfs share on a fresh tmpfs: the agent mounts it like any network share."""
        return f"posixfs://?spec=storconn-vol-{self.tmp.name[-8:]}&vfsType=tmpfs&options=size%3D{size}"

    def backend(self, name: str = "b1", **config: object) -> cl.Backend:
        config.setdefault("volume_driver", "file")
        config.setdefault("share", self.share_uri)
        return cl.Backend(name, **config)


def _reset(agent: AgentProcess, persistence: object) -> None:
    for backend in list(cl.Backend.backends.values()):
        backend.driver.close()
    cl.Backend.backends.clear()
    agent_link.close_all()
    cl.setup(
        persistence_config=persistence,
        agent_url=agent.url,
        agent_token_file=str(agent.state_dir / "token"),
    )


@pytest.fixture(scope="module")
def volumes_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    if not is_root():
        pytest.skip("needs root: the agent mounts shares")
    base = tmp_path_factory.mktemp("volagent")
    mount_root = base / "mnt"
    mount_root.mkdir()
    agent = AgentProcess(base / "state", mount_root)
    agent.start()
    yield agent
    agent.stop()
    unmount_all_under(mount_root)
    subprocess.run(["chattr", "-R", "-i", str(mount_root)], check=False, capture_output=True, timeout=30)


@pytest.fixture
def library(volumes_agent: AgentProcess, tmp_path: Path) -> Iterator[Library]:
    share = tmp_path / "share"
    share.mkdir()
    _reset(volumes_agent, {"storage": "memory"})
    yield Library(volumes_agent, share, tmp_path)
    client = volumes_agent.client()
    for connection_id in client.call("Volumes.list", {}):
        client.call("Volumes.detach", {"connectionID": connection_id})
    refs = [ref for ref in client.statuses() if not ref.startswith("unmanaged:")]
    if refs:
        client.release(refs)
    client.close()
    _reset(volumes_agent, {"storage": "memory"})


@pytest.fixture
def node_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """A second agent: the node of the remote flows, with its own state and mount root."""
    (tmp_path / "node").mkdir()
    mount_root = tmp_path / "node" / "mnt"
    mount_root.mkdir()
    agent = AgentProcess(tmp_path / "node" / "state", mount_root)
    agent.start()
    yield agent
    client = agent.client()
    for connection_id in client.call("Volumes.list", {}):
        client.call("Volumes.detach", {"connectionID": connection_id})
    agent.stop()
    unmount_all_under(mount_root)
    subprocess.run(["chattr", "-R", "-i", str(mount_root)], check=False, capture_output=True, timeout=30)
