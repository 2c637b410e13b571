"""iSCSI without a kernel: sysfs read from fake trees, iscsiadm's exit codes, the connector's choices."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from storconn.agent.connectors import Timeouts
from storconn.agent.connectors.iscsi import IscsiConnector
from storconn.agent.connectors.ownership import FoundExisting
from storconn.agent.system import iscsi_records, iscsi_sysfs, iscsiadm
from storconn.agent.system.command import CommandNotFound, CommandResult, CommandTimeout
from storconn.agent.system.iscsi_sysfs import Session
from storconn.agent.system.iscsiadm import DiscoveredTarget, Node
from storconn.connection import ErrorCode, IscsiInfo, StorconnError, parse_info

IQN = "iqn.2026-01.test:lun1"
PASSWORD = "s3cret-chap-pass"


# -- a fake sysfs -------------------------------------------------------------------


@dataclass
class FakeSysfs:
    root: Path
    proc: Path
    _next_dev: int = 16

    def session(
        self,
        sid: int,
        *,
        iqn: str = IQN,
        address: str = "127.0.0.1",
        port: int = 3260,
        tpgt: int = 1,
        iface: str = "default",
        state: str = "LOGGED_IN",
        disks: tuple[str, ...] = (),
        class_connection: bool = False,
    ) -> Session:
        base = self.root / "class" / "iscsi_session" / f"session{sid}"
        base.mkdir(parents=True)
        for name, value in (
            ("targetname", iqn),
            ("tpgt", tpgt),
            ("state", state),
            ("ifacename", iface),
        ):
            (base / name).write_text(f"{value}\n")
        if class_connection:
            conn = self.root / "class" / "iscsi_connection" / f"connection{sid}:0"
        else:
            conn = (
                base / "device" / f"connection{sid}:0" / "iscsi_connection" / f"connection{sid}:0"
            )
        conn.mkdir(parents=True)
        (conn / "persistent_address").write_text(f"{address}\n")
        (conn / "persistent_port").write_text(f"{port}\n")
        for lun, disk in enumerate(disks, start=1):
            (base / "device" / f"target{sid}:0:0" / f"{sid}:0:0:{lun}" / "block" / disk).mkdir(
                parents=True
            )
            self.block(disk)
        (self.root / "module" / "iscsi_tcp").mkdir(parents=True, exist_ok=True)
        return next(s for s in iscsi_sysfs.sessions(self.root) if s.sid == sid)

    def block(self, name: str, parent: str | None = None) -> Path:
        path = self.root / "class" / "block" / (f"{parent}/{name}" if parent else name)
        (path / "holders").mkdir(parents=True, exist_ok=True)
        (path / "dev").write_text(f"8:{self._next_dev}\n")
        self._next_dev += 1
        if parent:
            (path / "partition").write_text("1\n")
        return path

    def mount(self, dev: str, source: str, mountpoint: str) -> None:
        line = f"36 25 {dev} / {mountpoint} rw,relatime shared:1 - ext4 {source} rw\n"
        with (self.proc / "self" / "mountinfo").open("a") as table:
            table.write(line)


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(
        "25 1 0:23 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    )
    (proc / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
    return FakeSysfs(tmp_path / "sys", proc)


# -- sysfs -------------------------------------------------------------------------


def test_no_sessions_where_the_kernel_has_no_initiator(tmp_path: Path) -> None:
    assert iscsi_sysfs.sessions(tmp_path) == []
    assert not iscsi_sysfs.kernel_has_initiator(tmp_path)


def test_a_session_is_read_with_its_portal_iface_tpgt_state_and_disks(sysfs: FakeSysfs) -> None:
    sysfs.session(3, address="10.0.0.5", port=3261, tpgt=2, iface="eth1", disks=("sdc", "sdb"))
    assert iscsi_sysfs.sessions(sysfs.root) == [
        Session(
            sid=3,
            iqn=IQN,
            address="10.0.0.5",
            port=3261,
            tpgt=2,
            iface="eth1",
            state="LOGGED_IN",
            disks=("sdb", "sdc"),
        )
    ]
    assert iscsi_sysfs.kernel_has_initiator(sysfs.root)


def test_the_connection_may_be_found_in_the_connection_class(sysfs: FakeSysfs) -> None:
    session = sysfs.session(1, address="fd00::5", class_connection=True)
    assert (session.address, session.port) == ("fd00::5", 3260)


def test_sessions_come_in_numeric_order(sysfs: FakeSysfs) -> None:
    for sid in (10, 2, 1):
        sysfs.session(sid)
    assert [s.sid for s in iscsi_sysfs.sessions(sysfs.root)] == [1, 2, 10]


def test_a_session_without_a_target_name_is_skipped(sysfs: FakeSysfs) -> None:
    sysfs.session(1)
    (sysfs.root / "class" / "iscsi_session" / "session2").mkdir()
    assert [s.sid for s in iscsi_sysfs.sessions(sysfs.root)] == [1]


def test_a_failed_session_is_not_logged_in(sysfs: FakeSysfs) -> None:
    assert not sysfs.session(1, state="FAILED").logged_in


def test_idle_disks_are_not_busy(sysfs: FakeSysfs) -> None:
    session = sysfs.session(1, disks=("sdb",))
    sysfs.block("sdb1", parent="sdb")
    assert not iscsi_sysfs.has_holders(session, sysfs.root, proc=sysfs.proc)


def test_a_disk_with_a_holder_is_busy(sysfs: FakeSysfs) -> None:
    session = sysfs.session(1, disks=("sdb",))
    (sysfs.root / "class" / "block" / "sdb" / "holders" / "dm-0").mkdir()
    assert iscsi_sysfs.users(session, sysfs.root, proc=sysfs.proc) == ["sdb is held by dm-0"]


def test_a_partition_mounted_through_an_alias_is_busy(sysfs: FakeSysfs) -> None:
    session = sysfs.session(1, disks=("sdb",))
    partition = sysfs.block("sdb1", parent="sdb")
    dev = (partition / "dev").read_text().strip()
    sysfs.mount(dev, "/dev/disk/by-id/wwn-0x1-part1", "/srv/data")
    assert iscsi_sysfs.users(session, sysfs.root, proc=sysfs.proc) == [
        "sdb1 is mounted on /srv/data"
    ]


def test_a_disk_mounted_by_name_is_busy(sysfs: FakeSysfs) -> None:
    session = sysfs.session(1, disks=("sdb",))
    sysfs.mount("0:99", "/dev/sdb", "/mnt")
    assert iscsi_sysfs.has_holders(session, sysfs.root, proc=sysfs.proc)


def test_a_disk_used_as_swap_is_busy(sysfs: FakeSysfs) -> None:
    session = sysfs.session(1, disks=("sdb",))
    with (sysfs.proc / "swaps").open("a") as swaps:
        swaps.write("/dev/sdb\tpartition\t65532\t0\t-2\n")
    assert iscsi_sysfs.users(session, sysfs.root, proc=sysfs.proc) == ["sdb is used as swap"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("::1", "0:0::1", True),
        ("[fd00::1]", "fd00::1", True),
        ("10.0.0.1", "10.0.0.2", False),
        ("Storage.Example", "storage.example", True),
    ],
)
def test_addresses_compare_as_addresses(a: str, b: str, same: bool) -> None:
    assert iscsi_sysfs.same_address(a, b) is same


# -- iscsiadm: argv, parsing, exit codes ---------------------------------------------


@dataclass
class FakeRun:
    """Stands in for command.run: answers by program, records every call."""

    answers: dict[str, CommandResult | Exception] = field(default_factory=dict)
    calls: list[tuple[list[str], list[str], dict[str, str] | None]] = field(default_factory=list)

    def __call__(
        self,
        argv: list[str],
        *,
        timeout: float,
        secrets: Any = (),
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        self.calls.append((list(argv), list(secrets), env))
        answer = self.answers.get(argv[0], _result(argv, 0))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def answer(self, program: str, returncode: int, stderr: str = "", stdout: str = "") -> None:
        self.answers[program] = CommandResult((program,), returncode, stdout, stderr)


def _result(argv: list[str], returncode: int, stdout: str = "", stderr: str = "") -> CommandResult:
    return CommandResult(tuple(argv), returncode, stdout, stderr)


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> FakeRun:
    fake = FakeRun()
    monkeypatch.setattr(iscsiadm, "run", fake)
    monkeypatch.setattr(iscsiadm, "INITIATOR_NAME_FILE", Path("/nonexistent"))
    return fake


NODE = Node(IQN, "127.0.0.1", 3260, tpgt=1, iface="default")

# What iscsiadm printed here (Debian 12, no iscsi_tcp), noise included.
NOISE = (
    "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
    "Failed to connect to bus: Host is down\n"
    "iscsiadm: can not connect to iSCSI daemon (111)!\n"
)
LOGIN_20 = NOISE + (
    "iscsiadm: Could not login to [iface: default, target: iqn.2026-01.test:lun1, "
    "portal: 127.0.0.1,3260].\niscsiadm: initiator reported error (20 - could not "
    "connect to iscsid)\niscsiadm: Could not log into all portals\n"
)
DISCOVERY_21 = NOISE + (
    "iscsiadm: Could not scan /sys/class/iscsi_transport.\nlibkmod: ERROR "
    "could not find module by name='iscsi_tcp'\niscsiadm: Could not insert module "
    "tcp. Kmod error -2\niscsiadm: Could not load transport tcp.Dropping interface "
    "default.\n"
)


def test_node_argv_carries_target_portal_tpgt_and_iface() -> None:
    assert NODE.argv() == [
        "iscsiadm",
        "-m",
        "node",
        "-T",
        IQN,
        "-p",
        "127.0.0.1:3260,1",
        "-I",
        "default",
    ]
    assert Node(IQN, "fd00::1", 3261).portal == "[fd00::1]:3261"


def test_new_node_update_login_and_logout_argv(fake_run: FakeRun) -> None:
    iscsiadm.new_node(NODE, timeout=1)
    iscsiadm.update_node(NODE, "node.startup", "manual", timeout=1)
    assert iscsiadm.login(NODE, timeout=1) is True
    iscsiadm.logout(NODE, timeout=1)
    iscsiadm.logout_session(7, timeout=1)
    argvs = [call[0] for call in fake_run.calls]
    assert argvs[0] == NODE.argv() + ["-o", "new"]
    assert argvs[1] == NODE.argv() + ["-o", "update", "-n", "node.startup", "-v", "manual"]
    assert argvs[2] == NODE.argv() + ["-l"]
    assert argvs[3] == NODE.argv() + ["-u"]
    assert argvs[4] == ["iscsiadm", "-m", "session", "-r", "7", "-u"]


# -- node record files (secrets never on a command line) ---------------------------

# What open-iscsi 2.1.8 wrote for `-o new` (abridged): both layouts it uses.
RECORD = """# BEGIN RECORD 2.1.8
node.name = {iqn}
node.tpgt = {tpgt}
node.startup = manual
iface.iscsi_ifacename = {iface}
node.session.auth.authmethod = None
node.session.auth.chap_algs = MD5
node.conn[0].address = {address}
node.conn[0].port = {port}
# END RECORD
"""


def _record(
    nodes: Path,
    relative: str,
    *,
    iqn: str = IQN,
    tpgt: int = -1,
    iface: str = "default",
    address: str = "127.0.0.1",
    port: int = 3260,
) -> Path:
    path = nodes / iqn / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RECORD.format(iqn=iqn, tpgt=tpgt, iface=iface, address=address, port=port))
    path.chmod(0o600)
    return path


def test_secrets_go_into_the_record_file_of_the_node(tmp_path: Path) -> None:
    mine = _record(tmp_path, "127.0.0.1,3260,1/default", tpgt=1)
    other_iface = _record(tmp_path, "127.0.0.1,3260,1/eth1", tpgt=1, iface="eth1")
    other_port = _record(tmp_path, "127.0.0.1,3261", port=3261)
    before = {p: p.read_text() for p in (other_iface, other_port)}
    iscsi_records.write_secrets(
        NODE,
        {"node.session.auth.authmethod": "CHAP", "node.session.auth.password": PASSWORD},
        nodes_dir=tmp_path,
    )
    lines = mine.read_text().splitlines()
    assert "node.session.auth.authmethod = CHAP" in lines
    assert "node.session.auth.authmethod = None" not in lines
    assert lines.count(f"node.session.auth.password = {PASSWORD}") == 1
    assert "node.conn[0].port = 3260" in lines  # the rest is kept
    assert stat.S_IMODE(mine.stat().st_mode) == 0o600
    assert {p: p.read_text() for p in (other_iface, other_port)} == before
    assert sorted(p.name for p in mine.parent.iterdir()) == ["default", "eth1"]  # no temporary


def test_a_node_without_tpgt_gets_secrets_in_every_record_iscsiadm_would_use(
    tmp_path: Path,
) -> None:
    old_layout = _record(tmp_path, "storage.example,3260", address="storage.example")
    discovered = _record(tmp_path, "storage.example,3260,2/default", tpgt=2,
                         address="storage.example")
    iscsi_records.write_secrets(
        Node(IQN.upper(), "Storage.Example"), {"node.session.auth.password": PASSWORD},
        nodes_dir=tmp_path,
    )
    for path in (old_layout, discovered):
        assert f"node.session.auth.password = {PASSWORD}" in path.read_text()


def test_secrets_for_a_node_without_a_record_are_465(tmp_path: Path) -> None:
    _record(tmp_path, "127.0.0.1,3260,1/default", tpgt=1, iface="eth1")
    with pytest.raises(StorconnError) as caught:
        iscsi_records.write_secrets(NODE, {"node.session.auth.password": PASSWORD},
                                    nodes_dir=tmp_path)
    assert caught.value.code == ErrorCode.ISCSI_SETUP
    assert PASSWORD not in caught.value.message


@pytest.mark.parametrize(
    ("returncode", "stderr", "code"),
    [
        (
            24,
            "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)",
            ErrorCode.ISCSI_LOGIN_AUTH,
        ),
        (12, "iscsiadm: iSCSI driver tcp is not loaded.", ErrorCode.UNSUPPORTED),
        (20, LOGIN_20, ErrorCode.UNSUPPORTED),
        (
            19,
            "iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)",
            ErrorCode.ISCSI_LOGIN,
        ),
        (
            5,
            "iscsiadm: initiator reported error (5 - encountered iSCSI login failure)",
            ErrorCode.ISCSI_LOGIN,
        ),
        (8, "iscsiadm: initiator reported error (8 - connection timed out)", ErrorCode.ISCSI_LOGIN),
        (21, "iscsiadm: Could not read iface info for eth9.", ErrorCode.ISCSI_IFACE),
    ],
)
def test_login_failures_get_their_codes(
    fake_run: FakeRun, returncode: int, stderr: str, code: ErrorCode
) -> None:
    fake_run.answer("iscsiadm", returncode, stderr)
    with pytest.raises(StorconnError) as caught:
        iscsiadm.login(NODE, timeout=1)
    assert caught.value.code == code


def test_a_login_without_initiator_says_what_the_host_lacks(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 20, LOGIN_20)
    with pytest.raises(StorconnError) as caught:
        iscsiadm.login(NODE, timeout=1)
    message = caught.value.message
    assert "iscsid" in message and "kernel" in message
    assert "systemd" not in message and "libkmod" not in message


def test_a_login_that_finds_a_session_says_it_made_none(fake_run: FakeRun) -> None:
    fake_run.answer(
        "iscsiadm", 15, "iscsiadm: default: 1 session requested, but 1 already present."
    )
    assert iscsiadm.login(NODE, timeout=1) is False


def test_logging_out_of_nothing_is_success(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 21, "iscsiadm: No matching sessions found")
    iscsiadm.logout(NODE, timeout=1)
    fake_run.answer("iscsiadm", 22, "iscsiadm: Could not get session info for sid 1")
    iscsiadm.logout_session(1, timeout=1)


def test_a_failed_logout_is_474(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 10, "iscsiadm: Could not logout of all requested sessions")
    with pytest.raises(StorconnError) as caught:
        iscsiadm.logout(NODE, timeout=1)
    assert caught.value.code == ErrorCode.ISCSI_LOGOUT


@pytest.mark.parametrize(
    ("returncode", "stderr", "code"),
    [
        (
            4,
            "iscsiadm: cannot make connection to 127.0.0.1: Connection refused",
            ErrorCode.ISCSI_DISCOVERY,
        ),
        (12, "iscsiadm: iSCSI driver tcp is not loaded.", ErrorCode.UNSUPPORTED),
        (20, "iscsiadm: can not connect to iSCSI daemon (111)!", ErrorCode.UNSUPPORTED),
        (21, DISCOVERY_21, ErrorCode.UNSUPPORTED),
        (21, NOISE + "iscsiadm: Could not read iface info for eth9.", ErrorCode.ISCSI_IFACE),
    ],
)
def test_discovery_failures_get_their_codes(
    fake_run: FakeRun, returncode: int, stderr: str, code: ErrorCode
) -> None:
    fake_run.answer("iscsiadm", returncode, stderr)
    with pytest.raises(StorconnError) as caught:
        iscsiadm.discover("127.0.0.1", 3260, timeout=1, fallback=False)
    assert caught.value.code == code


def test_discovery_asks_iscsiadm_without_touching_node_records(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 0, stdout="127.0.0.1:3260,1 iqn.2026-01.test:lun1\n")
    found = iscsiadm.discover("127.0.0.1", 3260, iface="eth1", timeout=1)
    assert found == [DiscoveredTarget(IQN, "127.0.0.1", 3260, 1)]
    assert fake_run.calls[0][0] == [
        "iscsiadm",
        "-m",
        "discovery",
        "-t",
        "sendtargets",
        "-p",
        "127.0.0.1:3260",
        "-I",
        "eth1",
        "-o",
        "nonpersistent",
    ]


def test_discovery_falls_back_to_libiscsi_where_iscsiadm_cannot(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 21, DISCOVERY_21)
    fake_run.answer("iscsi-ls", 0, stdout="Target:iqn.2026-01.test:lun1 Portal:127.0.0.1:3260,1\n")
    assert iscsiadm.discover("127.0.0.1", timeout=1) == [
        DiscoveredTarget(IQN, "127.0.0.1", 3260, 1)
    ]
    assert fake_run.calls[1][0] == ["iscsi-ls", "iscsi://127.0.0.1:3260/"]


def test_the_fallback_reports_the_portal_when_it_does_not_answer(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 12, "iscsiadm: iSCSI driver tcp is not loaded.")
    fake_run.answer(
        "iscsi-ls",
        10,
        "discoveryconnect_cb: connection failed : iscsi_service: "
        "socket error Connection refused(111).",
    )
    with pytest.raises(StorconnError) as caught:
        iscsiadm.discover("127.0.0.1", timeout=1)
    assert caught.value.code == ErrorCode.ISCSI_DISCOVERY
    assert "Connection refused" in caught.value.message


def test_without_libiscsi_the_fallback_keeps_iscsiadms_answer(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 12, "iscsiadm: iSCSI driver tcp is not loaded.")
    fake_run.answers["iscsi-ls"] = CommandNotFound("iscsi-ls is not installed")
    with pytest.raises(StorconnError) as caught:
        iscsiadm.discover("127.0.0.1", timeout=1)
    assert caught.value.code == ErrorCode.UNSUPPORTED
    assert "kernel" in caught.value.message


def test_a_command_past_its_budget_is_491(fake_run: FakeRun) -> None:
    fake_run.answers["iscsiadm"] = CommandTimeout(["iscsiadm"], 1)
    with pytest.raises(StorconnError) as caught:
        iscsiadm.login(NODE, timeout=1)
    assert caught.value.code == ErrorCode.TIMEOUT


def test_a_missing_iscsiadm_is_494(fake_run: FakeRun) -> None:
    fake_run.answers["iscsiadm"] = CommandNotFound("iscsiadm is not installed")
    with pytest.raises(StorconnError) as caught:
        iscsiadm.new_node(NODE, timeout=1)
    assert caught.value.code == ErrorCode.UNSUPPORTED
    assert "open-iscsi" in caught.value.message


def test_a_node_record_that_cannot_be_written_is_465(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 7, "iscsiadm: Cannot modify node.bogus. Invalid param name.")
    with pytest.raises(StorconnError) as caught:
        iscsiadm.update_node(NODE, "node.bogus", "1", timeout=1)
    assert caught.value.code == ErrorCode.ISCSI_SETUP


def test_deleting_a_missing_node_record_is_success(fake_run: FakeRun) -> None:
    fake_run.answer("iscsiadm", 21, "iscsiadm: No records found")
    iscsiadm.delete_node(NODE, timeout=1)


def test_discovery_output_of_both_tools_is_parsed() -> None:
    assert iscsiadm.parse_iscsiadm_discovery(
        "127.0.0.1:3260,1 iqn.a\n[fd00::1]:3261,2 iqn.b\n10.0.0.1:3260,-1 iqn.c\ngarbage\n"
    ) == [
        DiscoveredTarget("iqn.a", "127.0.0.1", 3260, 1),
        DiscoveredTarget("iqn.b", "fd00::1", 3261, 2),
        DiscoveredTarget("iqn.c", "10.0.0.1", 3260, None),
    ]
    # iscsi-ls, as it printed against tgtd (IPv4 and IPv6 portals).
    assert iscsiadm.parse_iscsi_ls(
        "Target:iqn.2026-01.test:chap Portal:127.0.0.1:13260,1\n"
        "Target:iqn.2026-01.test:six Portal:[::1]:13262,1\n"
    ) == [
        DiscoveredTarget("iqn.2026-01.test:chap", "127.0.0.1", 13260, 1),
        DiscoveredTarget("iqn.2026-01.test:six", "::1", 13262, 1),
    ]


def test_a_discovered_target_has_the_wire_shape_of_params_target() -> None:
    wire = DiscoveredTarget(IQN, "fd00::1", 3260, 1).to_wire()
    assert wire == {"portal": {"hostname": "fd00::1", "port": 3260}, "iqn": IQN, "tpgt": 1}
    info = parse_info({"type": "iscsi", "params": {"target": wire}})
    assert isinstance(info, IscsiInfo)


def test_check_login_passes_chap_in_the_environment_only(fake_run: FakeRun) -> None:
    iscsiadm.check_login("127.0.0.1", 3260, IQN, "alice", PASSWORD, timeout=1)
    argv, secrets, env = fake_run.calls[0]
    assert argv == ["iscsi-inq", f"iscsi://127.0.0.1:3260/{IQN}/0"]
    assert PASSWORD not in " ".join(argv) and secrets == [PASSWORD]
    assert env is not None
    assert env["LIBISCSI_CHAP_USERNAME"] == "alice" and env["LIBISCSI_CHAP_PASSWORD"] == PASSWORD


@pytest.mark.parametrize(
    ("stderr", "code"),
    [
        (
            "Login Failed. Failed to log in to target. Status: Authentication failure(513)",
            ErrorCode.ISCSI_LOGIN_AUTH,
        ),
        (
            "Login Failed. Failed to log in to target. Status: Target not found(515)",
            ErrorCode.ISCSI_LOGIN,
        ),
        (
            (
                "Login Failed. iscsi_service failed with : iscsi_service_reconnect_if_loggedin. "
                "Can not reconnect right now."
            ),
            ErrorCode.ISCSI_LOGIN,
        ),
    ],
)
def test_check_login_failures_get_their_codes(
    fake_run: FakeRun, stderr: str, code: ErrorCode
) -> None:
    fake_run.answer("iscsi-inq", 10, stderr)
    with pytest.raises(StorconnError) as caught:
        iscsiadm.check_login("127.0.0.1", 3260, IQN, "alice", PASSWORD, timeout=1)
    assert caught.value.code == code


def test_a_scsi_error_after_the_login_means_the_login_was_accepted(fake_run: FakeRun) -> None:
    fake_run.answer(
        "iscsi-inq",
        10,
        "Login Failed. SENSE KEY:ILLEGAL_REQUEST(5) ASCQ:LOGICAL_UNIT_NOT_SUPPORTED(0x2500)",
    )
    iscsiadm.check_login("127.0.0.1", 3260, IQN, None, None, timeout=1)


def test_the_initiator_name_is_read_from_open_iscsis_file(tmp_path: Path) -> None:
    path = tmp_path / "initiatorname.iscsi"
    path.write_text("## comment\nInitiatorName=iqn.1993-08.org.debian:01:abc\n")
    assert iscsiadm.initiator_name(path) == "iqn.1993-08.org.debian:01:abc"
    assert iscsiadm.initiator_name(tmp_path / "missing") is None


def test_a_real_command_line_never_shows_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A stand-in iscsiadm that records its arguments and, for "-o new", writes
    # the record as open-iscsi would; the connector must write CHAP without
    # ever naming the password to it.
    nodes = tmp_path / "nodes"
    seen = tmp_path / "argv"
    script = tmp_path / "iscsiadm"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {seen}\n'
        'case "$*" in *"-o new"*)\n'
        f"  mkdir -p {nodes}/{IQN}/127.0.0.1,3260\n"
        f"  printf 'node.name = {IQN}\\nnode.tpgt = -1\\niface.iscsi_ifacename = default\\n"
        "node.conn[0].address = 127.0.0.1\\nnode.conn[0].port = 3260\\n' "
        f"> {nodes}/{IQN}/127.0.0.1,3260/default ;;\n"
        "esac\n"
        'case "$*" in *" -l"*) echo "iscsiadm: login failed: $*" >&2; exit 19 ;; esac\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    caplog.set_level(logging.DEBUG, logger="storconn")
    connector = IscsiConnector(
        Timeouts(), sysfs_root=tmp_path / "sys", proc_root=tmp_path / "proc", nodes_dir=nodes
    )
    with pytest.raises(StorconnError) as caught:
        connector.connect(_info(chap=True), None)
    assert caught.value.code == ErrorCode.ISCSI_LOGIN
    assert PASSWORD not in seen.read_text()
    assert PASSWORD not in caught.value.message and PASSWORD not in caplog.text
    assert " -l" in seen.read_text()  # it got as far as the login


# -- the connector -------------------------------------------------------------------


@dataclass
class FakeIscsiadm:
    """Records what the connector asks of iscsiadm; fails as told."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    login_error: StorconnError | None = None
    check_error: StorconnError | None = None
    on_login: Callable[[], None] | None = None
    session_existed: bool = False  # login answers exit 15

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(iscsi_records, "write_secrets", self.write_secrets)
        for name in (
            "new_node",
            "update_node",
            "delete_node",
            "login",
            "logout_session",
            "check_login",
        ):
            monkeypatch.setattr(iscsiadm, name, getattr(self, name))

    def new_node(self, node: Node, *, timeout: float) -> None:
        self.calls.append(("new", node))

    def update_node(self, node: Node, name: str, value: str, *, timeout: float) -> None:
        self.calls.append(("update", name, value))

    def write_secrets(
        self, node: Node, settings: dict[str, str], *, nodes_dir: Path | None = None
    ) -> None:
        self.calls.append(("secrets", node, dict(settings)))

    def delete_node(self, node: Node, *, timeout: float) -> None:
        self.calls.append(("delete", node))

    def login(self, node: Node, *, timeout: float) -> bool:
        self.calls.append(("login", node))
        if self.on_login is not None:
            self.on_login()
        if self.login_error is not None:
            raise self.login_error
        return not self.session_existed

    def logout_session(self, sid: int, *, timeout: float) -> None:
        self.calls.append(("logout", sid))

    def check_login(
        self,
        hostname: str,
        port: int,
        iqn: str,
        username: str | None,
        password: str | None,
        *,
        timeout: float,
    ) -> None:
        self.calls.append(("check", hostname, port, iqn, username, password))
        if self.check_error is not None:
            raise self.check_error

    def verbs(self) -> list[str]:
        return [call[0] for call in self.calls]


@pytest.fixture
def adm(monkeypatch: pytest.MonkeyPatch) -> FakeIscsiadm:
    fake = FakeIscsiadm()
    fake.install(monkeypatch)
    return fake


@pytest.fixture
def connector(sysfs: FakeSysfs) -> IscsiConnector:
    return IscsiConnector(Timeouts(), sysfs_root=sysfs.root, proc_root=sysfs.proc)


def _info(
    *,
    hostname: str = "127.0.0.1",
    port: int = 3260,
    iqn: str = IQN,
    tpgt: int | None = None,
    iface: str | None = None,
    chap: bool = False,
) -> IscsiInfo:
    target: dict[str, Any] = {"portal": {"hostname": hostname, "port": port}, "iqn": iqn}
    if tpgt is not None:
        target["tpgt"] = tpgt
    params: dict[str, Any] = {"target": target}
    if iface is not None:
        params["iface"] = iface
    if chap:
        params["credentials"] = {
            "type": "chap",
            "params": {"username": "alice", "password": PASSWORD},
        }
    info = parse_info({"type": "iscsi", "params": params})
    assert isinstance(info, IscsiInfo)
    return info


UNSUPPORTED = StorconnError(
    "iSCSI login impossible on this host: the kernel lacks the iSCSI "
    "initiator (module iscsi_tcp is not loaded)",
    code=ErrorCode.UNSUPPORTED,
)


def test_a_session_has_no_path_and_no_probe(connector: IscsiConnector) -> None:
    assert connector.path(_info()) is None
    assert connector.probe_command("/") is None


def test_present_when_a_logged_in_session_matches(
    connector: IscsiConnector, sysfs: FakeSysfs
) -> None:
    sysfs.session(1, iqn=IQN.upper(), tpgt=1)
    assert connector.present(_info(), None, {})
    assert connector.present(_info(tpgt=1), None, {})


@pytest.mark.parametrize(
    "other",
    [
        {"iface": "eth1"},
        {"tpgt": 2},
        {"port": 3261},
        {"hostname": "127.0.0.2"},
        {"iqn": "iqn.2026-01.test:other"},
    ],
)
def test_not_present_for_another_target_portal_or_iface(
    connector: IscsiConnector, sysfs: FakeSysfs, other: dict[str, Any]
) -> None:
    sysfs.session(1, tpgt=1)
    assert not connector.present(_info(**other), None, {})


def test_a_failed_session_is_not_present(connector: IscsiConnector, sysfs: FakeSysfs) -> None:
    sysfs.session(1, state="FAILED")
    assert not connector.present(_info(), None, {})


def test_an_ipv6_portal_matches_its_address_however_spelled(
    connector: IscsiConnector, sysfs: FakeSysfs
) -> None:
    sysfs.session(1, address="fd00:0:0::5")
    assert connector.present(_info(hostname="[fd00::5]"), None, {})


def test_a_host_name_matches_once_connect_resolved_it(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysfs.session(1, address="10.1.2.3")
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 0))])
    info = _info(hostname="storage.example")
    assert not connector.present(info, None, {})  # present() never resolves
    with pytest.raises(FoundExisting):
        connector.connect(info, None)
    assert adm.calls == []  # the session was there: no second login
    assert connector.present(info, None, {})


# Defect 6: the agent logged out of sessions it had not made. connect() is
# where ownership is decided: after the name is resolved, any session found
# (in any state) is someone else's, and FoundExisting says so.


def test_a_session_found_through_a_host_name_is_not_made_by_connect(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysfs.session(6, address="10.1.2.3")
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 0))])
    with pytest.raises(FoundExisting) as caught:
        connector.connect(_info(hostname="storage.example", chap=True), None)
    assert caught.value.state == "LOGGED_IN"
    assert caught.value.code == ErrorCode.CONNECTION
    assert "session 6" in caught.value.message
    assert adm.calls == []  # neither its node record nor a login touched


def test_a_host_name_that_does_not_resolve_decides_nothing(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysfs.session(6, address="10.1.2.3")

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise OSError("Name or service not known")

    monkeypatch.setattr("socket.getaddrinfo", no_dns)
    with pytest.raises(StorconnError) as caught:
        connector.connect(_info(hostname="storage.example"), None)
    assert caught.value.code == ErrorCode.CONNECTION
    assert "does not resolve" in caught.value.message
    assert adm.calls == []


def test_a_session_made_during_the_login_is_not_made_by_connect(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    adm.session_existed = True  # exit 15: someone logged in after the look at sysfs
    with pytest.raises(FoundExisting) as caught:
        connector.connect(_info(), None)
    assert caught.value.state == "LOGGED_IN"
    assert "delete" not in adm.verbs()


def test_connect_writes_the_node_record_then_logs_in(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    connector.connect(_info(chap=True, tpgt=1, iface="eth1"), None)
    node = Node(IQN, "127.0.0.1", 3260, tpgt=1, iface="eth1")
    assert adm.calls[0] == ("new", node)
    updates = [call[1:] for call in adm.calls if call[0] == "update"]
    assert ("node.startup", "manual") in updates
    assert all(PASSWORD not in value for _, value in updates)
    assert ("secrets", node, {
        "node.session.auth.authmethod": "CHAP",
        "node.session.auth.username": "alice",
        "node.session.auth.password": PASSWORD,
    }) in adm.calls
    assert adm.verbs()[-2:] == ["secrets", "login"]


def test_connect_without_credentials_turns_chap_off(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    connector.connect(_info(), None)
    assert ("update", "node.session.auth.authmethod", "None") in adm.calls
    assert "secrets" not in adm.verbs()


def test_connect_does_not_claim_a_logged_in_session(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm
) -> None:
    sysfs.session(1)
    with pytest.raises(FoundExisting) as caught:
        connector.connect(_info(), None)
    assert caught.value.state == "LOGGED_IN"
    assert adm.calls == []


@pytest.mark.parametrize("state", ["FAILED", "FREE"])
def test_connect_to_a_failed_session_leaves_it_to_iscsid(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm, state: str
) -> None:
    sysfs.session(4, state=state)
    with pytest.raises(FoundExisting) as caught:
        connector.connect(_info(), None)
    assert caught.value.code == ErrorCode.CONNECTION_LOST
    assert caught.value.state == state
    assert caught.value.message == f"iSCSI session 4 is {state}; iscsid is recovering it"
    assert adm.calls == []


def test_without_a_kernel_initiator_wrong_chap_is_476(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    adm.login_error = UNSUPPORTED
    adm.check_error = StorconnError(
        "refused: wrong CHAP user name or password", code=ErrorCode.ISCSI_LOGIN_AUTH
    )
    with pytest.raises(StorconnError) as caught:
        connector.connect(_info(chap=True), None)
    assert caught.value.code == ErrorCode.ISCSI_LOGIN_AUTH
    assert ("check", "127.0.0.1", 3260, IQN, "alice", PASSWORD) in adm.calls
    assert adm.verbs()[-2:] == ["delete", "check"]  # no node record left behind


def test_without_a_kernel_initiator_right_chap_is_494_saying_so(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    adm.login_error = UNSUPPORTED
    with pytest.raises(StorconnError) as caught:
        connector.connect(_info(chap=True), None)
    assert caught.value.code == ErrorCode.UNSUPPORTED
    assert "accepted the credentials" in caught.value.message and "kernel" in caught.value.message


def test_without_a_kernel_initiator_an_unreachable_target_stays_494(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    adm.login_error = UNSUPPORTED
    adm.check_error = StorconnError("the portal does not answer", code=ErrorCode.ISCSI_LOGIN)
    with pytest.raises(StorconnError) as caught:
        connector.connect(_info(), None)
    assert caught.value.code == ErrorCode.UNSUPPORTED
    assert "the portal does not answer" in caught.value.message


def test_a_login_cut_short_keeps_its_node_record(
    connector: IscsiConnector, adm: FakeIscsiadm
) -> None:
    adm.login_error = StorconnError("login did not finish", code=ErrorCode.TIMEOUT)
    with pytest.raises(StorconnError):
        connector.connect(_info(), None)
    assert "delete" not in adm.verbs()


def test_logins_run_at_most_max_parallel_logins_at_once(
    sysfs: FakeSysfs, adm: FakeIscsiadm
) -> None:
    connector = IscsiConnector(
        Timeouts(), sysfs_root=sysfs.root, proc_root=sysfs.proc, max_parallel_logins=2
    )
    lock = threading.Lock()
    running = [0]
    peak = [0]

    def slow_login() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    adm.on_login = slow_login
    threads = [
        threading.Thread(target=connector.connect, args=(_info(iqn=f"iqn.2026-01.test:{i}"), None))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert adm.verbs().count("login") == 6
    assert peak[0] == 2


def test_disconnect_refuses_while_a_disk_is_used(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm
) -> None:
    sysfs.session(2, disks=("sdb",))
    (sysfs.root / "class" / "block" / "sdb" / "holders" / "dm-3").mkdir()
    with pytest.raises(StorconnError) as caught:
        connector.disconnect(_info(), None)
    assert caught.value.code == ErrorCode.BUSY
    assert "dm-3" in caught.value.message
    assert adm.calls == []


def test_disconnect_logs_out_of_the_session_and_forgets_the_record(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm
) -> None:
    sysfs.session(2, disks=("sdb",))
    sysfs.session(3, iqn="iqn.2026-01.test:other")
    connector.disconnect(_info(), None)
    assert adm.calls == [("logout", 2), ("delete", Node(IQN, "127.0.0.1", 3260))]


def test_repair_logs_out_and_in_again(
    connector: IscsiConnector, sysfs: FakeSysfs, adm: FakeIscsiadm, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysfs.session(5, state="FAILED")

    def logout_session(sid: int, *, timeout: float) -> None:
        adm.calls.append(("logout", sid))
        shutil.rmtree(sysfs.root / "class" / "iscsi_session" / f"session{sid}")

    monkeypatch.setattr(iscsiadm, "logout_session", logout_session)
    connector.repair(_info(), None)
    assert adm.verbs()[0] == "logout" and adm.verbs()[-1] == "login"


# -- with the reconciler -----------------------------------------------------------


def test_two_references_share_one_session_and_the_last_release_logs_out(
    rig: Rig, sysfs: FakeSysfs, adm: FakeIscsiadm, monkeypatch: pytest.MonkeyPatch
) -> None:
    adm.on_login = lambda: sysfs.session(1) and None

    def logout_session(sid: int, *, timeout: float) -> None:
        adm.calls.append(("logout", sid))
        shutil.rmtree(sysfs.root / "class" / "iscsi_session" / f"session{sid}")

    monkeypatch.setattr(iscsiadm, "logout_session", logout_session)
    info = _info().to_wire(secrets=True)
    assert rig.registry.acquire({"a": info, "b": info}) == {"a": 0, "b": 0}
    rig.reconciler.tick()
    assert adm.verbs().count("login") == 1
    rig.registry.release(["a"])
    rig.clock.advance(3)
    rig.reconciler.tick()
    assert "logout" not in adm.verbs()
    rig.registry.release(["b"])
    rig.reconciler.tick()
    rig.clock.advance(3)
    rig.reconciler.tick()
    assert adm.verbs().count("logout") == 1


# Defect 6 end to end: the reconciler drops the ownership it claimed for an
# attempt whose connect raised FoundExisting (operations.py).


@dataclass
class Rig:
    registry: Any
    reconciler: Any
    clock: Any
    adm: FakeIscsiadm

    def acquire_then_release(self, info: IscsiInfo) -> None:
        wire = info.to_wire(secrets=True)
        assert self.registry.acquire({"a": wire}) == {"a": 0}
        for _ in range(3):
            self.reconciler.tick()
            self.clock.advance(5)
        self.registry.release(["a"])
        for _ in range(3):
            self.reconciler.tick()
            self.clock.advance(5)
        self.reconciler.tick()


@pytest.fixture
def rig(
    tmp_path: Path, sysfs: FakeSysfs, adm: FakeIscsiadm, monkeypatch: pytest.MonkeyPatch
) -> Any:
    from storconn.agent.reconciler import Reconciler, ReconcilerConfig
    from storconn.agent.refs import Registry
    from storconn.agent.store import Store

    from .fakes import FakeClock, InlineExecutor

    store = Store(tmp_path / "refs.sqlite")
    registry = Registry(store)
    clock = FakeClock()
    connector = IscsiConnector(Timeouts(), sysfs_root=sysfs.root, proc_root=sysfs.proc)
    reconciler = Reconciler(
        registry,
        store,
        {"iscsi": connector},
        config=ReconcilerConfig(grace=2.0),
        clock=clock,
        executor=InlineExecutor(),
        read_mounts=_no_mounts,
    )
    yield Rig(registry, reconciler, clock, adm)
    store.close()


def test_a_foreign_session_reached_by_host_name_survives_the_release(
    rig: Rig, sysfs: FakeSysfs, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysfs.session(8, address="10.1.2.3")
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 0))])
    rig.acquire_then_release(_info(hostname="storage.example"))
    assert "logout" not in rig.adm.verbs() and "delete" not in rig.adm.verbs()


def test_a_foreign_session_that_was_failed_survives_the_release(
    rig: Rig, sysfs: FakeSysfs
) -> None:
    sysfs.session(9, state="FAILED")
    wire = _info().to_wire(secrets=True)
    assert rig.registry.acquire({"a": wire}) == {"a": 0}
    rig.reconciler.tick()
    # iscsid recovers it; the reference uses it.
    (sysfs.root / "class" / "iscsi_session" / "session9" / "state").write_text("LOGGED_IN\n")
    rig.clock.advance(5)
    rig.reconciler.tick()
    rig.registry.release(["a"])
    for _ in range(3):
        rig.reconciler.tick()
        rig.clock.advance(5)
    assert "logout" not in rig.adm.verbs() and "delete" not in rig.adm.verbs()


def test_a_session_the_agent_made_is_logged_out_on_release(rig: Rig, sysfs: FakeSysfs) -> None:
    rig.adm.on_login = lambda: sysfs.session(1) and None
    rig.acquire_then_release(_info())
    assert rig.adm.verbs().count("login") == 1
    assert rig.adm.verbs()[-2:] == ["logout", "delete"]


def _no_mounts(only: str | None = None) -> dict[str, Any]:
    return {}


def test_a_failed_login_leaves_no_claim_on_a_session_made_later(rig: Rig, sysfs: FakeSysfs) -> None:
    # The agent's own login fails (bad CHAP); an administrator then logs in
    # to the same target. Its session is not the agent's to log out.
    rig.adm.login_error = StorconnError("auth failed", code=ErrorCode.ISCSI_LOGIN_AUTH)
    wire = _info().to_wire(secrets=True)
    assert rig.registry.acquire({"a": wire}) == {"a": 0}
    rig.reconciler.tick()
    assert rig.adm.verbs().count("login") == 1
    sysfs.session(4)
    rig.clock.advance(5)
    rig.reconciler.tick()
    rig.registry.release(["a"])
    for _ in range(3):
        rig.reconciler.tick()
        rig.clock.advance(5)
    assert "logout" not in rig.adm.verbs()


def test_a_timed_out_login_keeps_its_claim(rig: Rig, sysfs: FakeSysfs) -> None:
    # A login cut short by its timeout may complete in iscsid: that session is the agent's.
    rig.adm.login_error = StorconnError("login timed out", code=ErrorCode.TIMEOUT)
    rig.adm.on_login = lambda: sysfs.session(5) and None
    wire = _info().to_wire(secrets=True)
    assert rig.registry.acquire({"a": wire}) == {"a": 0}
    rig.reconciler.tick()
    rig.clock.advance(5)
    rig.reconciler.tick()
    rig.registry.release(["a"])
    for _ in range(3):
        rig.reconciler.tick()
        rig.clock.advance(5)
    assert rig.adm.verbs().count("logout") == 1
