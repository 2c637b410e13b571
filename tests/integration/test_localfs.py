"""localfs: a real directory, linked under the mount root."""

from __future__ import annotations

import os
from pathlib import Path

from storconn.agent import Agent
from tests.peers.mounts import eventually


def test_directory_is_linked_and_unlinked(agent: Agent, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    agent.acquire({"d": {"type": "localfs", "params": {"path": str(data)}}})
    status = agent.wait(["d"], timeout=10)["d"]
    assert status["connected"], status
    link = Path(status["path"])
    assert os.readlink(link) == str(data)
    (link / "file").write_text("through the link")
    assert (data / "file").read_text() == "through the link"
    agent.release(["d"])
    eventually(lambda: not os.path.lexists(link))
    assert data.is_dir()  # the directory itself is never touched


def test_missing_directory_is_a_validation_error(agent: Agent, tmp_path: Path) -> None:
    agent.acquire({"d": {"type": "localfs", "params": {"path": str(tmp_path / "missing")}}})
    status = agent.wait(["d"], timeout=10)["d"]
    assert not status["connected"]
    assert status["lastError"][0] == 453 and "does not exist" in status["lastError"][1]


def test_a_file_is_not_a_directory(agent: Agent, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    agent.acquire({"d": {"type": "localfs", "params": {"path": str(tmp_path / "file")}}})
    status = agent.wait(["d"], timeout=10)["d"]
    assert status["lastError"][0] == 453 and "not a directory" in status["lastError"][1]


def test_directory_created_later_is_connected_without_a_client_call(agent: Agent, tmp_path: Path) -> None:
    data = tmp_path / "later"
    agent.acquire({"d": {"type": "localfs", "params": {"path": str(data)}}})
    agent.wait(["d"], timeout=5)
    data.mkdir()
    eventually(lambda: agent.statuses(["d"])["d"]["connected"], timeout=10)
