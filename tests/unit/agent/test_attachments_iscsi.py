"""iSCSI attachments on a fake sysfs: this kernel has no iscsi_tcp, so no session and no disk are real.

The fake tree is the one the agent's iSCSI tests build (``test_iscsi.FakeSysfs``);
the store and the registry are real, the references' statuses are stubbed
as connected (the login itself is what the kernel cannot do here).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import attachment_devices as devices
from storconn.agent.attachments import Attachments, parse_request
from storconn.agent.refs import Registry
from storconn.agent.store import Store
from storconn.agent.system import scsi_devices
from storconn.connection import ConnectionInfo, ErrorCode, StorconnError
from storconn.connection.volume_shapes import iscsi_conn_info
from tests.unit.agent.test_iscsi import IQN, FakeSysfs, sysfs  # noqa: F401  (the fixture)

PASSWORD = "chap-secret-never-shown"


class Connected:
    """Every reference is connected: what the agent reports once the sessions are logged in."""

    def statuses(self, ref_ids: Sequence[object] | None = None) -> dict[str, dict[str, Any]]:
        return {str(r): {"connected": True, "lastError": [0, ""], "path": None} for r in ref_ids or ()}

    def wait(self, ref_ids: Sequence[object], timeout: float) -> dict[str, dict[str, Any]]:
        return self.statuses(ref_ids)

    def share_path(self, info: ConnectionInfo) -> str | None:
        return None  # iSCSI targets have no path


def _add_delete_files(tree: FakeSysfs, *disks: str) -> None:
    for disk in disks:
        device = tree.root / "class" / "block" / disk / "device"
        device.mkdir(parents=True, exist_ok=True)
        (device / "delete").write_text("")
        (tree.root / "class" / "block" / disk / "size").write_text("2048\n")


def test_the_disk_of_a_lun_is_found_by_session_portal_and_lun(sysfs: FakeSysfs) -> None:  # noqa: F811
    sysfs.session(1, address="10.0.0.5", port=3260, disks=("sdb", "sdc"))
    sysfs.session(2, iqn="iqn.2026-01.test:other", address="10.0.0.5", disks=("sdd",))
    assert scsi_devices.find("10.0.0.5", 3260, IQN, 1, sysfs.root) == scsi_devices.LunDisk("sdb", 1, 1)
    assert scsi_devices.find("10.0.0.5", 3260, IQN, 2, sysfs.root) == scsi_devices.LunDisk("sdc", 1, 2)
    assert scsi_devices.find("10.0.0.5", 3260, IQN, 3, sysfs.root) is None
    assert scsi_devices.find("10.0.0.6", 3260, IQN, 1, sysfs.root) is None
    assert scsi_devices.find("10.0.0.5", 3261, IQN, 1, sysfs.root) is None


def test_a_session_not_logged_in_offers_no_disk(sysfs: FakeSysfs) -> None:  # noqa: F811
    sysfs.session(1, state="FAILED", disks=("sdb",))
    assert scsi_devices.find("127.0.0.1", 3260, IQN, 1, sysfs.root) is None


def test_remove_deletes_only_this_disk_and_refuses_a_mounted_one(sysfs: FakeSysfs, tmp_path: Path) -> None:  # noqa: F811
    sysfs.session(1, disks=("sdb", "sdc"))
    _add_delete_files(sysfs, "sdb", "sdc")
    dev = tmp_path / "dev"
    dev.mkdir()
    scsi_devices.remove(scsi_devices.LunDisk("sdb", 1, 1), sysfs.root, dev=dev)
    assert (sysfs.root / "class" / "block" / "sdb" / "device" / "delete").read_text() == "1"
    assert (sysfs.root / "class" / "block" / "sdc" / "device" / "delete").read_text() == ""
    # The name now belongs to another session's disk: not ours to delete.
    scsi_devices.remove(scsi_devices.LunDisk("sdc", 7, 2), sysfs.root, dev=dev)
    assert (sysfs.root / "class" / "block" / "sdc" / "device" / "delete").read_text() == ""
    dev_number = (sysfs.root / "class" / "block" / "sdc" / "dev").read_text().strip()
    sysfs.mount(dev_number, "/dev/sdc", "/srv/data")
    with pytest.raises(StorconnError) as busy:
        scsi_devices.remove(scsi_devices.LunDisk("sdc", 1, 2), sysfs.root, dev=dev, proc=sysfs.proc)
    assert busy.value.code == ErrorCode.BUSY and "mounted on /srv/data" in busy.value.message


def test_waiting_for_a_disk_times_out_with_a_clear_error(sysfs: FakeSysfs) -> None:  # noqa: F811
    sysfs.session(1)
    with pytest.raises(StorconnError) as late:
        devices.iscsi_disks([("127.0.0.1", 3260, IQN, 1)], read_only=False, timeout=0.2, root=sysfs.root)
    assert late.value.code == ErrorCode.TIMEOUT and "LUN 1" in late.value.message


def test_a_disk_appearing_during_the_wait_is_found(sysfs: FakeSysfs, tmp_path: Path) -> None:  # noqa: F811
    sysfs.session(1)
    lun_dir = sysfs.root / "class" / "iscsi_session" / "session1" / "device" / "target1:0:0" / "1:0:0:3"
    timer = threading.Timer(0.2, lambda: (lun_dir / "block" / "sde").mkdir(parents=True))
    timer.start()
    try:
        device = devices.iscsi_disks([("127.0.0.1", 3260, IQN, 3)], read_only=False, timeout=5,
                                     root=sysfs.root, dev=tmp_path)
    finally:
        timer.cancel()
    assert device.path == str(tmp_path / "sde") and device.disks == [{"name": "sde", "sid": 1, "lun": 3}]


def test_attach_and_detach_through_the_state_machine(sysfs: FakeSysfs, tmp_path: Path) -> None:  # noqa: F811
    sysfs.session(1, address="127.0.0.1", port=3260, disks=("sdb",))
    sysfs.session(2, address="127.0.0.2", port=3260, disks=("sdc",))
    _add_delete_files(sysfs, "sdb", "sdc")
    dev = tmp_path / "dev"
    dev.mkdir()
    store = Store(tmp_path / "refs.sqlite")
    registry = Registry(store)
    attachments = Attachments(store, registry, Connected(), sysfs=sysfs.root, dev=dev)
    conn_info = iscsi_conn_info([("127.0.0.1:3260", IQN, 1), ("127.0.0.2:3260", IQN, 1)],
                                volume_id="v1", access_mode="rw", chap=("user", PASSWORD))
    try:
        request = parse_request("c1", conn_info, None, None, 5)
        answer = attachments.finish(attachments.begin(request))
        assert answer == {"type": "block", "path": str(dev / "sdb"), "refIDs": ["volumes:v1:c1", "volumes:v1:c1:1"]}
        assert {ref.id for ref in registry.references()} == {"volumes:v1:c1", "volumes:v1:c1:1"}
        listed = attachments.listed()
        assert listed["c1"]["state"] == "attached" and PASSWORD not in repr(listed)
        # A repeat is the same device, with no second reference.
        assert attachments.finish(attachments.begin(parse_request("c1", conn_info, None, None, 5))) == answer

        attachments.detach("c1")
        for disk in ("sdb", "sdc"):
            assert (sysfs.root / "class" / "block" / disk / "device" / "delete").read_text() == "1"
        assert registry.references() == [] and store.load_attachments() == []
    finally:
        store.close()


def test_a_missing_disk_rolls_the_attach_back(sysfs: FakeSysfs, tmp_path: Path) -> None:  # noqa: F811
    sysfs.session(1)
    store = Store(tmp_path / "refs.sqlite")
    registry = Registry(store)
    attachments = Attachments(store, registry, Connected(), sysfs=sysfs.root, dev=tmp_path)
    conn_info = iscsi_conn_info([("127.0.0.1:3260", IQN, 4)], volume_id="v1", access_mode="rw", chap=None)
    try:
        plan = attachments.begin(parse_request("c1", conn_info, None, None, 0.2))
        with pytest.raises(StorconnError) as late:
            attachments.finish(plan)
        assert late.value.code == ErrorCode.TIMEOUT
        assert registry.references() == [] and store.load_attachments() == [] and attachments.listed() == {}
    finally:
        store.close()
