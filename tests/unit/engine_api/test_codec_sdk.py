"""The codec checked against the official SDK: our XML read by its readers, its writers' XML read by us."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from storconn.engine.api import decode, encode, schema
from storconn.engine.api.document import Collection, Obj, to_json, to_xml
from storconn.engine.model import (
    ConnectionFields,
    DataCenter,
    DiskAttachment,
    DomainStatus,
    Host,
    HostStatus,
    LunDisk,
    LunFields,
    Role,
    StorageConnection,
    StorageDomain,
    StorageType,
    User,
    Vm,
    VmStatus,
)

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402
from ovirtsdk4.reader import Reader  # noqa: E402
from ovirtsdk4.writer import Writer  # noqa: E402

BASE = "/ovirt-engine/api"


def sdk_read(document: Obj | Collection) -> Any:
    """What the SDK makes of our XML."""
    return Reader.read(to_xml(document))


def ours(obj: Any, wanted: schema.Schema) -> schema.Fields:
    """What we make of the SDK's XML for ``obj``."""
    return schema.read_xml(Writer.write(obj, indent=True).encode(), wanted)


NFS = StorageConnection(id="c-nfs", type=StorageType.NFS, connection="filer.example.com:/exports/data",
                        nfs_version="4.1", nfs_timeo=600, nfs_retrans=6, mount_options="noatime")
ISCSI = StorageConnection(id="c-iscsi", type=StorageType.ISCSI, connection="10.0.0.5", port=3260,
                          iqn="iqn.2026-01.test:lun1", portal="1", username="chap-user", password="chap-secret")
POSIX = StorageConnection(id="c-posix", type=StorageType.POSIXFS, connection="/dev/sdb1", vfs_type="ext4",
                          mount_options="ro")
GLUSTER = StorageConnection(id="c-gluster", type=StorageType.GLUSTERFS, connection="gluster1:/vol/sub",
                            vfs_type="glusterfs", gluster_volume="gv-1")
LOCAL = StorageConnection(id="c-local", type=StorageType.LOCALFS, connection="/data/images")
NFS6 = StorageConnection(id="c-nfs6", type=StorageType.NFS, connection="[fd00::1]:/exports/v6", nfs_version="auto")


# --- our XML, read by the SDK ----------------------------------------------------


def test_nfs_connection_reads_in_the_sdk_with_every_field() -> None:
    got = sdk_read(encode.storage_connection(NFS, BASE))
    assert isinstance(got, types.StorageConnection)
    assert (got.id, got.href) == ("c-nfs", f"{BASE}/storageconnections/c-nfs")
    assert got.type == types.StorageType.NFS
    assert (got.address, got.path) == ("filer.example.com", "/exports/data")
    assert got.nfs_version == types.NfsVersion.V4_1
    assert (got.nfs_timeo, got.nfs_retrans, got.mount_options) == (600, 6, "noatime")


def test_iscsi_connection_reads_in_the_sdk_without_its_password() -> None:
    xml = to_xml(encode.storage_connection(ISCSI, BASE))
    got = Reader.read(xml)
    assert got.type == types.StorageType.ISCSI
    assert (got.address, got.port, got.target, got.portal, got.username) == (
        "10.0.0.5", 3260, "iqn.2026-01.test:lun1", "1", "chap-user")
    assert got.password is None
    assert b"chap-secret" not in xml and b"password" not in xml


@pytest.mark.parametrize(("connection", "address", "path", "vfs_type"), [
    (POSIX, None, "/dev/sdb1", "ext4"),
    (GLUSTER, "gluster1", "/vol/sub", "glusterfs"),
    (LOCAL, None, "/data/images", None),
    (NFS6, "[fd00::1]", "/exports/v6", None),
])
def test_file_connections_split_address_and_path(connection: StorageConnection, address: str | None, path: str,
                                                  vfs_type: str | None) -> None:
    got = sdk_read(encode.storage_connection(connection, BASE))
    assert (got.address, got.path, got.vfs_type) == (address, path, vfs_type)
    assert got.type == types.StorageType(connection.type.value)


def test_gluster_volume_and_auto_nfs_version() -> None:
    assert sdk_read(encode.storage_connection(GLUSTER, BASE)).gluster_volume.id == "gv-1"
    assert sdk_read(encode.storage_connection(NFS6, BASE)).nfs_version == types.NfsVersion.AUTO


def test_connection_collection_reads_as_a_list() -> None:
    got = sdk_read(encode.storage_connections([NFS, ISCSI, LOCAL], BASE))
    assert [c.id for c in got] == ["c-nfs", "c-iscsi", "c-local"]
    assert list(sdk_read(encode.storage_connections([], BASE))) == []


def test_domain_connections_have_hrefs_under_the_domain() -> None:
    got = sdk_read(encode.storage_connections([ISCSI], BASE, domain_id="sd1"))
    assert got[0].href == f"{BASE}/storagedomains/sd1/storageconnections/c-iscsi"


DOMAIN = StorageDomain(id="sd1", name="data1", storage_type=StorageType.NFS, description="first",
                       data_center_id="dc1", status=DomainStatus.ACTIVE, connection_ids=["c-nfs"])


def test_storage_domain_reads_in_the_sdk() -> None:
    got = sdk_read(encode.storage_domain(DOMAIN, BASE, {"c-nfs": NFS}))
    assert (got.id, got.name, got.description) == ("sd1", "data1", "first")
    assert got.type == types.StorageDomainType.DATA
    # As oVirt: an attached domain's status is its data center's, not shown at the top level.
    assert got.status is None
    in_dc = sdk_read(encode.storage_domain(DOMAIN, BASE, {"c-nfs": NFS}, data_center_id="dc1"))
    assert in_dc.status == types.StorageDomainStatus.ACTIVE
    assert got.storage.type == types.StorageType.NFS
    assert (got.storage.address, got.storage.path, got.storage.id) == ("filer.example.com", "/exports/data", "c-nfs")
    assert [dc.id for dc in got.data_centers] == ["dc1"]
    assert got.storage_connections.href == f"{BASE}/storagedomains/sd1/storageconnections"


def test_attached_domain_has_its_data_center_and_actions() -> None:
    document = encode.storage_domain(DOMAIN, BASE, {"c-nfs": NFS}, data_center_id="dc1")
    got = sdk_read(document)
    assert got.href == f"{BASE}/datacenters/dc1/storagedomains/sd1"
    assert got.data_center.id == "dc1"
    assert b'rel="activate"' in to_xml(document)


def test_iscsi_domain_shows_its_storage_type() -> None:
    domain = StorageDomain(id="sd2", name="block", storage_type=StorageType.ISCSI, connection_ids=["c-iscsi"])
    got = sdk_read(encode.storage_domains([domain], BASE, {"c-iscsi": ISCSI}))[0]
    assert got.storage.type == types.StorageType.ISCSI
    assert got.status == types.StorageDomainStatus.UNATTACHED
    assert got.storage.password is None


def test_data_center_reads_in_the_sdk() -> None:
    got = sdk_read(encode.data_center(DataCenter("dc1", "Default", "the default", local=True), BASE))
    assert (got.id, got.name, got.description, got.local) == ("dc1", "Default", "the default", True)
    assert got.storage_domains.href == f"{BASE}/datacenters/dc1/storagedomains"


def test_host_reads_in_the_sdk_without_its_token() -> None:
    host = Host("h1", "host1", "127.0.0.1", 54321, token="agent-token", data_center_id="dc1", status=HostStatus.UP)
    xml = to_xml(encode.hosts([host], BASE))
    got = Reader.read(xml)[0]
    assert (got.name, got.address, got.port, got.status) == ("host1", "127.0.0.1", 54321, types.HostStatus.UP)
    assert got.cluster.data_center.id == "dc1"
    assert got.root_password is None and b"agent-token" not in xml


def test_lun_disk_reads_in_the_sdk_one_logical_unit_per_path() -> None:
    second = StorageConnection(id="c2", type=StorageType.ISCSI, connection="10.0.0.6", port=3261,
                               iqn="iqn.2026-01.test:lun1", password="other-secret")
    disk = LunDisk("d1", "lun-disk", "36001405abc", ["c-iscsi", "c2"])
    xml = to_xml(encode.disk(disk, BASE, {"c-iscsi": ISCSI, "c2": second}))
    got = Reader.read(xml)
    assert (got.id, got.name, got.alias) == ("d1", "lun-disk", "lun-disk")
    assert got.storage_type == types.DiskStorageType.LUN
    assert got.lun_storage.type == types.StorageType.ISCSI
    units = got.lun_storage.logical_units
    assert [(u.id, u.address, u.port, u.target) for u in units] == [
        ("36001405abc", "10.0.0.5", 3260, "iqn.2026-01.test:lun1"),
        ("36001405abc", "10.0.0.6", 3261, "iqn.2026-01.test:lun1"),
    ]
    assert b"secret" not in xml


def test_vm_and_disk_attachments_read_in_the_sdk() -> None:
    vm = Vm("v1", "vm1", VmStatus.UP, [DiskAttachment("d1", plugged=True), DiskAttachment("d2", plugged=False)])
    got = sdk_read(encode.vm(vm, BASE, inline_attachments=True))
    assert (got.name, got.status) == ("vm1", types.VmStatus.UP)
    assert [(a.disk.id, a.active) for a in got.disk_attachments] == [("d1", True), ("d2", False)]
    listed = sdk_read(encode.disk_attachments(vm, BASE))
    assert listed[1].href == f"{BASE}/vms/v1/diskattachments/d2"
    assert listed[1].vm.id == "v1"


def test_api_root_reads_in_the_sdk() -> None:
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    got = sdk_read(encode.api_root(BASE, User("admin@internal", Role.ADMIN), instance_id="i-1",
                                   engine_version="0.1.0", hosts_total=2, hosts_up=1, domains_total=3,
                                   domains_active=2, vms_total=0, vms_up=0, now=now))
    assert isinstance(got, types.Api)
    assert got.product_info.version.major == 4
    assert got.product_info.instance_id == "i-1"
    assert got.special_objects.blank_template.id == encode.BLANK_ID
    assert (got.summary.hosts.total, got.summary.hosts.active) == (2, 1)
    assert got.summary.storage_domains.active == 2
    assert got.time == now
    assert got.authenticated_user.user_name == "admin@internal"


def test_action_and_fault_read_in_the_sdk() -> None:
    action = sdk_read(encode.action(description="Could not connect on host(s): h1."))
    assert isinstance(action, types.Action)
    assert (action.status, action.fault) == ("complete", None)
    fault = sdk_read(encode.fault("Operation Failed", "[Cannot add Storage Connection. It exists.]"))
    assert isinstance(fault, types.Fault)
    assert fault.detail == "[Cannot add Storage Connection. It exists.]"


# --- the SDK's XML, read by us ----------------------------------------------


def test_sdk_nfs_connection_is_read() -> None:
    body = ours(types.StorageConnection(type=types.StorageType.NFS, address="filer", path="/exp",
                                        nfs_version=types.NfsVersion.V4_2, nfs_timeo=100, nfs_retrans=3,
                                        mount_options="noatime", host=types.Host(name="host1")),
                schema.STORAGE_CONNECTION)
    wanted = decode.storage_connection(body)
    assert wanted.fields == ConnectionFields(type=StorageType.NFS, address="filer", path="/exp", nfs_version="4.2",
                                             nfs_timeo=100, nfs_retrans=3, mount_options="noatime")
    assert (wanted.host, wanted.id) == ("host1", None)


def test_sdk_iscsi_connection_is_read_with_its_password_and_host_id() -> None:
    body = ours(types.StorageConnection(type=types.StorageType.ISCSI, address="10.0.0.5", port=3260,
                                        target="iqn.2026-01.test:lun1", portal="1", username="u", password="p",
                                        host=types.Host(id="h-1", name="ignored-when-id-given")),
                schema.STORAGE_CONNECTION)
    wanted = decode.storage_connection(body)
    assert wanted.fields == ConnectionFields(type=StorageType.ISCSI, address="10.0.0.5", port=3260,
                                             target="iqn.2026-01.test:lun1", portal="1", username="u", password="p")
    assert wanted.host == "h-1"


@pytest.mark.parametrize("version", list(types.NfsVersion))
def test_every_sdk_nfs_version_maps_both_ways(version: types.NfsVersion) -> None:
    fields = decode.connection_fields(ours(types.StorageConnection(nfs_version=version), schema.STORAGE_CONNECTION))
    assert fields.nfs_version in ("auto", "3", "4", "4.0", "4.1", "4.2")
    stored = StorageConnection(id="x", type=StorageType.NFS, connection="a:/b", nfs_version=fields.nfs_version)
    assert sdk_read(encode.storage_connection(stored, BASE)).nfs_version == version


def test_sdk_update_with_only_some_fields_leaves_the_rest_unset() -> None:
    body = ours(types.StorageConnection(address="new-filer"), schema.STORAGE_CONNECTION)
    wanted = decode.storage_connection_update(body, "c1")
    assert wanted.fields == ConnectionFields(address="new-filer")


def test_sdk_connection_with_name_and_comment_is_accepted() -> None:
    body = ours(types.StorageConnection(type=types.StorageType.LOCALFS, path="/d", name="n", comment="c",
                                        description="d"), schema.STORAGE_CONNECTION)
    assert decode.connection_fields(body) == ConnectionFields(type=StorageType.LOCALFS, path="/d")


def test_sdk_storage_domain_with_embedded_nfs_storage_is_read() -> None:
    body = ours(types.StorageDomain(
        name="data1", description="d", type=types.StorageDomainType.DATA, host=types.Host(name="host1"),
        storage_format=types.StorageFormat.V5, wipe_after_delete=False, discard_after_delete=False,
        storage=types.HostStorage(type=types.StorageType.NFS, address="filer", path="/exp",
                                  nfs_version=types.NfsVersion.V3, mount_options="noatime"),
    ), schema.STORAGE_DOMAIN)
    wanted = decode.storage_domain(body)
    assert (wanted.name, wanted.domain_type, wanted.description, wanted.host) == ("data1", "data", "d", "host1")
    assert wanted.storage_type == StorageType.NFS and wanted.connection_id is None
    assert wanted.connection == ConnectionFields(type=StorageType.NFS, address="filer", path="/exp",
                                                 nfs_version="3", mount_options="noatime")


def test_sdk_storage_domain_on_an_existing_connection_is_read() -> None:
    body = ours(types.StorageDomain(name="data2", type=types.StorageDomainType.DATA,
                                    storage=types.HostStorage(id="c-nfs")), schema.STORAGE_DOMAIN)
    wanted = decode.storage_domain(body)
    assert (wanted.connection_id, wanted.connection, wanted.storage_type) == ("c-nfs", None, None)


def test_sdk_iscsi_domain_with_logical_units_is_read() -> None:
    body = ours(types.StorageDomain(name="block", type=types.StorageDomainType.DATA, storage=types.HostStorage(
        type=types.StorageType.ISCSI, logical_units=[types.LogicalUnit(
            id="lun1", address="10.0.0.5", port=3260, target="iqn.x", username="u", password="p")])),
        schema.STORAGE_DOMAIN)
    wanted = decode.storage_domain(body)
    # Issue 9 item 8: each LUN with the target it is on; the engine makes one connection per target.
    assert wanted.connection is None
    assert wanted.luns == [LunFields("lun1", ConnectionFields(type=StorageType.ISCSI, address="10.0.0.5", port=3260,
                                                              target="iqn.x", username="u", password="p"))]


def test_sdk_iscsi_domain_on_two_targets_and_its_update_are_read() -> None:
    units = [types.LogicalUnit(id="lun1", address="10.0.0.5", port=3260, target="iqn.a"),
             types.LogicalUnit(id="lun2", address="10.0.0.5", port=3260, target="iqn.b", lun_mapping=2)]
    sd = types.StorageDomain(name="block", type=types.StorageDomainType.DATA, host=types.Host(name="h1"),
                             storage=types.HostStorage(type=types.StorageType.ISCSI, logical_units=units))
    wanted = decode.storage_domain(ours(sd, schema.STORAGE_DOMAIN))
    assert [(lun.lun_id, lun.connection and lun.connection.target, lun.lun_mapping) for lun in wanted.luns] == [
        ("lun1", "iqn.a", None), ("lun2", "iqn.b", 2)]
    # The SDK's update sends the whole entity back, the LUNs under <storage>.
    update = decode.storage_domain_update(ours(sd, schema.STORAGE_DOMAIN_UPDATE), "sd1")
    assert [lun.lun_id for lun in update.luns] == ["lun1", "lun2"]
    # A VM's start names its host in its placement policy.
    start = types.Action(vm=types.Vm(placement_policy=types.VmPlacementPolicy(hosts=[types.Host(name="h1")])))
    assert decode.action(ours(start, schema.ACTION)).host == "h1"


def test_sdk_domain_update_and_attach_bodies_are_read() -> None:
    update = ours(types.StorageDomain(name="renamed", description="new"), schema.STORAGE_DOMAIN_UPDATE)
    assert decode.storage_domain_update(update, "sd1") == decode.DomainUpdate("renamed", "new")
    attach = ours(types.StorageDomain(id="sd1"), schema.STORAGE_DOMAIN_REF)
    assert attach == {"id": "sd1"}
    connection = ours(types.StorageConnection(id="c1"), schema.STORAGE_CONNECTION)
    assert connection == {"id": "c1"}


def test_sdk_data_center_is_read() -> None:
    body = ours(types.DataCenter(name="dc", description="d", local=True, version=types.Version(major=4, minor=7)),
                schema.DATA_CENTER)
    assert decode.data_center(body) == decode.DataCenterRequest("dc", "d", True, version=(4, 7))


def test_sdk_host_is_read_with_its_token_and_data_center() -> None:
    body = ours(types.Host(name="host1", address="127.0.0.1", port=54322, root_password="agent-token",
                           cluster=types.Cluster(data_center=types.DataCenter(name="Default"))), schema.HOST)
    assert decode.host(body, default_port=54321) == decode.HostRequest("host1", "127.0.0.1", 54322, "agent-token",
                                                                        "Default")


def test_sdk_lun_disk_is_read() -> None:
    body = ours(types.Disk(alias="lun-disk", shareable=True, lun_storage=types.HostStorage(
        type=types.StorageType.ISCSI, logical_units=[
            types.LogicalUnit(id="36001", address="10.0.0.5", port=3260, target="iqn.x", username="u",
                              password="p", lun_mapping=1),
            types.LogicalUnit(id="36001", address="10.0.0.6", port=3260, target="iqn.x"),
        ])), schema.DISK)
    wanted = decode.lun_disk(body)
    assert (wanted.name, wanted.lun_id) == ("lun-disk", "36001")
    assert wanted.connections == [
        ConnectionFields(type=StorageType.ISCSI, address="10.0.0.5", port=3260, target="iqn.x", username="u",
                         password="p"),
        ConnectionFields(type=StorageType.ISCSI, address="10.0.0.6", port=3260, target="iqn.x"),
    ]


def test_sdk_vm_disk_attachment_and_actions_are_read() -> None:
    vm = ours(types.Vm(name="vm1", cluster=types.Cluster(name="Default"), template=types.Template(name="Blank")),
              schema.VM)
    assert decode.vm(vm) == "vm1"
    attachment = ours(types.DiskAttachment(disk=types.Disk(id="d1"), active=False, bootable=False,
                                           interface=types.DiskInterface.VIRTIO_SCSI), schema.DISK_ATTACHMENT)
    assert decode.disk_attachment(attachment) == decode.AttachmentRequest("d1", None, False)
    assert decode.action(ours(types.Action(), schema.ACTION)) == decode.ActionRequest(False, False, None)
    assert decode.action(ours(types.Action(async_=True, force=True), schema.ACTION)) == decode.ActionRequest(
        True, True, None)


# --- JSON ------------------------------------------------------------------


@pytest.mark.parametrize("connection", [NFS, ISCSI, POSIX, GLUSTER, LOCAL, NFS6], ids=lambda c: c.id)
def test_json_output_reads_back_as_the_same_fields(connection: StorageConnection) -> None:
    data = to_json(encode.storage_connection(connection, BASE))
    back = schema.read_json(data, schema.STORAGE_CONNECTION)
    xml_back = schema.read_xml(to_xml(encode.storage_connection(connection, BASE)), schema.STORAGE_CONNECTION)
    assert back == xml_back
    assert back["id"] == connection.id
    assert "password" not in json.loads(data)


def test_json_renders_scalars_as_strings_and_lists_as_ovirt_does() -> None:
    vm = Vm("v1", "vm1", VmStatus.DOWN, [DiskAttachment("d1")])
    data = json.loads(to_json(encode.vms([vm], BASE, inline_attachments=True)))
    item = data["vm"][0]
    assert item["status"] == "down"
    assert item["disk_attachments"]["disk_attachment"][0]["active"] == "true"
    assert {"href": f"{BASE}/vms/v1/diskattachments", "rel": "diskattachments"} in item["link"]
    assert json.loads(to_json(encode.vms([], BASE))) == {}
    port = json.loads(to_json(encode.storage_connection(ISCSI, BASE)))["port"]
    assert port == "3260"


def test_json_input_takes_native_and_string_scalars() -> None:
    native = schema.read_json(b'{"type": "iscsi", "address": "a", "port": 3260, "target": "t"}',
                              schema.STORAGE_CONNECTION)
    strings = schema.read_json(b'{"type": "iscsi", "address": "a", "port": "3260", "target": "t"}',
                               schema.STORAGE_CONNECTION)
    assert native == strings == {"type": "iscsi", "address": "a", "port": 3260, "target": "t"}
    disk = schema.read_json(json.dumps({"alias": "d", "lun_storage": {"type": "iscsi", "logical_units": {
        "logical_unit": [{"id": "L", "address": "a", "port": "3260", "target": "t"}]}}}).encode(), schema.DISK)
    assert decode.lun_disk(disk).lun_id == "L"
    local = schema.read_json(b'{"name": "dc", "local": "true"}', schema.DATA_CENTER)
    assert local["local"] is True
