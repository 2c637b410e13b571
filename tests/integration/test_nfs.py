"""nfs references against a real nfs-ganesha: the agent tells "server down" from "this kernel has no NFS".

The agent pings the server (an NFS NULL call) before it runs mount(8), so a
dead server is reported as not reachable (451) and a live one that this
kernel cannot mount as unsupported (494). Where the kernel has an NFS client
the full path (connected, outage, recovery) is tested instead; each test
that does not apply to this kernel skips and says why.

The server listens on a free port, never on 2049, and references reach it
with the ``port=`` option (the kernel client and the agent's ping both take
it): a host where something already serves NFS on 2049 (the nfs-ganesha
package starts its own service on install) still runs every test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import Agent
from tests.conftest import kernel_module_available
from tests.peers.ganesha import NfsServer
from tests.peers.mounts import eventually, mounts_under

REF = "nfs"
UNSUPPORTED = 494
CONNECTION = 451


def kernel_nfs_missing() -> str | None:
    """Why this kernel cannot mount NFS, or None when it can (built in, loaded, or a module to load)."""
    with open("/proc/filesystems") as table:
        if {line.split()[-1] for line in table if line.strip()} & {"nfs", "nfs4"}:
            return None
    if kernel_module_available("nfs"):
        return None
    return f"kernel {os.uname().release} has no NFS client (not in /proc/filesystems, no nfs module)"


def _needs_kernel_without_nfs() -> None:
    if kernel_nfs_missing() is None:
        pytest.skip("this kernel has an NFS client: test_mount_connects_writes_and_recovers_... covers it")


def _info(server: NfsServer, **params: Any) -> dict[str, Any]:
    return {"type": "nfs", "params": {"export": "127.0.0.1:/export", "version": "4",
                                      "options": f"port={server.port}", **params}}


def _status(agent: Agent) -> dict[str, Any]:
    return agent.statuses([REF])[REF]


def _error_is(agent: Agent, code: int) -> dict[str, Any] | None:
    status = _status(agent)
    return status if status["lastError"][0] == code else None


def _acquire_and_wait(agent: Agent, info: dict[str, Any]) -> dict[str, Any]:
    assert agent.acquire({REF: info}) == {REF: 0}
    return agent.wait([REF], timeout=30)[REF]


def test_kernel_without_nfs_is_reported_as_unsupported_and_the_reference_stays(
    nfs_server: NfsServer, agent: Agent, mount_root: Path
) -> None:
    _needs_kernel_without_nfs()
    status = _acquire_and_wait(agent, _info(nfs_server))
    assert not status["connected"]
    code, message = status["lastError"]
    assert code == UNSUPPORTED, status
    assert "kernel" in message and "nfs" in message, message
    time.sleep(1.0)  # several reconcile periods and retries later
    again = _status(agent)
    assert again["managed"] and not again["connected"] and again["lastError"][0] == UNSUPPORTED
    assert again["connectionInfo"] == _info(nfs_server)
    assert mounts_under(mount_root) == {}


def test_reference_acquired_while_the_server_is_down_reports_not_reachable(
    nfs_server: NfsServer, agent: Agent
) -> None:
    nfs_server.kill()
    status = _acquire_and_wait(agent, _info(nfs_server))
    assert not status["connected"]
    code, message = status["lastError"]
    assert code == CONNECTION, status
    assert message == f"NFS server not reachable: 127.0.0.1:{nfs_server.port}: Connection refused"


def test_killed_server_turns_the_error_into_not_reachable(
    nfs_server: NfsServer, agent: Agent
) -> None:
    _needs_kernel_without_nfs()
    assert _acquire_and_wait(agent, _info(nfs_server))["lastError"][0] == UNSUPPORTED
    nfs_server.kill()
    down = eventually(lambda: _error_is(agent, CONNECTION), timeout=10)
    assert isinstance(down, dict) and not down["connected"]
    assert "not reachable" in down["lastError"][1]
    assert f"127.0.0.1:{nfs_server.port}" in down["lastError"][1]


def test_server_back_turns_the_error_back_into_unsupported(
    nfs_server: NfsServer, agent: Agent
) -> None:
    _needs_kernel_without_nfs()
    assert _acquire_and_wait(agent, _info(nfs_server))["lastError"][0] == UNSUPPORTED
    nfs_server.kill()
    eventually(lambda: _error_is(agent, CONNECTION), timeout=10)
    nfs_server.start()
    back = eventually(lambda: _error_is(agent, UNSUPPORTED), timeout=10)
    assert isinstance(back, dict) and back["managed"] and not back["connected"]


def test_port_option_is_where_the_server_is_pinged(nfs_server: NfsServer, agent: Agent) -> None:
    status = _acquire_and_wait(agent, _info(nfs_server))
    # The server answers on that port: connected where the kernel has NFS, unsupported where not.
    assert status["connected"] or status["lastError"][0] == UNSUPPORTED, status


def test_mount_connects_writes_and_recovers_after_a_server_restart(
    nfs_server: NfsServer, agent: Agent, mount_root: Path
) -> None:
    reason = kernel_nfs_missing()
    if reason:
        # The one case this test may skip: no server port can be in the way.
        reason = f"{reason}: the real NFS mount cannot run here"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    status = _acquire_and_wait(agent, _info(nfs_server))
    assert status["connected"], status
    path = Path(status["path"])
    assert mounts_under(mount_root)[str(path)].fstype in ("nfs", "nfs4")
    (path / "through-nfs").write_text("written by a client")
    assert (nfs_server.export / "through-nfs").read_text() == "written by a client"

    nfs_server.kill()
    down = eventually(lambda: None if _status(agent)["connected"] else _status(agent), timeout=30)
    assert isinstance(down, dict) and down["lastError"][0] != 0 and down["lastError"][1]

    nfs_server.start()
    eventually(lambda: _status(agent)["connected"], timeout=60)
    assert (path / "through-nfs").read_text() == "written by a client"
