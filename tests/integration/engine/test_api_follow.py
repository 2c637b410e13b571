"""``?follow=``: linked entities inlined in full, on lists and gets, in XML and JSON, and read by the SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from storconn.engine.model import StorageType
from storconn.engine.service import Engine

from .conftest import ADMIN
from .rest import NFS_FIELDS, Api, iscsi_fields, lun_disk, unreachable_host


def _iscsi_domain(engine: Engine) -> tuple[Any, list[str]]:
    """An iSCSI domain with two connections (multipath), attached to data center ``dc1``."""
    first = engine.add_connection(iscsi_fields("10.0.0.5"))
    second = engine.add_connection(iscsi_fields("10.0.0.6"))
    domain = engine.add_domain("block", storage_type=StorageType.ISCSI, connection_id=first.id)
    engine.attach_connection(domain.id, second.id)
    dc = engine.add_data_center("dc1")
    engine.attach_domain(dc.id, domain.id)
    return engine.get_domain(domain.id), [first.id, second.id]


def _inlined(entity: dict[str, Any], plural: str, singular: str) -> list[dict[str, Any]]:
    found = entity.get(plural)
    assert isinstance(found, dict), entity
    items: list[dict[str, Any]] = found.get(singular, [])
    return items


def test_domains_list_and_get_inline_their_connections(api: Api, engine: Engine) -> None:
    domain, connection_ids = _iscsi_domain(engine)
    nfs = engine.add_connection(NFS_FIELDS)
    engine.add_domain("files", storage_type=StorageType.NFS, connection_id=nfs.id)
    listed = api.read_list(api.get("/storagedomains", params={"follow": "storage_connections"}), "storage_domain")
    by_name = {d["name"]: d for d in listed}
    block = _inlined(by_name["block"], "storage_connections", "storage_connection")
    assert sorted(c["id"] for c in block) == sorted(connection_ids)
    assert sorted(c["address"] for c in block) == ["10.0.0.5", "10.0.0.6"]
    assert {c["target"] for c in block} == {"iqn.2026-01.test:lun1"}
    assert all(c["href"].endswith(f"/storagedomains/{domain.id}/storageconnections/{c['id']}") for c in block)
    files = _inlined(by_name["files"], "storage_connections", "storage_connection")
    assert [(c["address"], c["path"]) for c in files] == [("filer.example.com", "/exports/data")]
    # the link stays beside the inlined elements, as oVirt answers
    assert any(link["rel"] == "storageconnections" for link in by_name["block"]["link"])
    got = api.read(api.get(f"/storagedomains/{domain.id}", params={"follow": "storage_connections,data_centers"}))
    assert len(_inlined(got, "storage_connections", "storage_connection")) == 2
    assert [dc["name"] for dc in _inlined(got, "data_centers", "data_center")] == ["dc1"]
    # without follow: no inlined connections
    plain = api.read(api.get(f"/storagedomains/{domain.id}"))
    assert "storage_connections" not in plain


def test_data_centers_inline_their_domains_and_a_dotted_path_goes_deeper(api: Api, engine: Engine) -> None:
    domain, _ = _iscsi_domain(engine)
    engine.add_data_center("empty")
    listed = api.read_list(api.get("/datacenters", params={"follow": "storage_domains"}), "data_center")
    by_name = {dc["name"]: dc for dc in listed}
    inner = _inlined(by_name["dc1"], "storage_domains", "storage_domain")
    assert [d["name"] for d in inner] == ["block"] and inner[0]["status"] == "active"  # attach activates
    assert "storage_connections" not in inner[0]
    assert by_name["empty"]["storage_domains"] in ({}, "")  # an empty list element
    deep = api.read(api.get(f"/datacenters/{by_name['dc1']['id']}",
                            params={"follow": "storage_domains.storage_connections"}))
    inner = _inlined(deep, "storage_domains", "storage_domain")
    assert len(_inlined(inner[0], "storage_connections", "storage_connection")) == 2
    attached = api.read(api.get(f"/datacenters/{by_name['dc1']['id']}/storagedomains/{domain.id}",
                                params={"follow": "data_center"}))
    assert attached["data_center"]["name"] == "dc1"


def test_disks_inline_their_connections(api: Api, engine: Engine) -> None:
    disk = lun_disk(engine, "lun1", "10.0.0.5", "10.0.0.6")
    got = api.read(api.get(f"/disks/{disk.id}", params={"follow": "storage_connections"}))
    assert sorted(c["address"] for c in _inlined(got, "storage_connections", "storage_connection")) == [
        "10.0.0.5", "10.0.0.6"]
    listed = api.read_list(api.get("/disks", params={"follow": "storage_connections"}), "disk")
    assert len(_inlined(listed[0], "storage_connections", "storage_connection")) == 2


@pytest.mark.parametrize(("path", "follow", "parts"), [
    ("/storagedomains", "storage_connections,nics", ("'nics'", "storage_connections")),
    ("/datacenters", "storage_domains.vms", ("'storage_domains.vms'", "'vms'")),
    ("/hosts", "cluster.data_center", ("'cluster.data_center'",)),
    ("/storageconnections", "hosts", ("'hosts'",)),
])
def test_an_unknown_link_is_a_400_naming_it(
    api: Api, engine: Engine, path: str, follow: str, parts: tuple[str, ...]
) -> None:
    api.expect_fault(api.get(path, params={"follow": follow}), 400, "INVALID_FOLLOW", contains=parts)


sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402


@pytest.fixture
def system(url: str) -> Iterator[Any]:
    connection = sdk.Connection(url=url, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection.system_service()
    connection.close()


def test_the_sdk_reads_followed_connections_and_searches(system: Any) -> None:
    connections = system.storage_connections_service()
    sc = connections.add(types.StorageConnection(type=types.StorageType.NFS, address="filer.example.com",
                                                 path="/exports/data"))
    sds = system.storage_domains_service()
    sds.add(types.StorageDomain(name="sd1", type=types.StorageDomainType.DATA, storage=types.HostStorage(id=sc.id)))
    listed = sds.list(follow="storage_connections")
    assert listed[0].storage_connections[0].address == "filer.example.com"
    assert listed[0].storage_connections[0].path == "/exports/data"
    one = sds.storage_domain_service(listed[0].id).get(follow="storage_connections")
    assert one.storage_connections[0].id == sc.id
    assert [d.name for d in sds.list(search="status=unattached")] == ["sd1"]
    assert sds.list(search='name="sd1" and status=active') == []
    dcs = system.data_centers_service()
    dc = dcs.add(types.DataCenter(name="dc1", local=False))
    dcs.data_center_service(dc.id).storage_domains_service().add(types.StorageDomain(name="sd1"))
    # what ovirt_storage_domain asks to find the domain's data center
    assert [d.name for d in dcs.list(search='storage="sd1"')] == ["dc1"]
    followed = dcs.list(follow="storage_domains")
    assert followed[0].storage_domains[0].name == "sd1"
    with pytest.raises(sdk.Error, match="colour"):
        sds.list(search="colour=red")


def test_hosts_inline_their_cluster_and_data_centers_their_clusters(api: Api, engine: Engine) -> None:
    dc = engine.add_data_center("dc-c")
    host = unreachable_host(engine, "h-c", data_center_id=dc.id)  # joins the data center's Default cluster
    listed = api.read_list(api.get("/hosts", params={"follow": "cluster"}), "host")
    [found] = [h for h in listed if h["id"] == host.id]
    assert found["cluster"]["name"] == "Default" and found["cluster"]["id"] == host.cluster_id
    got = api.read(api.get(f"/hosts/{host.id}", params={"follow": "cluster"}))
    assert got["cluster"]["name"] == "Default"
    assert "name" not in api.read(api.get(f"/hosts/{host.id}"))["cluster"]  # without follow: the link only
    dcs = api.read_list(api.get("/datacenters", params={"follow": "clusters"}), "data_center")
    [with_cluster] = [d for d in dcs if d["id"] == dc.id]
    assert [c["name"] for c in _inlined(with_cluster, "clusters", "cluster")] == ["Default"]
