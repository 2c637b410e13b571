"""Removing a domain or a LUN disk takes its connections along when nothing else uses them.

As oVirt's RemoveStorageDomainCommand (its storage helper's
``storageDomainRemoved``) and RemoveDiskCommand for LUN disks
(``removeLun``): a connection another domain or disk still uses stays.
Through REST in XML and JSON.
"""

from __future__ import annotations

from storconn.engine.model import StorageType, VmStatus
from storconn.engine.service import Engine

from .rest import NFS_FIELDS, Api, iscsi_fields, lun_disk


def test_removing_a_file_domain_removes_its_connection(api: Api, engine: Engine) -> None:
    conn = engine.add_connection(NFS_FIELDS)
    domain = engine.add_domain("data1", storage_type=StorageType.NFS, connection_id=conn.id)
    assert api.delete(f"/storagedomains/{domain.id}").status_code == 200
    assert api.get(f"/storagedomains/{domain.id}").status_code == 404
    assert api.get(f"/storageconnections/{conn.id}").status_code == 404
    assert api.ids("/storageconnections", "storage_connection") == []


def test_a_domain_created_with_its_connection_leaves_nothing(api: Api, engine: Engine) -> None:
    answer = api.post("/storagedomains", "storage_domain", {
        "name": "data1", "type": "data",
        "storage": {"type": "nfs", "address": "filer.example.com", "path": "/exports/data"},
    })
    assert answer.status_code == 201, answer.text
    assert api.delete(f"/storagedomains/{api.read(answer)['id']}").status_code == 200
    assert api.ids("/storageconnections", "storage_connection") == []


def test_an_iscsi_connection_another_domain_or_disk_uses_stays(api: Api, engine: Engine) -> None:
    shared = engine.add_connection(iscsi_fields())
    one = engine.add_domain("one", storage_type=StorageType.ISCSI, connection_id=shared.id)
    two = engine.add_domain("two", storage_type=StorageType.ISCSI, connection_id=shared.id)
    own = engine.add_connection(iscsi_fields("10.0.0.7"))
    engine.attach_connection(one.id, own.id)
    disk = lun_disk(engine, "lun1", "10.0.0.5")  # reuses the shared connection
    assert disk.connection_ids == [shared.id]
    assert api.delete(f"/storagedomains/{one.id}").status_code == 200
    remaining = set(api.ids("/storageconnections", "storage_connection"))
    assert remaining == {shared.id}, "the domain's own path went, the shared one stayed"
    assert api.delete(f"/storagedomains/{two.id}").status_code == 200
    assert set(api.ids("/storageconnections", "storage_connection")) == {shared.id}  # the disk's
    assert api.delete(f"/disks/{disk.id}").status_code == 200
    assert api.ids("/storageconnections", "storage_connection") == []


def test_removing_a_lun_disk_removes_its_unused_connections(api: Api, engine: Engine) -> None:
    disk = lun_disk(engine, "lun1", "10.0.0.5", "10.0.0.6")
    other = lun_disk(engine, "lun2", "10.0.0.6", lun_id="36001405bb")
    assert api.delete(f"/disks/{disk.id}").status_code == 200
    left = engine.list_connections()
    assert [c.id for c in left] == other.connection_ids, "the connection lun2 uses stays"
    assert api.get(f"/disks/{disk.id}").status_code == 404


def test_refused_removals_keep_everything(api: Api, engine: Engine) -> None:
    conn = engine.add_connection(NFS_FIELDS)
    domain = engine.add_domain("data1", storage_type=StorageType.NFS, connection_id=conn.id)
    dc = engine.add_data_center("dc1")
    engine.attach_domain(dc.id, domain.id)
    disk = lun_disk(engine, "lun1", "10.0.0.5")
    vm = engine.add_vm("vm1")
    engine.attach_disk(vm.id, disk.id)
    engine.set_vm_status(vm.id, VmStatus.UP)
    before = api.snapshot()
    api.expect_fault(
        api.delete(f"/storagedomains/{domain.id}"), 409,
        "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
        detail="[Cannot remove Storage. The relevant Storage Domain's status is Active.]",
    )
    api.expect_fault(
        api.delete(f"/disks/{disk.id}"), 409, "ACTION_TYPE_FAILED_VM_IS_NOT_DOWN",
        detail="[Cannot remove Virtual Disk. At least one of the VMs is not down.]",
    )
    assert api.snapshot() == before
