"""What hosts should hold for direct LUN disks (issue 9 item 12): ``desired_disk_refs``, pure."""

from __future__ import annotations

from storconn.engine.model import DiskAttachment, LunDisk, StorageConnection, StorageType, Vm, VmStatus
from storconn.engine.rules import references as refs


def _conn(conn_id: str, revision: int = 1) -> StorageConnection:
    return StorageConnection(id=conn_id, type=StorageType.ISCSI, connection="10.0.0.5", port=3260,
                             iqn="iqn.x", revision=revision)


CONNS = {"c1": _conn("c1"), "c2": _conn("c2", revision=3)}
DISKS = {"d1": LunDisk("d1", "lun1", "36001", ["c1", "c2"]), "d2": LunDisk("d2", "lun2", "36002", ["c1"])}


def _vm(vm_id: str, *attachments: DiskAttachment, status: VmStatus = VmStatus.UP,
        host_id: str | None = "h1") -> Vm:
    return Vm(vm_id, vm_id, status, list(attachments), host_id)


def test_an_up_vm_makes_its_host_hold_each_path_of_each_plugged_disk() -> None:
    wanted = refs.desired_disk_refs([_vm("v1", DiskAttachment("d1"), DiskAttachment("d2", plugged=False))],
                                    DISKS, CONNS)
    assert {(r.host_id, r.ref_id) for r in wanted} == {
        ("h1", "engine:disk:d1:c1:1"), ("h1", "engine:disk:d1:c2:3")}
    assert all(refs.is_engine_ref(r.ref_id) for r in wanted)


def test_a_down_vm_or_one_on_no_host_holds_nothing() -> None:
    assert refs.desired_disk_refs([_vm("v1", DiskAttachment("d1"), status=VmStatus.DOWN)], DISKS, CONNS) == set()
    assert refs.desired_disk_refs([_vm("v1", DiskAttachment("d1"), host_id=None)], DISKS, CONNS) == set()


def test_two_vms_on_one_host_sharing_a_disk_need_one_reference() -> None:
    wanted = refs.desired_disk_refs([_vm("v1", DiskAttachment("d2")), _vm("v2", DiskAttachment("d2"))], DISKS, CONNS)
    assert [r.ref_id for r in wanted] == ["engine:disk:d2:c1:1"]


def test_a_disk_reference_never_looks_like_a_domain_reference() -> None:
    assert not refs.disk_ref_id("d1", "c1", 1).startswith(refs.domain_prefix("d1"))
