"""Volumes.attach/detach/list/resize against a real agent process, real mounts and real loop devices."""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.agent.client import AgentClient, AgentRpcError, AgentUnavailable
from storconn.agent.system import loop
from storconn.connection import parse_info
from storconn.connection.volume_shapes import file_conn_info, iscsi_conn_info
from tests.conftest import kernel_module_available, needs_root
from tests.integration.conftest import FAST
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

pytestmark = needs_root

MiB = 1024 * 1024
TMPFS = {"type": "posixfs", "params": {"spec": "volumes", "vfsType": "tmpfs", "options": "size=32m"}}


def _loops_under(root: Path) -> dict[str, str]:
    """Loop devices whose backing file lies under ``root``: name → backing file."""
    found: dict[str, str] = {}
    for entry in Path("/sys/block").iterdir():
        backing = loop.backing_file(entry.name) if entry.name.startswith("loop") else None
        if backing is not None and backing.startswith(str(root).rstrip("/") + "/"):
            found[entry.name] = backing
    return found


@pytest.fixture(autouse=True)
def no_loop_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves behind is cleared, so one failure does not hold later tests' mounts."""
    yield
    for name in _loops_under(tmp_path):
        try:
            loop.detach(loop.device_of(name))
        except Exception:
            pass


def _localfs(directory: Path, name: str, *, volume_id: str = "vol1", mode: str = "rw") -> dict[str, Any]:
    share = parse_info({"type": "localfs", "params": {"path": str(directory)}})
    return file_conn_info(share, volume_id=volume_id, name=name, volume_format="raw", access_mode=mode)  # type: ignore[arg-type]


def _volume(directory: Path, name: str, size: int = 4 * MiB) -> Path:
    path = directory / name
    with path.open("wb") as file:
        file.truncate(size)
    return path


def _write_through(device: str, data: bytes) -> None:
    fd = os.open(device, os.O_WRONLY)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _volume_refs(client: AgentClient) -> set[str]:
    return {ref_id for ref_id in client.statuses() if ref_id.startswith("volumes:")}


@pytest.fixture
def share(tmp_path: Path) -> Path:
    directory = tmp_path / "share"
    directory.mkdir()
    return directory


@pytest.mark.parametrize("kind", ["localfs", "posixfs-tmpfs"])
def test_file_and_block_attach_write_read_detach(
    agent_process: AgentProcess, share: Path, mount_root: Path, kind: str
) -> None:
    data = os.urandom(MiB)
    with agent_process.client() as client:
        if kind == "localfs":
            conn_info = _localfs(share, "volume-vol1")
        else:
            # A plain reference on the tmpfs first, to put the volume file on it; released below.
            client.acquire({"prep": TMPFS})
            status = client.wait(["prep"], timeout=20)["prep"]
            assert status["connected"], status
            share = Path(status["path"])
            conn_info = file_conn_info(parse_info(TMPFS), volume_id="vol1", name="volume-vol1",
                                       volume_format="raw", access_mode="rw")
        backing = _volume(share, "volume-vol1")
        as_file = client.volumes_attach("c-file", conn_info)
        assert as_file == {"type": "file", "path": str(backing), "refIDs": ["volumes:vol1:c-file"]}
        as_block = client.volumes_attach("c-block", conn_info, device_type="block")
        if kind != "localfs":
            client.release(["prep"])
        assert as_block["type"] == "block" and as_block["path"].startswith("/dev/loop")
        assert as_block["backingFile"] == str(backing)
        assert as_block["refIDs"] == ["volumes:vol1:c-block"]
        name = os.path.basename(as_block["path"])
        assert loop.backing_file(name) == str(backing)

        _write_through(as_block["path"], data)
        assert backing.read_bytes()[:MiB] == data

        listed = client.volumes_list()
        assert listed["c-block"]["state"] == "attached" and listed["c-block"]["mode"] == "rw"
        assert listed["c-block"]["device"]["path"] == as_block["path"]
        assert listed["c-file"]["device"] == {"type": "file", "path": str(backing)}
        assert listed["c-file"]["lastError"] == [0, ""]

        client.volumes_detach("c-block")
        assert loop.backing_file(name) != str(backing)  # the number may be reused by another test at once
        client.volumes_detach("c-file")
        assert client.volumes_list() == {}
        assert _volume_refs(client) == set()
    if kind != "localfs":
        eventually(lambda: not mounts_under(mount_root), timeout=15)  # after the grace period


def test_two_volumes_on_one_share_share_one_mount(agent_process: AgentProcess, mount_root: Path) -> None:
    with agent_process.client() as client:
        # A plain reference on the same tmpfs first, to put the volume files on it.
        client.acquire({"prep": TMPFS})
        status = client.wait(["prep"], timeout=20)["prep"]
        assert status["connected"], status
        share_dir = Path(status["path"])
        for name in ("volume-a", "volume-b"):
            _volume(share_dir, name)
        tmpfs = parse_info(TMPFS)
        infos = {
            vid: file_conn_info(tmpfs, volume_id=vid, name=f"volume-{vid}", volume_format="raw", access_mode="rw")
            for vid in ("a", "b")
        }
        dev_a = client.volumes_attach("ca", infos["a"], device_type="block")["path"]
        dev_b = client.volumes_attach("cb", infos["b"], device_type="block")["path"]
        client.release(["prep"])
        assert len(mounts_under(mount_root)) == 1

        client.volumes_detach("ca")
        # Past the grace period: a wrong unmount would have happened by now.
        time.sleep(FAST.grace + 5 * FAST.period)
        assert len(mounts_under(mount_root)) == 1
        _write_through(dev_b, b"b" * 4096)
        assert (share_dir / "volume-b").read_bytes()[:4096] == b"b" * 4096
        assert loop.backing_file(os.path.basename(dev_a)) != str(share_dir / "volume-a")

        client.volumes_detach("cb")
        eventually(lambda: not mounts_under(mount_root), timeout=15)


def test_read_only_is_enforced_on_the_device(agent_process: AgentProcess, share: Path) -> None:
    _volume(share, "volume-ro")
    conn_info = _localfs(share, "volume-ro", volume_id="ro", mode="ro")
    with agent_process.client() as client:
        device = client.volumes_attach("c-ro", conn_info, device_type="block")
        assert device["readOnly"] is True
        name = os.path.basename(device["path"])
        assert Path(f"/sys/block/{name}/ro").read_text().strip() == "1"
        with pytest.raises(OSError) as refused:
            _write_through(device["path"], b"x" * 4096)
        assert refused.value.errno in (errno.EPERM, errno.EROFS, errno.EACCES)
        as_file = client.volumes_attach("c-ro-file", conn_info)
        assert as_file["readOnly"] is True and as_file["type"] == "file"
        # The controller granted ro: the host may not ask for rw.
        with pytest.raises(AgentRpcError) as error:
            client.volumes_attach("c-rw", conn_info, mode="rw")
        assert error.value.rpc_code == -32602 and error.value.data["field"] == "mode"
        client.volumes_detach("c-ro")
        client.volumes_detach("c-ro-file")


@pytest.mark.parametrize("device_type", ["file", "block"])
def test_a_symlink_on_the_share_is_refused(
    agent_process: AgentProcess, share: Path, tmp_path: Path, device_type: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root:hash\n")
    (share / "volume-evil").symlink_to(secret)
    with agent_process.client() as client:
        with pytest.raises(AgentRpcError) as error:
            client.volumes_attach("c-evil", _localfs(share, "volume-evil"), device_type=device_type)
        assert error.value.data["code"] == 469
        assert "symbolic link" in error.value.message
        assert client.volumes_list() == {}
        assert _volume_refs(client) == set()
    assert _loops_under(tmp_path) == {}
    assert secret.read_text() == "root:hash\n"


def _bad_params(share: Path) -> list[tuple[dict[str, Any], str]]:
    good = _localfs(share, "volume-vol1")
    unknown = {**good, "driver_volume_type": "rbd"}
    dotdot = {**good, "data": {**good["data"], "name": "../x"}}
    no_name = {**good, "data": {k: v for k, v in good["data"].items() if k != "name"}}
    no_data = {"driver_volume_type": "localfs"}
    return [
        ({"connectionID": "c1", "connInfo": unknown}, "connInfo.driver_volume_type"),
        ({"connectionID": "c1", "connInfo": dotdot}, "connInfo.data.name"),
        ({"connectionID": "c1", "connInfo": no_name}, "connInfo.data.name"),
        ({"connectionID": "c1", "connInfo": no_data}, "connInfo.data"),
        ({"connectionID": "../c", "connInfo": good}, "connectionID"),
        ({"connectionID": 7, "connInfo": good}, "connectionID"),
        ({"connInfo": good}, "params.connectionID"),
        ({"connectionID": "c1"}, "params.connInfo"),
        ({"connectionID": "c1", "connInfo": good, "timeout": 10_000}, "params.timeout"),
        ({"connectionID": "c1", "connInfo": good, "mode": "rwx"}, "params.mode"),
        ({"connectionID": "c1", "connInfo": good, "deviceType": "tape"}, "params.deviceType"),
        ({"connectionID": "c1", "connInfo": good, "extra": 1}, "params.extra"),
    ]


def test_bad_params_name_the_field_and_store_nothing(agent_process: AgentProcess, share: Path) -> None:
    _volume(share, "volume-vol1")
    with agent_process.client() as client:
        for params, field in _bad_params(share):
            with pytest.raises(AgentRpcError) as error:
                client.call("Volumes.attach", params)
            assert error.value.rpc_code == -32602, params
            assert error.value.data["field"] == field, (params, error.value.data)
        for method, params, field in [
            ("Volumes.detach", {"connectionID": "a/b"}, "connectionID"),
            ("Volumes.detach", {}, "params.connectionID"),
            ("Volumes.resize", {"connectionID": ""}, "connectionID"),
        ]:
            with pytest.raises(AgentRpcError) as error:
                client.call(method, params)
            assert error.value.rpc_code == -32602 and error.value.data["field"] == field
        assert client.volumes_list() == {}
        assert _volume_refs(client) == set()


def test_detach_is_idempotent_and_attach_repeats_or_conflicts(agent_process: AgentProcess, share: Path) -> None:
    _volume(share, "volume-vol1")
    conn_info = _localfs(share, "volume-vol1")
    with agent_process.client() as client:
        assert client.call("Volumes.detach", {"connectionID": "never-attached"}) == {}
        first = client.volumes_attach("c1", conn_info, device_type="block")
        assert client.volumes_attach("c1", conn_info, device_type="block") == first
        for kwargs, field in [({"device_type": "file"}, "deviceType"), ({"mode": "ro", "device_type": "block"}, "mode")]:
            with pytest.raises(AgentRpcError) as error:
                client.volumes_attach("c1", conn_info, **kwargs)
            assert error.value.data == {"code": 478, "field": field}
        other = _localfs(share, "volume-vol1", volume_id="vol2")
        with pytest.raises(AgentRpcError) as error:
            client.volumes_attach("c1", other, device_type="block")
        assert error.value.data["field"] == "connInfo"
        client.volumes_detach("c1")
        client.volumes_detach("c1")
        assert _loops_under(share) == {}
        assert client.volumes_list() == {}


def test_resize_grows_the_loop_device_online(agent_process: AgentProcess, share: Path) -> None:
    backing = _volume(share, "volume-vol1", 4 * MiB)
    with agent_process.client() as client:
        device = client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
        as_file = client.volumes_attach("c2", _localfs(share, "volume-vol1"))
        with backing.open("r+b") as file:
            file.truncate(8 * MiB)
        assert client.volumes_resize("c1") == 8 * MiB
        name = os.path.basename(device["path"])
        assert int(Path(f"/sys/block/{name}/size").read_text()) * 512 == 8 * MiB
        assert client.volumes_resize("c2") == 8 * MiB
        assert as_file["path"] == str(backing)
        with pytest.raises(AgentRpcError) as error:
            client.volumes_resize("nope")
        assert error.value.data["code"] == 479
        client.volumes_detach("c1")
        client.volumes_detach("c2")


def test_sigkill_after_attach_readopts_the_loop_device(agent_process: AgentProcess, share: Path) -> None:
    backing = _volume(share, "volume-vol1")
    with agent_process.client() as client:
        device = client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
        before = client.volumes_list()
    agent_process.kill()
    agent_process.start()
    with agent_process.client() as client:
        assert client.volumes_list() == before
        assert before["c1"]["device"]["path"] == device["path"]
        _write_through(device["path"], b"k" * 4096)
        assert backing.read_bytes()[:4096] == b"k" * 4096
        client.volumes_detach("c1")
        assert _loops_under(share) == {}
        assert _volume_refs(client) == set()


def test_a_loop_device_gone_while_the_agent_was_down_is_made_again(
    agent_process: AgentProcess, share: Path
) -> None:
    _volume(share, "volume-vol1")
    with agent_process.client() as client:
        device = client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
    agent_process.kill()
    loop.detach(loop.device_of(os.path.basename(device["path"])))  # what a reboot does
    agent_process.start()
    with agent_process.client() as client:
        remade = eventually(lambda: (client.volumes_list()["c1"]["device"] or {}).get("path"))
        assert isinstance(remade, str)
        eventually(lambda: loop.backing_file(os.path.basename(remade)) == str(share / "volume-vol1"))
        client.volumes_detach("c1")
        assert _loops_under(share) == {}


@pytest.mark.parametrize("fault", ["after-acquire", "after-device"])
def test_crash_mid_attach_is_rolled_back_on_restart(
    tmp_path: Path, mount_root: Path, share: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    _volume(share, "volume-vol1")
    agent = AgentProcess(tmp_path / "state", mount_root)
    monkeypatch.setenv("STORCONN_AGENT_FAULT", fault)
    agent.start()
    monkeypatch.delenv("STORCONN_AGENT_FAULT")
    try:
        with agent.client() as client:
            with pytest.raises(AgentUnavailable):
                client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
        assert agent.process is not None and agent.process.wait(timeout=10) == -9
        if fault == "after-device":
            assert list(_loops_under(share).values()) == [str(share / "volume-vol1")]
        agent.start()
        with agent.client() as client:
            assert client.volumes_list() == {}
            assert _volume_refs(client) == set()
        assert _loops_under(share) == {}
    finally:
        agent.stop()


def test_orphan_volume_references_are_listed_and_released_by_detach(agent_process: AgentProcess, share: Path) -> None:
    with agent_process.client() as client:
        client.acquire({"volumes:v9:c9": {"type": "localfs", "params": {"path": str(share)}}})
        listed = client.volumes_list()
        assert listed == {"c9": {"volumeID": "v9", "refIDs": ["volumes:v9:c9"], "state": "orphaned",
                                 "mode": None, "device": None, "lastError": [0, ""]}}
        # Detaching the connection id is what releases them (the library's cleanup() does it).
        assert client.call("Volumes.detach", {"connectionID": "c9"}) == {}
        assert _volume_refs(client) == set() and client.volumes_list() == {}


# -- iSCSI against a real tgtd: the login is what this kernel cannot do -----------------------


@pytest.fixture
def tgt(tmp_path: Path) -> Iterator[Any]:
    from tests.peers.tgt import TgtServer, available, remove_node_records

    reason = available()
    if reason:
        pytest.skip(reason)
    server = TgtServer(tmp_path / "tgt")
    server.add_target(f"iqn.2026-01.test.storconn:{uuid.uuid4().hex[:8]}-vol", chap=("storconn", CHAP_PASSWORD))
    server.start()
    yield server
    server.stop()
    for target in server.targets:
        remove_node_records(target.iqn, server.port)


CHAP_PASSWORD = "chap-secret-never-shown"


def _iscsi_conn_info(server: Any) -> dict[str, Any]:
    target = server.targets[0]
    return iscsi_conn_info([(f"127.0.0.1:{server.port}", target.iqn, 1)], volume_id="iv1", access_mode="rw",
                           chap=("storconn", CHAP_PASSWORD))


def test_an_iscsi_attach_that_cannot_log_in_answers_the_error_and_keeps_nothing(
    tgt: Any, agent_process: AgentProcess
) -> None:
    if kernel_module_available("iscsi_tcp"):
        pytest.skip("this kernel has iscsi_tcp: the login succeeds here (see the next test)")
    with agent_process.client() as client:
        with pytest.raises(AgentRpcError) as error:
            client.volumes_attach("ci", _iscsi_conn_info(tgt), timeout=30)
        code = error.value.data["code"]
        # The reference's own lastError: this kernel cannot log in (UNSUPPORTED).
        assert code == 494 and "iscsi_tcp" in error.value.message, error.value.message
        assert error.value.message.startswith("volumes:iv1:ci: ")
        assert CHAP_PASSWORD not in error.value.message
        assert client.volumes_list() == {}
        assert _volume_refs(client) == set()
    assert CHAP_PASSWORD not in agent_process.log.read_text()


def test_an_iscsi_volume_attaches_as_the_luns_disk(tgt: Any, agent_process: AgentProcess) -> None:
    if not kernel_module_available("iscsi_tcp"):
        print("skipped: no iscsi_tcp in this kernel; the disk path is tested on a fake sysfs "
              "(tests/unit/agent/test_attachments_iscsi.py)")
        pytest.skip("needs the iscsi_tcp kernel module: session, SCSI disk by path, delete through sysfs")
    with agent_process.client() as client:
        device = client.volumes_attach("ci", _iscsi_conn_info(tgt), timeout=60)
        assert device["type"] == "block" and device["path"].startswith("/dev/sd")
        _write_through(device["path"], b"i" * 4096)
        name = os.path.basename(device["path"])
        client.volumes_detach("ci")
        assert not Path("/sys/class/block", name).exists()
        assert _volume_refs(client) == set()


def test_a_busy_loop_device_keeps_the_attachment_detaching_until_freed(
    agent_process: AgentProcess, share: Path
) -> None:
    _volume(share, "volume-vol1")
    with agent_process.client() as client:
        device = client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
        holder = os.open(device["path"], os.O_RDONLY)  # a process still using the device
        try:
            with pytest.raises(AgentRpcError) as busy:
                client.volumes_detach("c1")
            assert busy.value.data["code"] == 493 and "open by a process" in busy.value.message
            listed = client.volumes_list()["c1"]
            assert listed["state"] == "detaching" and listed["lastError"][0] == 493
            assert _volume_refs(client) == {"volumes:vol1:c1"}  # the share stays under the device
            with pytest.raises(AgentRpcError) as again:
                client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
            assert again.value.data["code"] == 493 and "detaching" in again.value.message
        finally:
            os.close(holder)
        # The kernel cleared the device on the last close; the detach now finishes.
        client.volumes_detach("c1")
        assert client.volumes_list() == {} and _volume_refs(client) == set()
        assert _loops_under(share) == {}


def test_a_detach_cut_short_by_a_crash_is_finished_on_restart(agent_process: AgentProcess, share: Path) -> None:
    _volume(share, "volume-vol1")
    with agent_process.client() as client:
        device = client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
        holder = os.open(device["path"], os.O_RDONLY)
        try:
            with pytest.raises(AgentRpcError):
                client.volumes_detach("c1")
        finally:
            agent_process.kill()
            os.close(holder)
    agent_process.start()
    with agent_process.client() as client:
        assert client.volumes_list() == {} and _volume_refs(client) == set()
    assert _loops_under(share) == {}


def test_a_loop_device_made_again_by_hand_is_adopted_not_doubled(agent_process: AgentProcess, share: Path) -> None:
    backing = _volume(share, "volume-vol1")
    with agent_process.client() as client:
        device = client.volumes_attach("c1", _localfs(share, "volume-vol1"), device_type="block")
    agent_process.kill()
    loop.detach(loop.device_of(os.path.basename(device["path"])))
    fd = os.open(backing, os.O_RDWR)
    try:
        by_hand = loop.attach(fd, str(backing), read_only=False)
    finally:
        os.close(fd)
    agent_process.start()
    with agent_process.client() as client:
        assert client.volumes_list()["c1"]["device"]["path"] == by_hand.path
        assert list(_loops_under(share)) == [by_hand.name]
        client.volumes_detach("c1")
    assert _loops_under(share) == {}


def test_parallel_attaches_on_one_share_keep_one_mount(agent_process: AgentProcess, mount_root: Path) -> None:
    import concurrent.futures

    with agent_process.client() as client:
        client.acquire({"prep": TMPFS})
        share_dir = Path(client.wait(["prep"], timeout=20)["prep"]["path"])
        for n in range(8):
            _volume(share_dir, f"volume-p{n}", MiB)
        # Held throughout: a tmpfs unmounted between two rounds would lose the files.
    tmpfs = parse_info(TMPFS)

    def churn(n: int) -> int:
        info = file_conn_info(tmpfs, volume_id=f"p{n}", name=f"volume-p{n}", volume_format="raw", access_mode="rw")
        with agent_process.client() as own:
            for round_ in range(4):
                device = own.volumes_attach(f"c{n}", info, device_type="block" if round_ % 2 else "file")
                assert len(mounts_under(mount_root)) == 1  # attached: the share is there, once
                if device["type"] == "block":
                    _write_through(device["path"], bytes([n]) * 4096)
                own.volumes_detach(f"c{n}")
        return n

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(churn, range(8))) == list(range(8))
    with agent_process.client() as client:
        assert client.volumes_list() == {} and _volume_refs(client) == set()
        assert len(mounts_under(mount_root)) == 1
        client.release(["prep"])
    eventually(lambda: not mounts_under(mount_root), timeout=15)
