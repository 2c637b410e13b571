"""posixfs through real mount(8): tmpfs and a loop-mounted ext4 image."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from storconn.agent import Agent
from storconn.agent.connectors.base import target_path
from storconn.agent.system import mountinfo
from storconn.agent.system.mount import type_known
from storconn.connection import parse_info
from storconn.connection.fstypes import BLOCK_FS_TYPES
from tests.conftest import needs_root
from tests.integration.conftest import FAST
from tests.peers.mounts import eventually, mounts_under

pytestmark = needs_root

TMPFS = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=16m"}}


def _connected(agent: Agent, *ids: str) -> bool:
    statuses = agent.statuses(list(ids))
    return all(statuses[i]["connected"] for i in ids)


def test_two_references_one_mount_until_the_last_release(agent: Agent, mount_root: Path) -> None:
    assert agent.acquire({"a": TMPFS, "b": TMPFS}) == {"a": 0, "b": 0}
    eventually(lambda: _connected(agent, "a", "b"))
    mounts = mounts_under(mount_root)
    assert len(mounts) == 1
    (entry,) = mounts.values()
    assert entry.fstype == "tmpfs" and entry.mountpoint == agent.statuses(["a"])["a"]["path"]

    agent.release(["a"])
    # Past the grace period and a few ticks: a wrong unmount would have happened by now.
    time.sleep(FAST.grace + 5 * FAST.period)
    assert mounts_under(mount_root).get(entry.mountpoint) == entry
    assert _connected(agent, "b")

    agent.release(["b"])
    eventually(lambda: entry.mountpoint not in mounts_under(mount_root))


def test_loop_mounted_ext4_image(agent: Agent, tmp_path: Path, mount_root: Path) -> None:
    image = tmp_path / "disk.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True, timeout=10)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, timeout=60)
    info = {"type": "posixfs", "params": {"spec": str(image), "vfsType": "ext4", "options": "loop"}}
    agent.acquire({"disk": info})
    status = agent.wait(["disk"], timeout=20)["disk"]
    assert status["connected"], status["lastError"]
    (Path(status["path"]) / "hello").write_text("on ext4")
    assert mounts_under(mount_root)[status["path"]].fstype == "ext4"
    agent.release(["disk"])
    eventually(lambda: status["path"] not in mounts_under(mount_root))


def test_mount_failure_is_reported_and_the_reference_kept(agent: Agent) -> None:
    info = {"type": "posixfs", "params": {"spec": "/nonexistent/image", "vfsType": "ext4", "options": "loop"}}
    agent.acquire({"bad": info})
    status = agent.wait(["bad"], timeout=20)["bad"]
    assert not status["connected"]
    code, message = status["lastError"]
    assert code == 477 and "/nonexistent/image" in message
    assert "bad" in agent.statuses()


def test_a_type_outside_the_allow_list_is_refused_at_acquire(agent: Agent) -> None:
    answer = agent.acquire({"odd": {"type": "posixfs", "params": {"spec": "x", "vfsType": "nosuchfs"}}})
    assert answer == {"odd": 1000}
    assert "odd" not in agent.statuses()


def test_an_allowed_type_this_kernel_lacks_is_a_mount_type_error(agent: Agent) -> None:
    lacking = [fstype for fstype in sorted(BLOCK_FS_TYPES) if not type_known(fstype)]
    if not lacking:
        pytest.skip("this kernel can mount every allowed block type: no type to be missing")
    info = {"type": "posixfs", "params": {"spec": "/dev/storconn-nonexistent", "vfsType": lacking[0]}}
    assert agent.acquire({"odd": info}) == {"odd": 0}
    status = agent.wait(["odd"], timeout=20)["odd"]
    assert status["lastError"][0] == 470, status


def test_busy_mount_stays_and_is_reported_unmanaged(agent: Agent, mount_root: Path) -> None:
    agent.acquire({"a": TMPFS})
    path = agent.wait(["a"], timeout=10)["a"]["path"]
    with open(Path(path) / "held", "w") as held:
        held.write("busy")
        held.flush()
        agent.release(["a"])
        unmanaged = eventually(lambda: [s for i, s in agent.statuses().items()
                                        if i.startswith("unmanaged:") and s["path"] == path], timeout=5)
        assert unmanaged[0]["managed"] is False  # type: ignore[index]
        assert path in mounts_under(mount_root)
    # Once nothing holds it, the retried plain unmount succeeds.
    eventually(lambda: path not in mounts_under(mount_root))


def test_mount_made_by_someone_else_is_never_unmounted(agent: Agent, mount_root: Path) -> None:
    path = target_path(mount_root, parse_info(TMPFS))
    Path(path).mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "scratch", path], check=True, timeout=10)
    agent.acquire({"a": TMPFS})
    assert agent.wait(["a"], timeout=5)["a"]["connected"]
    agent.release(["a"])
    time.sleep(FAST.grace + 10 * FAST.period)  # well past the grace period, several ticks
    assert path in mounts_under(mount_root)
    assert not any(i.startswith("unmanaged:") and s["path"] == path and not s["connected"]
                   for i, s in agent.statuses().items())


def test_mount_removed_by_hand_comes_back(agent: Agent, mount_root: Path) -> None:
    agent.acquire({"a": TMPFS})
    path = agent.wait(["a"], timeout=10)["a"]["path"]
    subprocess.run(["umount", path], check=True, timeout=10)
    eventually(lambda: path in mounts_under(mount_root) and _connected(agent, "a"))


def test_many_targets_connect_in_parallel_each_mounted_once(agent: Agent, mount_root: Path) -> None:
    count = 120
    refs = {f"t{i}": {"type": "posixfs", "params": {"spec": f"bench-{i}", "vfsType": "tmpfs", "options": "size=1m"}}
            for i in range(count)}
    assert set(agent.acquire(refs).values()) == {0}
    statuses = agent.wait(list(refs), timeout=60)
    assert all(s["connected"] for s in statuses.values())
    time.sleep(0.5)  # a few more ticks: none may mount anything a second time
    prefix = str(mount_root) + "/"
    points = [e.mountpoint for e in mountinfo.parse(Path("/proc/self/mountinfo").read_text())
              if e.mountpoint.startswith(prefix)]
    assert len(points) == count and len(set(points)) == count
    agent.release(list(refs))
    eventually(lambda: not mounts_under(mount_root), timeout=30)


def test_mounts_are_nosuid_and_nodev(agent: Agent) -> None:
    agent.acquire({"a": TMPFS})
    path = agent.wait(["a"], timeout=10)["a"]["path"]
    options = set(mountinfo.read(path)[path].options.split(","))
    assert {"nosuid", "nodev"} <= options
