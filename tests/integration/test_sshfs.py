"""sshfs through the posixfs connector against a real sshd: outages are seen and healed without client calls."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import Agent
from tests.peers.mounts import eventually, mounts_under
from tests.peers.sshd import SshServer


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    directory = tmp_path / "remote"
    directory.mkdir()
    return directory


def _info(server: SshServer, remote: Path, extra: str = "") -> dict[str, Any]:
    options = server.sshfs_options() + (f",{extra}" if extra else "")
    return {"type": "posixfs", "params": {"spec": f"root@127.0.0.1:{remote}", "vfsType": "fuse.sshfs", "options": options}}


def _status(agent: Agent, ref_id: str = "ssh") -> dict[str, Any]:
    return agent.statuses([ref_id])[ref_id]


def _down(agent: Agent) -> dict[str, Any] | None:
    status = _status(agent)
    return None if status["connected"] else status


def _connect(agent: Agent, server: SshServer, remote: Path, extra: str = "") -> str:
    agent.acquire({"ssh": _info(server, remote, extra)})
    status = agent.wait(["ssh"], timeout=20)["ssh"]
    assert status["connected"], status
    return str(status["path"])


def _sshfs_pid(path: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"sshfs") and path.encode() in argv:
                return int(entry.name)
    raise AssertionError(f"no sshfs process for {path}")


def _write(path: Path, text: str) -> int:
    """Write in a child with a deadline, as a client would: an outage may make it fail or wait, never hang us."""
    try:
        return subprocess.run(["sh", "-c", f"printf %s '{text}' > '{path}'"], timeout=20,
                              capture_output=True).returncode
    except subprocess.TimeoutExpired:
        return -1


def test_write_through_outage_and_recovery(agent: Agent, ssh_server: SshServer, remote: Path, mount_root: Path) -> None:
    path = _connect(agent, ssh_server, remote)
    assert mounts_under(mount_root)[path].fstype == "fuse.sshfs"
    (Path(path) / "before").write_text("written before the outage")
    assert (remote / "before").read_text() == "written before the outage"

    ssh_server.kill()
    down = eventually(lambda: _down(agent), timeout=10)
    assert down["lastError"][0] != 0 and down["lastError"][1]  # type: ignore[index]
    assert down["path"] is None  # type: ignore[index]
    # A client that still writes to the old path during the outage: the write
    # fails, or it reaches the server once it is back; it never lands on the
    # local disk under the mount point, to be shadowed after recovery.
    during = _write(Path(path) / "during", "written during the outage")

    ssh_server.start()
    eventually(lambda: _status(agent)["connected"], timeout=15)
    assert (Path(path) / "before").read_text() == "written before the outage"
    if during == 0:
        assert (remote / "during").read_text() == "written during the outage"
    else:
        assert not (Path(path) / "during").exists() and not (remote / "during").exists()
    agent.release(["ssh"])
    eventually(lambda: path not in mounts_under(mount_root), timeout=15)
    # Nothing was written under the mount itself.
    assert not Path(path).exists() or not any(Path(path).iterdir())


def test_failed_repair_leaves_no_writable_path(agent: Agent, ssh_server: SshServer, remote: Path, mount_root: Path) -> None:
    path = _connect(agent, ssh_server, remote)
    ssh_server.kill()
    os.kill(_sshfs_pid(path), signal.SIGKILL)  # ENOTCONN: repaired at once, and the reconnect fails
    eventually(lambda: path not in mounts_under(mount_root), timeout=15)  # the repair's lazy unmount
    status = eventually(lambda: _down(agent), timeout=10)
    assert status["path"] is None  # type: ignore[index]
    assert _write(Path(path) / "lost", "must not land on the root file system") != 0
    ssh_server.start()
    eventually(lambda: _status(agent)["connected"], timeout=20)
    assert _status(agent)["path"] == path
    (Path(path) / "after").write_text("reaches the server")
    assert (remote / "after").read_text() == "reaches the server"
    assert not (remote / "lost").exists()
    agent.release(["ssh"])
    eventually(lambda: path not in mounts_under(mount_root), timeout=15)
    assert not Path(path).exists() or not any(Path(path).iterdir())  # nothing landed underneath


def test_hung_server_leaves_the_api_answering(agent: Agent, ssh_server: SshServer, remote: Path) -> None:
    _connect(agent, ssh_server, remote)
    ssh_server.pause()
    try:
        worst = 0.0
        deadline = time.monotonic() + 6
        hung = None
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = _status(agent)
            worst = max(worst, time.perf_counter() - started)
            if status["lastError"][0] == 492:
                hung = status
            time.sleep(0.05)
        assert hung is not None, "the status never said hung"
        assert not hung["connected"] and "did not answer" in hung["lastError"][1]
        assert worst < 0.1, f"statuses took {worst:.3f} s while the server hung"
    finally:
        ssh_server.resume()
    eventually(lambda: _status(agent)["connected"], timeout=20)


def _remounted(agent: Agent, path: str, old_pid: int) -> bool:
    try:
        return _status(agent)["connected"] and _sshfs_pid(path) != old_pid
    except AssertionError:
        return False


def test_sshfs_that_exits_is_mounted_again_and_writes_reach_the_server(agent: Agent, ssh_server: SshServer, remote: Path) -> None:
    path = _connect(agent, ssh_server, remote)
    old = _sshfs_pid(path)
    os.kill(old, signal.SIGTERM)  # the daemon exits; the mount answers ECONNABORTED
    eventually(lambda: _remounted(agent, path, old), timeout=15)
    (Path(path) / "after").write_text("must reach the server")
    assert (remote / "after").read_text() == "must reach the server"


def test_mount_gone_leaves_no_write_on_local_disk(agent: Agent, ssh_server: SshServer, remote: Path, mount_root: Path) -> None:
    path = _connect(agent, ssh_server, remote)
    old = _sshfs_pid(path)
    # What sshfs without reconnect does when its session dies: it unmounts
    # itself and the mount point is a plain local directory again.
    subprocess.run(["fusermount", "-u", path], check=True, timeout=10)
    # A client writing right away: refused by the sealed mount point, or (if
    # the agent has mounted it again already) on the server; never local.
    early = _write(Path(path) / "early", "right after the unmount")
    eventually(lambda: _remounted(agent, path, old), timeout=15)
    (Path(path) / "landed").write_text("remote")
    assert (remote / "landed").read_text() == "remote"
    assert (remote / "early").exists() == (early == 0)
    agent.release(["ssh"])
    eventually(lambda: path not in mounts_under(mount_root), timeout=15)
    assert not Path(path).exists() or not any(Path(path).iterdir())


def test_killed_sshfs_enotconn_is_repaired(agent: Agent, ssh_server: SshServer, remote: Path) -> None:
    path = _connect(agent, ssh_server, remote)
    old = _sshfs_pid(path)
    os.kill(old, signal.SIGKILL)  # the mount stays, dead: ENOTCONN
    eventually(lambda: _remounted(agent, path, old), timeout=15)
    (Path(path) / "again").write_text("ok")
    assert (remote / "again").read_text() == "ok"


def test_refused_ssh_command_option(agent: Agent, ssh_server: SshServer, remote: Path) -> None:
    info = _info(ssh_server, remote, "ssh_command=touch /tmp/pwned")
    assert agent.acquire({"evil": info}) == {"evil": 1000}
    assert "evil" not in agent.statuses()


def test_agent_started_while_the_server_is_down_connects_when_it_returns(agent: Agent, ssh_server: SshServer, remote: Path) -> None:
    ssh_server.kill()
    agent.acquire({"ssh": _info(ssh_server, remote)})
    failed = agent.wait(["ssh"], timeout=20)["ssh"]
    assert not failed["connected"] and failed["lastError"][0] != 0
    ssh_server.start()
    eventually(lambda: _status(agent)["connected"], timeout=15)
    subprocess.run(["ls", _status(agent)["path"]], check=True, timeout=10)
