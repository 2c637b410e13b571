"""iSCSI against a real tgtd on 127.0.0.1: discovery, CHAP, and the agent's answers.

This kernel may have no iSCSI initiator (no iscsi_tcp): then discovery goes
through libiscsi, the agent reports 494 (or 476 for a wrong CHAP password)
and keeps the reference, and the login/logout test is skipped. Where the
module exists the full session path runs.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import Agent
from storconn.agent.system import iscsi_records, iscsi_sysfs, iscsiadm
from storconn.connection import ErrorCode, StorconnError
from tests.conftest import kernel_module_available
from tests.peers.agent import is_root
from tests.peers.mounts import eventually
from tests.peers.tgt import Target, TgtServer, available, node_records, remove_node_records

USER, PASSWORD = "storconn", "chap-secret-12"


@pytest.fixture
def tgt(tmp_path: Path) -> Iterator[TgtServer]:
    reason = available()
    if reason:
        pytest.skip(reason)
    server = TgtServer(tmp_path / "tgt")
    # Unique names: iscsiadm keeps node records host-wide, in /etc/iscsi.
    tag = uuid.uuid4().hex[:8]
    server.add_target(f"iqn.2026-01.test.storconn:{tag}-open")
    server.add_target(f"iqn.2026-01.test.storconn:{tag}-chap", chap=(USER, PASSWORD))
    server.start()
    yield server
    server.stop()
    _operations_finished(timeout=30)
    for target in server.targets:
        remove_node_records(target.iqn, server.port)


@pytest.fixture
def iscsi_agent(tgt: TgtServer, agent: Agent) -> Agent:
    """The agent, set up after tgt so that it stops first and no login races the teardown."""
    return agent


def _operations_finished(*, timeout: float) -> None:
    """Wait for a stopped agent's operations: a login still running would write a node record."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.startswith("storconn-op"):
            thread.join(max(0.0, deadline - time.monotonic()))


def _open(server: TgtServer) -> Target:
    return server.targets[0]


def _chap(server: TgtServer) -> Target:
    return server.targets[1]


def _no_initiator() -> None:
    # Loadable counts as present: iscsiadm loads iscsi_tcp on the first login.
    if kernel_module_available("iscsi_tcp"):
        pytest.skip(
            "this kernel has the iSCSI initiator (iscsi_tcp loaded or loadable): logins can "
            "succeed here (see the session test)"
        )


def _status(agent: Agent, ref_id: str) -> dict[str, Any]:
    return agent.statuses([ref_id])[ref_id]


# -- discovery and the user-space login check ----------------------------------------


def test_discover_lists_the_targets(tgt: TgtServer) -> None:
    found = iscsiadm.discover("127.0.0.1", tgt.port, timeout=15)
    assert sorted(t.iqn for t in found) == sorted(t.iqn for t in tgt.targets)
    assert {(t.hostname, t.port, t.tpgt) for t in found} == {("127.0.0.1", tgt.port, 1)}


def test_user_space_discovery_needs_no_chap(tgt: TgtServer) -> None:
    found = iscsiadm.discover_userspace("127.0.0.1", tgt.port, timeout=5)
    assert _chap(tgt).iqn in {t.iqn for t in found}


def test_discovery_of_a_dead_portal_is_475(tgt: TgtServer) -> None:
    tgt.stop()
    with pytest.raises(StorconnError) as caught:
        iscsiadm.discover("127.0.0.1", tgt.port, timeout=15)
    assert caught.value.code == ErrorCode.ISCSI_DISCOVERY


def test_check_login_tells_right_credentials_from_wrong_ones(tgt: TgtServer) -> None:
    iqn = _chap(tgt).iqn
    iscsiadm.check_login("127.0.0.1", tgt.port, iqn, USER, PASSWORD, timeout=5)
    with pytest.raises(StorconnError) as caught:
        iscsiadm.check_login("127.0.0.1", tgt.port, iqn, USER, "wrong-password", timeout=5)
    assert caught.value.code == ErrorCode.ISCSI_LOGIN_AUTH
    assert "wrong-password" not in caught.value.message


def test_check_login_of_a_hung_target_stops_at_its_budget(tgt: TgtServer) -> None:
    tgt.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StorconnError) as caught:
            iscsiadm.check_login("127.0.0.1", tgt.port, _open(tgt).iqn, None, None, timeout=1)
        assert caught.value.code == ErrorCode.TIMEOUT
        assert time.monotonic() - started < 3
    finally:
        tgt.resume()


# -- the agent on a kernel without the initiator -----------------------------------------


def test_the_agent_reports_that_this_kernel_cannot_log_in(
    iscsi_agent: Agent, tgt: TgtServer
) -> None:
    _no_initiator()
    agent = iscsi_agent
    assert agent.acquire({"lun": tgt.info(_open(tgt))}) == {"lun": 0}
    status = agent.wait(["lun"], timeout=30)["lun"]
    assert not status["connected"]
    code, message = status["lastError"]
    assert code == ErrorCode.UNSUPPORTED
    assert "kernel" in message and "iscsi_tcp" in message
    assert "accepted this host" in message  # the target itself is fine
    # The reference survives, and the agent keeps trying.
    time.sleep(1)
    again = _status(agent, "lun")
    assert again["lastError"][0] == ErrorCode.UNSUPPORTED
    assert again["connectionInfo"]["params"]["target"]["iqn"] == _open(tgt).iqn


def test_right_chap_credentials_are_reported_accepted(iscsi_agent: Agent, tgt: TgtServer) -> None:
    _no_initiator()
    agent = iscsi_agent
    agent.acquire({"chap": tgt.info(_chap(tgt))})
    status = agent.wait(["chap"], timeout=30)["chap"]
    code, message = status["lastError"]
    assert code == ErrorCode.UNSUPPORTED
    assert "accepted the credentials" in message
    assert PASSWORD not in str(status)


def test_a_wrong_chap_password_is_476(iscsi_agent: Agent, tgt: TgtServer) -> None:
    # 476 on any kernel: iscsiadm's exit 24 where the initiator exists, libiscsi's check here.
    agent = iscsi_agent
    agent.acquire({"chap": tgt.info(_chap(tgt), password="wrong-password")})
    status = agent.wait(["chap"], timeout=40)["chap"]
    assert not status["connected"]
    assert status["lastError"][0] == ErrorCode.ISCSI_LOGIN_AUTH, status
    assert "wrong-password" not in str(status)
    assert not node_records(_chap(tgt).iqn).exists()  # a failed login leaves no record


# -- the full session path (only where the kernel has iscsi_tcp) ------------------------


def test_two_references_share_one_session_until_the_last_release(
    iscsi_agent: Agent, tgt: TgtServer
) -> None:
    if not kernel_module_available("iscsi_tcp"):
        reason = (
            "no iscsi_tcp, loaded or to load (modprobe -n): this kernel has no iSCSI initiator, "
            "so no session can exist"
        )
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    agent = iscsi_agent
    target = _chap(tgt)
    info = tgt.info(target)
    assert agent.acquire({"a": info, "b": info}) == {"a": 0, "b": 0}
    statuses = agent.wait(["a", "b"], timeout=60)
    assert statuses["a"]["connected"] and statuses["b"]["connected"], statuses

    def sessions() -> list[iscsi_sysfs.Session]:
        return [s for s in iscsi_sysfs.sessions() if s.iqn == target.iqn]

    assert len(sessions()) == 1 and sessions()[0].logged_in
    eventually(lambda: sessions()[0].disks, timeout=10)  # the LUN shows up as a disk

    agent.release(["a"])
    time.sleep(1.5)  # past the test agent's grace (0.3 s) and several ticks
    assert len(sessions()) == 1 and _status(agent, "b")["connected"]

    agent.release(["b"])
    eventually(lambda: not sessions(), timeout=30)
    eventually(lambda: not node_records(target.iqn).exists(), timeout=10)


# -- node records: the CHAP password written where iscsiadm reads it ---------------------


def test_iscsiadm_reads_the_chap_settings_written_into_its_record() -> None:
    if not is_root():
        pytest.skip("needs root: node records live in /etc/iscsi")
    node = iscsiadm.Node(f"iqn.2026-01.test.storconn:{uuid.uuid4().hex[:8]}-record", "127.0.0.1",
                         3260, tpgt=1)
    try:
        iscsiadm.new_node(node, timeout=15)
        iscsi_records.write_secrets(node, {
            "node.session.auth.authmethod": "CHAP",
            "node.session.auth.username": USER,
            "node.session.auth.password": PASSWORD,
        })
        iscsiadm.update_node(node, "node.startup", "manual", timeout=15)  # a later update keeps them
        shown = subprocess.run(node.argv() + ["-o", "show", "-S"], capture_output=True, text=True,
                               timeout=15, check=False).stdout.splitlines()
        assert "node.session.auth.authmethod = CHAP" in shown
        assert f"node.session.auth.username = {USER}" in shown
        assert f"node.session.auth.password = {PASSWORD}" in shown
        assert "node.startup = manual" in shown
    finally:
        remove_node_records(node.iqn, 3260)
