"""The official oVirt SDK, unchanged, against the API over the real Engine (SQLite in tmp_path) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# Re-exported: other modules import these from here (they live in conftest.py, with the fixtures).
from .conftest import ADMIN as ADMIN
from .conftest import VIEWER as VIEWER
from .conftest import open_engine as open_engine

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402


@pytest.fixture
def connection(url: str) -> Iterator[Any]:
    opened = sdk.Connection(url=url, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield opened
    opened.close()


def test_the_sdk_logs_in_and_reads_the_entry_point(connection: Any) -> None:
    assert connection.test(raise_exception=True)
    assert connection.system_service().get().product_info.version.major == 4


CASES: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    "nfs": (
        types.StorageConnection(type=types.StorageType.NFS, address="filer.example.com", path="/exports/data",
                                nfs_version=types.NfsVersion.V4_1, nfs_timeo=600, nfs_retrans=6),
        types.StorageConnection(path="/exports/moved"),
        {"address": "filer.example.com", "path": "/exports/moved", "nfs_version": types.NfsVersion.V4_1,
         "nfs_timeo": 600, "nfs_retrans": 6},
    ),
    "iscsi": (
        types.StorageConnection(type=types.StorageType.ISCSI, address="10.0.0.5", port=3260,
                                target="iqn.2026-01.test:lun1", username="chap-user", password="chap-secret"),
        types.StorageConnection(port=3261),
        {"address": "10.0.0.5", "port": 3261, "target": "iqn.2026-01.test:lun1", "username": "chap-user",
         "password": None},
    ),
    "posixfs": (
        types.StorageConnection(type=types.StorageType.POSIXFS, path="/dev/sdb1", vfs_type="ext4"),
        types.StorageConnection(mount_options="noatime"),
        {"path": "/dev/sdb1", "vfs_type": "ext4", "mount_options": "noatime"},
    ),
    "glusterfs": (
        types.StorageConnection(type=types.StorageType.GLUSTERFS, address="gluster1.example.com", path="/vol",
                                vfs_type="glusterfs"),
        types.StorageConnection(path="/vol2"),
        {"address": "gluster1.example.com", "path": "/vol2", "vfs_type": "glusterfs"},
    ),
    "localfs": (
        types.StorageConnection(type=types.StorageType.LOCALFS, path="/data/images"),
        types.StorageConnection(path="/data/moved"),
        {"path": "/data/moved"},
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_storage_connection_lifecycle(connection: Any, kind: str) -> None:
    new, change, expected = CASES[kind]
    service = connection.system_service().storage_connections_service()
    added = service.add(new)
    assert added.id and added.type == new.type and added.password is None
    assert [c.id for c in service.list()] == [added.id]
    one = service.storage_connection_service(added.id)
    assert one.get().id == added.id
    updated = one.update(change, force=True)
    assert {name: getattr(updated, name) for name in expected} == expected
    assert {name: getattr(one.get(), name) for name in expected} == expected
    one.remove()
    assert list(service.list()) == []
    with pytest.raises(sdk.NotFoundError):
        one.get()


def test_list_honours_max(connection: Any) -> None:
    service = connection.system_service().storage_connections_service()
    for index in range(3):
        service.add(types.StorageConnection(type=types.StorageType.LOCALFS, path=f"/data/{index}"))
    assert len(service.list()) == 3
    assert len(service.list(max=2)) == 2


def test_a_duplicate_is_a_409_error(connection: Any) -> None:
    service = connection.system_service().storage_connections_service()
    service.add(types.StorageConnection(type=types.StorageType.NFS, address="filer", path="/exp"))
    with pytest.raises(sdk.Error) as caught:
        service.add(types.StorageConnection(type=types.StorageType.NFS, address="filer", path="/exp"))
    assert caught.value.code == 409
    assert "Cannot add Storage Connection." in caught.value.fault.detail


def test_a_viewer_reads_but_cannot_change(url: str, connection: Any) -> None:
    connection.system_service().storage_connections_service().add(
        types.StorageConnection(type=types.StorageType.LOCALFS, path="/data"))
    viewer = sdk.Connection(url=url, username=VIEWER[0], password=VIEWER[1], insecure=True)
    try:
        service = viewer.system_service().storage_connections_service()
        assert len(service.list()) == 1
        with pytest.raises(sdk.AuthError) as caught:
            service.add(types.StorageConnection(type=types.StorageType.LOCALFS, path="/other"))
        assert caught.value.code == 403
    finally:
        viewer.close()


def test_wrong_credentials_are_an_auth_error(url: str) -> None:
    wrong = sdk.Connection(url=url, username=ADMIN[0], password="not-the-password", insecure=True)
    with pytest.raises(sdk.AuthError):
        wrong.system_service().get()


def test_domain_on_a_connection_attached_activated_and_detached(connection: Any) -> None:
    system = connection.system_service()
    added = system.storage_connections_service().add(
        types.StorageConnection(type=types.StorageType.NFS, address="filer", path="/exp"))
    domain = system.storage_domains_service().add(types.StorageDomain(
        name="data1", type=types.StorageDomainType.DATA, storage=types.HostStorage(id=added.id)))
    assert domain.storage.type == types.StorageType.NFS
    dc = system.data_centers_service().add(types.DataCenter(name="Default", local=False))
    attached = system.data_centers_service().data_center_service(dc.id).storage_domains_service()
    # Attaching activates, as oVirt's attach does.
    assert attached.add(types.StorageDomain(id=domain.id)).status == types.StorageDomainStatus.ACTIVE
    one = attached.storage_domain_service(domain.id)
    assert one.get().status == types.StorageDomainStatus.ACTIVE
    # At the top level an attached domain shows no status, as in oVirt.
    assert system.storage_domains_service().storage_domain_service(domain.id).get().status is None
    with pytest.raises(sdk.Error) as in_use:
        system.storage_connections_service().storage_connection_service(added.id).remove()
    assert in_use.value.code == 409
    one.deactivate()
    assert one.get().status == types.StorageDomainStatus.MAINTENANCE
    one.remove()
    assert system.storage_domains_service().storage_domain_service(domain.id).get().status == (
        types.StorageDomainStatus.UNATTACHED)


def test_lun_disk_on_a_running_vm_blocks_editing_its_connection(connection: Any) -> None:
    system = connection.system_service()
    disk = system.disks_service().add(types.Disk(alias="lun1", lun_storage=types.HostStorage(
        type=types.StorageType.ISCSI, logical_units=[types.LogicalUnit(
            id="36001405abc", address="10.0.0.5", port=3260, target="iqn.2026-01.test:lun1", username="u",
            password="lun-secret")])))
    assert disk.lun_storage.logical_units[0].password is None
    shared = system.storage_connections_service().list()
    assert [(c.type, c.address, c.target) for c in shared] == [
        (types.StorageType.ISCSI, "10.0.0.5", "iqn.2026-01.test:lun1")]
    vm = system.vms_service().add(types.Vm(name="vm1", cluster=types.Cluster(name="Default"),
                                           template=types.Template(name="Blank")))
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.disk_attachments_service().add(types.DiskAttachment(disk=types.Disk(id=disk.id), active=True))
    vm_service.start()
    assert vm_service.get().status == types.VmStatus.UP
    edit = system.storage_connections_service().storage_connection_service(shared[0].id)
    with pytest.raises(sdk.Error) as caught:
        edit.update(types.StorageConnection(port=3261), force=True)  # force does not bypass running VMs
    assert caught.value.code == 400
    vm_service.stop()
    assert edit.update(types.StorageConnection(port=3261)).port == 3261
