"""The agent as a process: SIGKILL loses no acknowledged reference, and targets come back by themselves."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

pytestmark = needs_root


def _tmpfs(spec: str) -> dict[str, object]:
    return {"type": "posixfs", "params": {"spec": spec, "vfsType": "tmpfs", "options": "size=4m"}}


def test_sigkill_loses_nothing_and_targets_stay(agent_process: AgentProcess, mount_root: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    refs = {f"r{i}": _tmpfs(f"s{i % 3}") for i in range(30)}
    refs["local"] = {"type": "localfs", "params": {"path": str(data)}}
    with agent_process.client() as client:
        assert set(client.acquire(refs).values()) == {0}
        # Killed right after the answer: the acknowledgement is the promise.
    agent_process.kill()
    agent_process.start()
    with agent_process.client() as client:
        statuses = client.wait(list(refs), timeout=20)
    assert set(statuses) == set(refs)
    assert all(s["connected"] for s in statuses.values()), statuses
    assert len(mounts_under(mount_root)) == 3


def test_targets_unmounted_while_down_are_mounted_again(agent_process: AgentProcess, mount_root: Path) -> None:
    """What a reboot looks like: the agent is gone and so are its mounts."""
    with agent_process.client() as client:
        client.acquire({"a": _tmpfs("boot1"), "b": _tmpfs("boot2")})
        client.wait(["a", "b"], timeout=10)
    agent_process.kill()
    for path in mounts_under(mount_root):
        subprocess.run(["umount", path], check=True, timeout=10)
    assert mounts_under(mount_root) == {}
    agent_process.start()
    eventually(lambda: len(mounts_under(mount_root)) == 2, timeout=15)
    with agent_process.client() as client:
        statuses = client.wait(["a", "b"], timeout=10)
    assert statuses["a"]["connected"] and statuses["b"]["connected"]


def test_orphan_left_by_a_kill_is_cleaned_on_start(agent_process: AgentProcess, mount_root: Path) -> None:
    with agent_process.client() as client:
        client.acquire({"a": _tmpfs("orphan")})
        client.wait(["a"], timeout=10)
        client.release(["a"])
    # Killed within the grace period: the mount is still there, unreferenced.
    agent_process.kill()
    assert len(mounts_under(mount_root)) == 1
    agent_process.start()
    eventually(lambda: mounts_under(mount_root) == {}, timeout=15)
