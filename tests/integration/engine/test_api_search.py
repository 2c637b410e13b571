"""``?search=``: oVirt's search language on every list, through REST in XML and JSON, against a real engine.

The issue's examples (``hosts status=up``, ``disks disk_type=lun``,
``datacenters storage="sd1"``, ``name=x and datacenter=y``,
``storagedomains status=unattached``), each with a real agent behind the
host that is Up; bad queries are 400s naming the field or the position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storconn.engine.model import StorageType, VmStatus
from storconn.engine.service import Engine
from tests.peers.agent import AgentProcess

from .rest import NFS, NFS_FIELDS, Api, iscsi_fields, lun_disk, unreachable_host


def names(api: Api, collection: str, singular: str, search: str, **params: str) -> list[str]:
    answer = api.get(f"/{collection}", params={"search": search, **params})
    return sorted(item["name"] for item in api.read_list(answer, singular))


@pytest.fixture
def up_host(engine: Engine, tmp_path: Path, mount_root: Path) -> Any:
    """A host with a real agent behind it, Up, in data center ``dc1``."""
    agent = AgentProcess(tmp_path / "agent-state", mount_root)
    agent.start()
    try:
        dc = engine.add_data_center("dc1")
        token = (agent.state_dir / "token").read_text().strip()
        host = engine.add_host("alive", address="127.0.0.1", port=agent.port, token=token, data_center_id=dc.id)
        assert host.status.value == "up"
        yield host
    finally:
        agent.stop()


def test_hosts_by_status_data_center_and_name(api: Api, engine: Engine, up_host: Any) -> None:
    dc2 = engine.add_data_center("dc2")
    unreachable_host(engine, "dead", data_center_id=dc2.id)
    unreachable_host(engine, "loose")
    assert names(api, "hosts", "host", "status=up") == ["alive"]
    assert names(api, "hosts", "host", "Hosts: status = UP") == ["alive"]
    assert names(api, "hosts", "host", "status=non_responsive") == ["dead", "loose"]
    assert names(api, "hosts", "host", "status=NonResponsive") == ["dead", "loose"]  # oVirt's own spelling
    assert names(api, "hosts", "host", "status!=up") == ["dead", "loose"]
    assert names(api, "hosts", "host", "datacenter=dc2") == ["dead"]
    assert names(api, "hosts", "host", "datacenter=dc*") == ["alive", "dead"]
    assert names(api, "hosts", "host", 'name="alive" and datacenter="dc1"') == ["alive"]
    assert names(api, "hosts", "host", "name=alive and datacenter=dc2") == []
    assert names(api, "hosts", "host", "name=alive or datacenter=dc2") == ["alive", "dead"]
    assert names(api, "hosts", "host", "address=127.0.0.*") == ["alive", "dead", "loose"]
    assert names(api, "hosts", "host", "dc2") == ["dead"]  # a bare word: oVirt's free text


def test_disks_by_disk_type_and_name(api: Api, engine: Engine) -> None:
    lun_disk(engine, "lun1", "10.0.0.5")
    lun_disk(engine, "other", "10.0.0.6", lun_id="36001405bb")
    assert names(api, "disks", "disk", "disk_type=lun") == ["lun1", "other"]
    assert names(api, "disks", "disk", "disk_type=image") == []
    assert names(api, "disks", "disk", "name=lun* or alias=oth*") == ["lun1", "other"]
    assert names(api, "disks", "disk", "disk_type=lun and name!=lun1") == ["other"]


def test_data_centers_by_storage_domain_and_status(api: Api, engine: Engine) -> None:
    nfs = engine.add_connection(NFS_FIELDS)
    posix = engine.add_connection(NFS_FIELDS.__class__(type=StorageType.POSIXFS, path="tmpfs-x", vfs_type="tmpfs"))
    sd1 = engine.add_domain("sd1", storage_type=StorageType.NFS, connection_id=nfs.id)
    sd2 = engine.add_domain("sd2", storage_type=StorageType.POSIXFS, connection_id=posix.id)
    with_sd1 = engine.add_data_center("with-sd1")
    with_sd2 = engine.add_data_center("with-sd2")
    engine.add_data_center("empty", local=True)
    for dc, sd in ((with_sd1, sd1), (with_sd2, sd2)):
        engine.attach_domain(dc.id, sd.id)  # attach activates
    engine.deactivate_domain(with_sd2.id, sd2.id)
    assert names(api, "datacenters", "data_center", 'storage="sd1"') == ["with-sd1"]
    assert names(api, "datacenters", "data_center", "storage.name=sd*") == ["with-sd1", "with-sd2"]
    assert names(api, "datacenters", "data_center", "status=up") == ["with-sd1"]
    assert names(api, "datacenters", "data_center", "local=true") == ["empty"]
    assert names(api, "datacenters", "data_center", "Datacenter: name=with* sortby name desc") == [
        "with-sd1", "with-sd2"]  # names() sorts; the order itself is checked below
    answer = api.get("/datacenters", params={"search": "name=with* sortby name desc"})
    assert [i["name"] for i in api.read_list(answer, "data_center")] == ["with-sd2", "with-sd1"]


def test_storage_domains_by_status_data_center_and_type(api: Api, engine: Engine) -> None:
    nfs = engine.add_connection(NFS_FIELDS)
    iscsi = engine.add_connection(iscsi_fields())
    free = engine.add_domain("free", storage_type=StorageType.NFS, connection_id=nfs.id)
    used = engine.add_domain("used", storage_type=StorageType.ISCSI, connection_id=iscsi.id)
    dc = engine.add_data_center("dc-x")
    engine.attach_domain(dc.id, used.id)  # attach activates
    assert free.id
    assert names(api, "storagedomains", "storage_domain", "status=unattached") == ["free"]
    assert names(api, "storagedomains", "storage_domain", "status=active") == ["used"]
    assert names(api, "storagedomains", "storage_domain", "type=iscsi") == ["used"]
    assert names(api, "storagedomains", "storage_domain", 'name="used" and datacenter="dc-x"') == ["used"]
    assert names(api, "storagedomains", "storage_domain", "name=free and datacenter=dc-x") == []
    assert names(api, "storagedomains", "storage_domain", "Storage: datacenter=dc-x") == ["used"]
    # the same search under the data center
    answer = api.get(f"/datacenters/{dc.id}/storagedomains", params={"search": "status=active"})
    assert [i["name"] for i in api.read_list(answer, "storage_domain")] == ["used"]


def test_connections_and_vms(api: Api, engine: Engine) -> None:
    api.add_connection(NFS)
    api.add_connection({"type": "posixfs", "path": "tmpfs-a", "vfs_type": "tmpfs"})
    answer = api.get("/storageconnections", params={"search": "type=nfs"})
    assert [i["address"] for i in api.read_list(answer, "storage_connection")] == ["filer.example.com"]
    answer = api.get("/storageconnections", params={"search": "path=/exports/*"})
    assert len(api.read_list(answer, "storage_connection")) == 1
    engine.add_vm("running", status=VmStatus.UP)
    engine.add_vm("stopped")
    assert names(api, "vms", "vm", "status=up") == ["running"]
    assert names(api, "vms", "vm", "status=down or name=run*") == ["running", "stopped"]


def test_case_sensitivity_and_max_after_the_search(api: Api, engine: Engine) -> None:
    for name in ("Alpha", "alpine", "beta"):
        engine.add_data_center(name)
    assert names(api, "datacenters", "data_center", "name=al*") == ["alpine"]
    assert names(api, "datacenters", "data_center", "name=al*", case_sensitive="false") == ["Alpha", "alpine"]
    # max counts what the search found, not what was stored
    answer = api.get("/datacenters", params={"search": "name=*l* sortby name", "max": "1",
                                             "case_sensitive": "false"})
    assert [i["name"] for i in api.read_list(answer, "data_center")] == ["Alpha"]
    answer = api.get("/datacenters", params={"search": "sortby name page 2", "max": "2"})
    assert [i["name"] for i in api.read_list(answer, "data_center")] == ["beta"]


@pytest.mark.parametrize(("collection", "query", "key", "parts"), [
    ("hosts", "colour=red", "INVALID_CONDITION_FILED",
     ("'colour'", "hosts", "address, cluster, cluster.name, datacenter, datacenter.name, id, name, status")),
    ("storagedomains", "name=x and size=1", "INVALID_CONDITION_FILED", ("'size'", "position 12", "datacenter")),
    ("storagedomains", "status=up", "INVALID_CONDITION_VALUE", ("'up'", "active", "unattached")),
    ("datacenters", "name=x y", "INVALID_POST_CONDITION_VALUE_PHRASE", ("position 8",)),
    ("disks", 'name="lun', "INVALID_CONDITION_VALUE", ("position 6", "never closed")),
    ("vms", "Hosts: status=up", "INVALID_SEARCH_OBJECT", ("'hosts:'", "vms")),
    ("datacenters", "sortby size", "INVALID_SORT_FIELD", ("'size'",)),
    ("storageconnections", "name>1", "INVALID_CONDITION_FILED", ("'name'",)),
    ("hosts", "(" * 300 + "name=x" + ")" * 300, "INVALID_CHARECTER", ("deeper than 32",)),
])
def test_a_bad_query_is_a_400_naming_the_field_or_the_position(
    api: Api, engine: Engine, collection: str, query: str, key: str, parts: tuple[str, ...]
) -> None:
    api.add_connection(NFS)
    before = api.snapshot()
    answer = api.get(f"/{collection}", params={"search": query})
    detail = api.expect_fault(answer, 400, key, contains=parts)
    assert detail.startswith("[Search: ")
    assert api.snapshot() == before
