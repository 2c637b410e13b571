"""The official oVirt SDK, unchanged, against the API over the fake engine on a loopback port."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ADMIN, VIEWER
from .fake_engine import FakeEngine

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402


def test_the_sdk_logs_in_tests_and_reads_the_entry_point(sdk_connection: Any) -> None:
    assert sdk_connection.test(raise_exception=True)
    api = sdk_connection.system_service().get()
    assert api.product_info.version.major == 4
    assert api.authenticated_user.user_name == ADMIN[0]


CONNECTIONS = {
    "nfs": (types.StorageConnection(type=types.StorageType.NFS, address="filer", path="/exp",
                                    nfs_version=types.NfsVersion.V4_2, nfs_timeo=100, nfs_retrans=3),
            types.StorageConnection(path="/moved")),
    "iscsi": (types.StorageConnection(type=types.StorageType.ISCSI, address="10.0.0.5", port=3260,
                                      target="iqn.2026-01.test:lun1", username="u", password="secret"),
              types.StorageConnection(port=3261)),
    "posixfs": (types.StorageConnection(type=types.StorageType.POSIXFS, path="/dev/sdb1", vfs_type="ext4"),
                types.StorageConnection(mount_options="ro")),
    "glusterfs": (types.StorageConnection(type=types.StorageType.GLUSTERFS, address="gluster1", path="/vol",
                                          vfs_type="glusterfs"),
                  types.StorageConnection(path="/vol2")),
    "localfs": (types.StorageConnection(type=types.StorageType.LOCALFS, path="/data"),
                types.StorageConnection(path="/data2")),
}


@pytest.mark.parametrize("kind", list(CONNECTIONS))
def test_storage_connection_lifecycle_through_the_sdk(sdk_connection: Any, kind: str) -> None:
    new, change = CONNECTIONS[kind]
    service = sdk_connection.system_service().storage_connections_service()
    added = service.add(new)
    assert added.id and added.type == new.type
    assert added.password is None
    assert [c.id for c in service.list()] == [added.id]
    assert [c.id for c in service.list(max=0)] == []
    one = service.storage_connection_service(added.id)
    assert one.get().id == added.id
    updated = one.update(change, force=True)
    for name in ("path", "port", "mount_options"):
        if getattr(change, name) is not None:
            assert getattr(updated, name) == getattr(change, name)
    one.remove()
    assert list(service.list()) == []
    with pytest.raises(sdk.NotFoundError):
        one.get()


def test_faults_become_sdk_errors_with_code_and_detail(sdk_connection: Any) -> None:
    service = sdk_connection.system_service().storage_connections_service()
    service.add(types.StorageConnection(type=types.StorageType.LOCALFS, path="/data"))
    with pytest.raises(sdk.Error) as caught:
        service.add(types.StorageConnection(type=types.StorageType.LOCALFS, path="/data"))
    assert caught.value.code == 409
    assert caught.value.fault.detail.startswith("[Cannot add Storage Connection.")
    with pytest.raises(sdk.Error) as bad:
        service.add(types.StorageConnection(type=types.StorageType.LOCALFS, path="/x", id="client-chosen"))
    assert bad.value.code == 400


def test_wrong_credentials_and_a_viewer_are_auth_errors(served: str, sdk_connection: Any) -> None:
    wrong = sdk.Connection(url=served, username=ADMIN[0], password="wrong", insecure=True)
    with pytest.raises(sdk.AuthError, match="access_denied"):
        wrong.system_service().get()
    viewer = sdk.Connection(url=served, username=VIEWER[0], password=VIEWER[1], insecure=True)
    try:
        service = viewer.system_service().storage_connections_service()
        assert list(service.list()) == []
        with pytest.raises(sdk.AuthError) as caught:
            service.add(types.StorageConnection(type=types.StorageType.LOCALFS, path="/data"))
        assert caught.value.code == 403
    finally:
        viewer.close()


def test_closing_the_connection_revokes_its_token(served: str) -> None:
    connection = sdk.Connection(url=served, username=ADMIN[0], password=ADMIN[1], insecure=True)
    issued = connection.authenticate()
    headers = {"Authorization": f"Bearer {issued}"}
    assert httpx.get(f"{served}/storageconnections", headers=headers).status_code == 200
    connection.close()
    assert httpx.get(f"{served}/storageconnections", headers=headers).status_code == 401


def test_domains_data_centers_and_their_actions_through_the_sdk(sdk_connection: Any, engine: FakeEngine) -> None:
    system = sdk_connection.system_service()
    hosts = system.hosts_service()
    dcs = system.data_centers_service()
    dc = dcs.add(types.DataCenter(name="Default", local=False))
    host = hosts.add(types.Host(name="host1", address="127.0.0.1", port=54321, root_password="agent-token",
                                cluster=types.Cluster(data_center=types.DataCenter(id=dc.id))))
    assert host.cluster.data_center.id == dc.id and host.root_password is None
    assert engine.hosts[host.id].token == "agent-token"

    connection = system.storage_connections_service().add(types.StorageConnection(
        type=types.StorageType.NFS, address="filer", path="/exp", host=types.Host(name="host1")))
    domains = system.storage_domains_service()
    domain = domains.add(types.StorageDomain(name="data1", type=types.StorageDomainType.DATA,
                                             host=types.Host(name="host1"), storage=types.HostStorage(id=connection.id)))
    assert domain.storage.path == "/exp"
    embedded = domains.add(types.StorageDomain(name="data2", type=types.StorageDomainType.DATA, storage=types.HostStorage(
        type=types.StorageType.NFS, address="filer", path="/other")))
    assert {d.name for d in domains.list(search="name=data*")} == {"data1", "data2"}
    domains.storage_domain_service(embedded.id).update(types.StorageDomain(description="second"))
    assert domains.storage_domain_service(embedded.id).get().description == "second"

    attached = dcs.data_center_service(dc.id).storage_domains_service()
    got = attached.add(types.StorageDomain(id=domain.id))
    assert got.status == types.StorageDomainStatus.MAINTENANCE
    one = attached.storage_domain_service(domain.id)
    one.activate()
    assert one.get().status == types.StorageDomainStatus.ACTIVE
    one.deactivate(force=True)
    assert one.get().status == types.StorageDomainStatus.MAINTENANCE
    assert [d.id for d in attached.list()] == [domain.id]
    one.remove()
    assert list(attached.list()) == []
    domains.storage_domain_service(embedded.id).remove()
    hosts.host_service(host.id).remove()
    assert list(hosts.list()) == []


def test_iscsi_multipath_connections_of_a_domain_through_the_sdk(sdk_connection: Any) -> None:
    system = sdk_connection.system_service()
    connections = system.storage_connections_service()
    first = connections.add(types.StorageConnection(type=types.StorageType.ISCSI, address="10.0.0.5", port=3260,
                                                    target="iqn.x"))
    second = connections.add(types.StorageConnection(type=types.StorageType.ISCSI, address="10.0.0.6", port=3260,
                                                     target="iqn.x"))
    domain = system.storage_domains_service().add(types.StorageDomain(
        name="block", type=types.StorageDomainType.DATA, storage=types.HostStorage(id=first.id)))
    paths = system.storage_domains_service().storage_domain_service(domain.id).storage_connections_service()
    paths.add(types.StorageConnection(id=second.id))
    assert {c.id for c in paths.list()} == {first.id, second.id}
    with pytest.raises(sdk.Error) as caught:
        paths.add(types.StorageConnection(id=second.id))
    assert caught.value.code == 409
    paths.connection_service(second.id).remove()
    assert [c.id for c in paths.list()] == [first.id]
    with pytest.raises(sdk.Error) as in_use:
        connections.storage_connection_service(first.id).remove()
    assert in_use.value.code == 409


def test_lun_disks_and_vms_through_the_sdk(sdk_connection: Any) -> None:
    system = sdk_connection.system_service()
    disk = system.disks_service().add(types.Disk(alias="lun1", lun_storage=types.HostStorage(
        type=types.StorageType.ISCSI, logical_units=[types.LogicalUnit(
            id="36001405", address="10.0.0.5", port=3260, target="iqn.x", username="u", password="secret")])))
    assert disk.storage_type == types.DiskStorageType.LUN
    assert disk.lun_storage.logical_units[0].password is None
    assert [c.address for c in system.storage_connections_service().list()] == ["10.0.0.5"]

    vms = system.vms_service()
    vm = vms.add(types.Vm(name="vm1", cluster=types.Cluster(name="Default"), template=types.Template(name="Blank")))
    vm_service = vms.vm_service(vm.id)
    attachment = vm_service.disk_attachments_service().add(types.DiskAttachment(
        disk=types.Disk(id=disk.id), active=True, interface=types.DiskInterface.VIRTIO_SCSI, bootable=False))
    assert attachment.active is True and attachment.disk.id == disk.id
    vm_service.start()
    assert vm_service.get().status == types.VmStatus.UP
    vm_service.stop()
    assert vm_service.get().status == types.VmStatus.DOWN
    assert [a.disk.id for a in vm_service.disk_attachments_service().list()] == [disk.id]
    system.disks_service().disk_service(disk.id).remove()


def test_the_sdk_logs_in_again_when_its_token_is_gone(sdk_connection: Any, app: Any) -> None:
    service = sdk_connection.system_service().storage_connections_service()
    assert list(service.list()) == []
    app.state.storconn_api.auth.tokens.revoke(sdk_connection.authenticate())  # as after an engine restart
    assert list(service.list()) == []  # the SDK got a 401, fetched a new token and retried


def test_a_base_url_with_a_trailing_slash_works(served: str) -> None:
    connection = sdk.Connection(url=served + "/", username=ADMIN[0], password=ADMIN[1], insecure=True)
    try:
        assert list(connection.system_service().storage_connections_service().list()) == []
    finally:
        connection.close()
