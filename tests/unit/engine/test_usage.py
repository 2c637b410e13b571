"""Edit and remove rules for connections in use (rules/usage.py)."""

from __future__ import annotations

import pytest

from storconn.engine.errors import BadRequest, Conflict, EngineError
from storconn.engine.model import (
    ConnectionFields,
    DiskAttachment,
    DomainStatus,
    LunDisk,
    StorageConnection,
    StorageDomain,
    StorageType,
    Vm,
    VmStatus,
)
from storconn.engine.rules import check_edit, check_remove, check_same_id, running_vms

NFS = StorageConnection(id="n1", type=StorageType.NFS, connection="srv:/e")
ISCSI = StorageConnection(
    id="i1", type=StorageType.ISCSI, connection="10.0.0.1", port=3260, iqn="iqn.x:t"
)
FCP = StorageConnection(id="f1", type=StorageType.FCP, connection="")


def domain(
    did: str, status: DomainStatus = DomainStatus.MAINTENANCE, type: StorageType = StorageType.NFS
) -> StorageDomain:
    return StorageDomain(id=did, name=f"name-{did}", storage_type=type, status=status)


def lun_disk(did: str = "d1") -> LunDisk:
    return LunDisk(id=did, name="lun", lun_id="36001", connection_ids=["i1"])


def vm(status: VmStatus, *, plugged: bool = True) -> Vm:
    return Vm(
        id="vm1",
        name="web",
        status=status,
        disk_attachments=[DiskAttachment("d1", plugged=plugged)],
    )


def _key(call: object) -> tuple[int, str]:
    with pytest.raises(EngineError) as err:
        call()  # type: ignore[operator]
    return err.value.status, err.value.key


def test_edit_of_unused_connection_passes() -> None:
    check_edit(NFS, ConnectionFields(path="/new"), domains=[])


def test_edit_fcp_is_not_supported() -> None:
    status, key = _key(lambda: check_edit(FCP, ConnectionFields(), domains=[]))
    assert (status, key) == (
        400,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_STORAGE_TYPE",
    )


def test_edit_cannot_change_the_type() -> None:
    status, key = _key(
        lambda: check_edit(NFS, ConnectionFields(type=StorageType.POSIXFS), domains=[])
    )
    assert (status, key) == (
        400,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_CHANGE_STORAGE_TYPE",
    )


def test_edit_giving_the_same_type_passes() -> None:
    check_edit(NFS, ConnectionFields(type=StorageType.NFS), domains=[])


def test_edit_file_connection_of_several_domains_is_a_conflict() -> None:
    status, key = _key(
        lambda: check_edit(NFS, ConnectionFields(), domains=[domain("a"), domain("b")])
    )
    assert (status, key) == (
        409,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
    )


def test_edit_iscsi_connection_of_several_domains_passes() -> None:
    domains = [domain("a", type=StorageType.ISCSI), domain("b", type=StorageType.ISCSI)]
    check_edit(ISCSI, ConnectionFields(), domains=domains)


def test_edit_with_active_domain_is_refused() -> None:
    with pytest.raises(BadRequest) as err:
        check_edit(NFS, ConnectionFields(), domains=[domain("a", DomainStatus.ACTIVE)])
    assert (
        err.value.key
        == "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED"
    )
    assert err.value.message == "The data domains name-a should be in maintenance or unattached."


def test_edit_with_unattached_domain_passes() -> None:
    check_edit(NFS, ConnectionFields(), domains=[domain("a", DomainStatus.UNATTACHED)])


def test_forced_edit_with_active_domain_passes() -> None:
    check_edit(NFS, ConnectionFields(), domains=[domain("a", DomainStatus.ACTIVE)], force=True)


def test_iscsi_edit_with_running_vm_is_refused_even_forced() -> None:
    with pytest.raises(BadRequest) as err:
        check_edit(
            ISCSI,
            ConnectionFields(),
            domains=[],
            disks=[lun_disk()],
            vms=[vm(VmStatus.UP)],
            force=True,
        )
    assert (
        err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_RUNNING_VMS"
    )
    assert err.value.message == "VMs web should be down."


def test_iscsi_edit_with_stopped_vm_passes() -> None:
    check_edit(ISCSI, ConnectionFields(), domains=[], disks=[lun_disk()], vms=[vm(VmStatus.DOWN)])


def test_iscsi_edit_with_unplugged_disk_passes() -> None:
    check_edit(
        ISCSI,
        ConnectionFields(),
        domains=[],
        disks=[lun_disk()],
        vms=[vm(VmStatus.UP, plugged=False)],
    )


def test_running_vms_only_counts_disks_on_the_connection() -> None:
    other = LunDisk(id="d1", name="lun", lun_id="x", connection_ids=["other"])
    assert running_vms("i1", [other], [vm(VmStatus.UP)]) == []


def test_changing_the_id_breaks_immutability() -> None:
    with pytest.raises(Conflict):
        check_same_id("a", "b")
    check_same_id("a", "a")
    check_same_id("a", None)


def test_remove_unused_connection_passes() -> None:
    check_remove(NFS, domains=[], disks=[])


def test_remove_connection_of_a_domain_is_a_conflict() -> None:
    status, key = _key(lambda: check_remove(NFS, domains=[domain("a")], disks=[]))
    assert (status, key) == (
        409,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
    )


def test_remove_connection_of_a_lun_disk_is_a_conflict() -> None:
    status, key = _key(lambda: check_remove(ISCSI, domains=[], disks=[lun_disk()]))
    assert (status, key) == (409, "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_DISKS")


def test_remove_connection_of_domains_and_disks_names_both() -> None:
    with pytest.raises(Conflict) as err:
        check_remove(ISCSI, domains=[domain("a", type=StorageType.ISCSI)], disks=[lun_disk()])
    assert (
        err.value.key
        == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS_AND_DISKS"
    )
    assert err.value.message == (
        "Storage connection parameters are used by the following storage domains : name-a and disks: lun."
    )
