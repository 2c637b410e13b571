"""glusterfs references against a real glusterd and brick: outages are seen and healed without client calls."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import Agent, AgentConfig
from tests.integration.conftest import FAST
from tests.peers.gluster import GlusterServer
from tests.peers.mounts import eventually, mounts_under

REF = "gluster"


def _info(server: GlusterServer) -> dict[str, Any]:
    return {"type": "glusterfs", "params": {"spec": server.spec}}


def _status(agent: Agent) -> dict[str, Any]:
    return agent.statuses([REF])[REF]


def _down(agent: Agent) -> dict[str, Any] | None:
    status = _status(agent)
    return None if status["connected"] else status


def _connect(agent: Agent, server: GlusterServer) -> str:
    assert agent.acquire({REF: _info(server)}) == {REF: 0}
    status = agent.wait([REF], timeout=30)[REF]
    assert status["connected"], status
    return str(status["path"])


def test_mounted_through_fuse_and_writes_reach_the_brick(
    gluster_server: GlusterServer, agent: Agent, mount_root: Path
) -> None:
    path = _connect(agent, gluster_server)
    entry = mounts_under(mount_root)[path]
    assert (entry.fstype, entry.source) == ("fuse.glusterfs", gluster_server.spec)
    (Path(path) / "through-fuse").write_text("written by a client")
    assert (gluster_server.brick / "through-fuse").read_text() == "written by a client"


def test_killed_brick_shows_disconnected_and_the_reason(
    gluster_server: GlusterServer, agent: Agent, capsys: pytest.CaptureFixture[str]
) -> None:
    _connect(agent, gluster_server)
    errors: list[tuple[int, str]] = []

    def down_with_reason() -> dict[str, Any] | None:
        status = _down(agent)
        if status is not None and status["lastError"][0] and tuple(status["lastError"]) not in errors:
            errors.append(tuple(status["lastError"]))
        return status if errors else None

    killed = time.monotonic()
    gluster_server.kill_brick()
    down = eventually(down_with_reason, timeout=15, interval=0.005)
    elapsed = time.monotonic() - killed
    with capsys.disabled():
        print(f"\nbrick killed -> connected false in {elapsed:.3f} s: {errors[0]}")
    assert isinstance(down, dict) and not down["connected"]
    code, message = errors[0]
    # The first thing the agent sees is the FUSE client losing its brick.
    assert code == 495 and "Transport endpoint is not connected" in message, errors


def test_brick_back_reconnects_and_the_file_is_readable(
    gluster_server: GlusterServer, agent: Agent, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _connect(agent, gluster_server)
    (Path(path) / "survives").write_text("written before the outage")
    gluster_server.kill_brick()
    eventually(lambda: _down(agent), timeout=15)

    gluster_server.start_brick(ready=False)  # timed from the brick's start, not from a client's mount
    back = time.monotonic()
    eventually(lambda: _status(agent)["connected"], timeout=30, interval=0.005)
    elapsed = time.monotonic() - back
    with capsys.disabled():
        print(f"\nbrick back -> connected true in {elapsed:.3f} s")
    assert _status(agent)["lastError"] == (0, "")
    assert (Path(path) / "survives").read_text() == "written before the outage"


@pytest.fixture
def new_agent(tmp_path: Path, mount_root: Path) -> Iterator[Any]:
    """Start an agent on this test's state directory; every one started is stopped at the end."""
    started: list[Agent] = []

    def start() -> Agent:
        agent = Agent(AgentConfig(state_dir=tmp_path / "state", mount_root=mount_root, reconciler=FAST))
        agent.start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def test_agent_started_while_the_server_is_down_keeps_the_reference_and_connects_later(
    gluster_server: GlusterServer, new_agent: Any
) -> None:
    gluster_server.kill()
    first = new_agent()
    assert first.acquire({REF: _info(gluster_server)}) == {REF: 0}
    assert not first.wait([REF], timeout=30)[REF]["connected"]
    first.stop()

    agent = new_agent()  # starts with the reference in its store and no server
    failed = agent.wait([REF], timeout=30)[REF]
    assert not failed["connected"], failed
    assert failed["lastError"][0] != 0 and gluster_server.spec in failed["lastError"][1], failed
    assert failed["connectionInfo"]["params"]["spec"] == gluster_server.spec

    gluster_server.restart()
    eventually(lambda: _status(agent)["connected"], timeout=30)
    (Path(_status(agent)["path"]) / "late").write_text("connected once the server came back")
    assert (gluster_server.brick / "late").read_text() == "connected once the server came back"


def test_glusterfs_mounted_by_hand_is_listed_as_unmanaged(
    gluster_server: GlusterServer, agent: Agent, tmp_path: Path
) -> None:
    by_hand = tmp_path / "by-hand"
    by_hand.mkdir()
    subprocess.run(["mount", "-t", "glusterfs", gluster_server.spec, str(by_hand)],
                   check=True, capture_output=True, timeout=30)
    try:
        listed = {ref_id: status for ref_id, status in agent.statuses().items()
                  if status["path"] == str(by_hand)}
        assert len(listed) == 1, listed
        (ref_id, status), = listed.items()
        assert ref_id.startswith("unmanaged:")
        assert status["managed"] is False and status["connected"] is True
        assert status["connectionInfo"] == {"type": "glusterfs", "params": {"spec": gluster_server.spec}}
    finally:
        subprocess.run(["umount", str(by_hand)], check=False, capture_output=True, timeout=30)
