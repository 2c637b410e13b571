"""Real tmpfs mounts: what the agent owns is its own mount, not a path (issue 7, defects 1, 3, 5, 7, 9)."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.agent import Agent, AgentConfig
from storconn.agent.connectors.base import target_path
from storconn.agent.system import mountinfo
from storconn.connection import parse_info
from tests.conftest import needs_root
from tests.integration.conftest import FAST
from tests.peers.mounts import eventually, mounts_under

pytestmark = needs_root


def _tmpfs(options: str = "size=16m", spec: str = "scratch") -> dict[str, object]:
    return {"type": "posixfs", "params": {"spec": spec, "vfsType": "tmpfs", "options": options}}


def _stack(path: str) -> list[mountinfo.MountEntry]:
    """Every mount at ``path``, bottom first, read here rather than through the code under test."""
    return [e for e in mountinfo.parse(Path("/proc/self/mountinfo").read_text()) if e.mountpoint == path]


def _size(path: str) -> str:
    """The tmpfs size option of the top mount at ``path``, from the super options mountinfo shows."""
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        fields = line.split(" ")
        if fields[4] == path:
            return next(o for o in fields[-1].split(",") if o.startswith("size="))
    return ""


def _connected_path(agent: Agent, ref_id: str) -> str:
    status = agent.wait([ref_id], timeout=10)[ref_id]
    assert status["connected"], status
    return str(status["path"])


@pytest.fixture
def config(tmp_path: Path, mount_root: Path) -> AgentConfig:
    return AgentConfig(state_dir=tmp_path / "state", mount_root=mount_root, reconciler=FAST)


@pytest.fixture
def restartable(config: AgentConfig) -> Iterator[list[Agent]]:
    """Agents started by the test, stopped at its end (each test stops and starts them itself)."""
    agents: list[Agent] = []
    yield agents
    for agent in agents:
        agent.stop()


def _start(config: AgentConfig, agents: list[Agent]) -> Agent:
    agent = Agent(config)
    agent.start()
    agents.append(agent)
    return agent


def _stop(agent: Agent, agents: list[Agent]) -> None:
    agent.stop()
    agents.remove(agent)


# -- defect 3: a target's details follow its references ------------------------


def test_new_details_after_a_release_are_mounted(agent: Agent, config: AgentConfig, mount_root: Path) -> None:
    assert agent.acquire({"a": _tmpfs("size=1m")}) == {"a": 0}
    path = _connected_path(agent, "a")
    assert _size(path) == "size=1024k"
    agent.release(["a"])
    assert agent.acquire({"b": _tmpfs("size=2m")}) == {"b": 0}  # within the grace period
    # Connected with the new details: after the grace period, remounted.
    eventually(lambda: agent.statuses(["b"])["b"]["connected"]
               and _size(path) == "size=2048k", timeout=10)
    assert len(_stack(path)) == 1
    time.sleep(FAST.grace + 3 * FAST.period)  # and it stays so: no flapping back
    assert _size(path) == "size=2048k"
    # The ownership record follows: the stored info is the new one.
    with sqlite3.connect(config.store_path) as db:
        (info,) = db.execute("SELECT info FROM owned").fetchone()
    assert "size=2m" in info and "size=1m" not in info


def test_old_details_back_within_the_grace_keep_the_mount(agent: Agent, mount_root: Path) -> None:
    agent.acquire({"a": _tmpfs("size=1m")})
    path = _connected_path(agent, "a")
    first = mounts_under(mount_root)[path].mount_id
    agent.release(["a"])
    agent.acquire({"b": _tmpfs("size=2m")})
    agent.release(["b"])
    agent.acquire({"c": _tmpfs("size=1m")})
    time.sleep(FAST.grace + 5 * FAST.period)
    assert mounts_under(mount_root)[path].mount_id == first
    assert agent.statuses(["c"])["c"]["connected"]


# -- defect 5: ownership of the mount itself ----------------------------------------


def test_foreign_mount_stacked_on_the_agents_stays_and_so_does_the_agents(agent: Agent, mount_root: Path) -> None:
    agent.acquire({"a": _tmpfs()})
    path = _connected_path(agent, "a")
    (ours,) = _stack(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "foreign", path], check=True, timeout=10)
    try:
        agent.release(["a"])
        time.sleep(FAST.grace + 10 * FAST.period)
        stack = _stack(path)
        assert [e.source for e in stack] == ["scratch", "foreign"]  # neither taken down
        assert stack[0].mount_id == ours.mount_id
    finally:
        subprocess.run(["umount", path], check=False, timeout=10)
    # Once the foreign one is gone, the agent's own is unmounted: nothing leaks.
    eventually(lambda: path not in mounts_under(mount_root), timeout=15)


def _as_after_a_reboot(config: AgentConfig, restartable: list[Agent]) -> str:
    """An agent mounted "a" and stopped; its mount is gone and its record names another boot. The path."""
    agent = _start(config, restartable)
    agent.acquire({"a": _tmpfs()})
    path = _connected_path(agent, "a")
    _stop(agent, restartable)
    subprocess.run(["umount", path], check=True, timeout=10)
    with sqlite3.connect(config.store_path) as db:
        db.execute("UPDATE owned SET boot_id = 'an-earlier-boot'")
    return path


def test_ownership_from_an_earlier_boot_is_not_adopted(config: AgentConfig, restartable: list[Agent], mount_root: Path) -> None:
    # A reboot: the agent's mount is gone, the record says another boot, and
    # someone else (fstab, an administrator) mounted the same thing there.
    path = _as_after_a_reboot(config, restartable)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "scratch", path], check=True, timeout=10)
    try:
        agent = _start(config, restartable)
        assert _connected_path(agent, "a") == path
        agent.release(["a"])
        time.sleep(FAST.grace + 10 * FAST.period)
        assert path in mounts_under(mount_root)  # not the agent's to unmount
    finally:
        subprocess.run(["umount", path], check=False, timeout=10)


def test_ownership_from_an_earlier_boot_is_connected_again(config: AgentConfig, restartable: list[Agent], mount_root: Path) -> None:
    path = _as_after_a_reboot(config, restartable)
    agent = _start(config, restartable)
    assert _connected_path(agent, "a") == path
    (entry,) = _stack(path)

    def recorded() -> tuple[str | None, str | None]:
        with sqlite3.connect(config.store_path) as db:
            row: tuple[str | None, str | None] = db.execute("SELECT mount_id, boot_id FROM owned").fetchone()
        return row

    # The mount id goes in with the next tick's commit.
    eventually(lambda: recorded()[0] is not None, timeout=10)
    mount_id, boot_id = recorded()
    assert mount_id is not None and int(mount_id) == entry.mount_id
    assert boot_id == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    agent.release(["a"])
    eventually(lambda: path not in mounts_under(mount_root), timeout=10)


# -- defect 1 (runtime): connected means really mounted, with the expected type and source --


def test_a_foreign_mount_of_something_else_at_the_path_is_not_connected(agent: Agent, mount_root: Path) -> None:
    path = target_path(mount_root, parse_info(_tmpfs()))
    Path(path).mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "something-else", path], check=True, timeout=10)
    try:
        agent.acquire({"a": _tmpfs()})
        status = agent.wait(["a"], timeout=10)["a"]
        assert not status["connected"] and status["path"] is None
        assert "something-else" in status["lastError"][1]
        time.sleep(5 * FAST.period)
        assert [e.source for e in _stack(path)] == ["something-else"]  # nothing mounted over it
    finally:
        agent.release(["a"])
        subprocess.run(["umount", path], check=False, timeout=10)


# -- defect 7: a mount point with nothing mounted takes no writes ---------------------


def test_mount_point_without_its_mount_takes_no_writes(config: AgentConfig, restartable: list[Agent]) -> None:
    agent = _start(config, restartable)
    agent.acquire({"a": _tmpfs()})
    path = _connected_path(agent, "a")
    _stop(agent, restartable)  # nobody to mount it again
    subprocess.run(["umount", "-l", path], check=True, timeout=10)
    with pytest.raises(PermissionError):
        (Path(path) / "lost").write_text("would land on the root file system")
    assert not (Path(path) / "lost").exists()
    agent = _start(config, restartable)  # and the agent can still mount over it
    assert _connected_path(agent, "a") == path
    (Path(path) / "kept").write_text("on the tmpfs")
    agent.release(["a"])
    eventually(lambda: not Path(path).exists(), timeout=10)  # unsealed and removed on release


# -- defect 9: a busy mount is retried at the tick period, with backoff ----------------


def test_busy_mount_is_retried_with_backoff(agent: Agent, mount_root: Path) -> None:
    agent.acquire({"a": _tmpfs()})
    path = _connected_path(agent, "a")
    holder = subprocess.Popen(["sleep", "60"], cwd=path)
    try:
        agent.release(["a"])
        failed = agent.metrics.operations.labels("disconnect", "failed")
        eventually(lambda: failed._value.get() >= 1, timeout=5)
        before = failed._value.get()
        time.sleep(4)
        attempts = failed._value.get() - before
        # Period 0.1 s doubling: 0.2, 0.4, 0.8, 1.6, 3.2 s... at most ~6 in 4 s (it was ~80).
        assert attempts <= 8, attempts
        assert path in mounts_under(mount_root)
    finally:
        holder.kill()
        holder.wait()
    eventually(lambda: path not in mounts_under(mount_root), timeout=15)
