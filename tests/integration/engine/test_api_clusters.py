"""Clusters, hosts in clusters, and data centers as oVirt shows them — through REST, in XML and in JSON.

The real Engine on SQLite in ``tmp_path`` behind one uvicorn per module
(the fixtures of ``conftest.py``); states the API cannot produce (a host
in maintenance) are arranged in the database directly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from storconn.engine.model import DomainStatus, HostStatus, StorageType
from storconn.engine.service import Engine

from .rest import FAILED, INCOMPLETE, NFS_FIELDS, Api, repository

SYNTAX = "Request syntactically incorrect."


def add_dc(api: Api, name: str = "dc1", **fields: Any) -> dict[str, Any]:
    answer = api.post("/datacenters", "data_center", {"name": name, "local": False, **fields})
    assert answer.status_code == 201, answer.text
    return api.read(answer)


def add_cluster(api: Api, name: str = "c1", dc: str = "dc1", **fields: Any) -> dict[str, Any]:
    answer = api.post("/clusters", "cluster", {"name": name, "data_center": {"name": dc}, **fields})
    assert answer.status_code == 201, answer.text
    return api.read(answer)


def set_host_status(tmp_path: Path, host_id: str, status: HostStatus) -> None:
    with repository(tmp_path) as repo:
        repo.set_host_status(host_id, status)


def domain_in(engine: Engine, dc_id: str, name: str, *, active: bool) -> Any:
    """A domain on an NFS connection of its own, attached to ``dc_id``, active or in maintenance."""
    fields = dataclasses.replace(NFS_FIELDS, path=f"/exports/{name}")
    domain = engine.add_domain(name, storage_type=StorageType.NFS, connection=fields)
    engine.attach_domain(dc_id, domain.id)
    if active and engine.get_domain(domain.id).status is not DomainStatus.ACTIVE:
        engine.activate_domain(dc_id, domain.id)
    if not active and engine.get_domain(domain.id).status is DomainStatus.ACTIVE:
        engine.deactivate_domain(dc_id, domain.id)
    return engine.get_domain(domain.id)


# -- clusters ---------------------------------------------------------------------------------------


def test_cluster_lifecycle(api: Api) -> None:
    dc = add_dc(api)
    added = add_cluster(api, description="first", comment="note")
    assert added["name"] == "c1" and added["description"] == "first" and added["comment"] == "note"
    assert added["data_center"]["id"] == dc["id"]
    assert added["href"].endswith(f"/clusters/{added['id']}")
    # oVirt maps a new cluster from its data center: the version is the data center's.
    assert added["version"] == {"major": "4", "minor": "7"}

    assert api.ids('/clusters?search=name="c1"', "cluster") == [added["id"]]
    assert api.ids("/clusters?search=name=other", "cluster") == []
    assert api.ids(f"/datacenters/{dc['id']}/clusters", "cluster") == [added["id"]]
    assert api.read(api.get(f"/clusters/{added['id']}"))["name"] == "c1"

    changed = api.put(f"/clusters/{added['id']}", "cluster",
                      {"name": "c2", "description": "", "version": {"major": 4, "minor": 8},
                       "cpu": {"type": "Intel Nehalem Family", "architecture": "x86_64"}})
    assert changed.status_code == 200, changed.text
    got = api.read(api.get(f"/clusters/{added['id']}"))
    assert got["name"] == "c2" and "description" not in got and got["comment"] == "note"
    assert got["version"] == {"major": "4", "minor": "8"}
    assert got["cpu"] == {"architecture": "x86_64", "type": "Intel Nehalem Family"}

    assert api.delete(f"/clusters/{added['id']}").status_code == 200
    api.expect_fault(api.get(f"/clusters/{added['id']}"), 404, "ACTION_TYPE_FAILED_ENTITY_NOT_FOUND",
                     reason="Not Found")


def test_a_cluster_added_under_its_data_center(api: Api) -> None:
    dc = add_dc(api)
    answer = api.post(f"/datacenters/{dc['id']}/clusters", "cluster", {"name": "c1"})
    assert answer.status_code == 201, answer.text
    added = api.read(answer)
    assert added["data_center"]["id"] == dc["id"]
    assert added["href"].endswith(f"/clusters/{added['id']}")
    assert api.read(api.get(f"/datacenters/{dc['id']}/clusters/{added['id']}"))["id"] == added["id"]


def test_what_ovirt_cluster_sends_is_accepted_and_what_it_reads_is_there(api: Api) -> None:
    """ovirt_cluster's body with the options that do not concern storage; its second run reads these back."""
    add_dc(api)
    sent = {
        "name": "c1", "data_center": {"name": "dc1"}, "comment": "c", "description": "d",
        "ballooning_enabled": True, "gluster_service": False, "virt_service": True, "threads_as_cores": False,
        "ha_reservation": False, "trusted_service": False, "optional_reason": False,
        "maintenance_reason_required": False, "memory_policy": {"over_commit": {"percent": 150}},
        "ksm": {"enabled": True, "merge_across_nodes": True},
        "fencing_policy": {"enabled": True, "skip_if_sd_active": {"enabled": False}},
        "migration": {"auto_converge": "inherit", "bandwidth": {"assignment_method": "auto"}},
        "error_handling": {"on_error": "migrate"}, "switch_type": "legacy", "firewall_type": "firewalld",
        "cpu": {"architecture": "x86_64", "type": "Intel Nehalem Family"},
        "version": {"major": 4, "minor": 7},
    }
    answer = api.post("/clusters", "cluster", sent)
    assert answer.status_code == 201, answer.text
    got = api.read(answer)
    assert got["ksm"]["merge_across_nodes"] == "true"
    assert got["fencing_policy"]["skip_if_sd_active"]["enabled"] == "false"
    assert got["fencing_policy"]["skip_if_connectivity_broken"]["threshold"] == "50"
    assert got["memory_policy"]["over_commit"]["percent"] == "100"  # not stored: oVirt's default shown
    assert got["migration"]["bandwidth"]["assignment_method"] == "auto"
    policy = api.read(api.get(got["scheduling_policy"]["href"].split("/ovirt-engine/api", 1)[1]))
    assert policy["name"] == "none"
    pools = api.read_list(api.get("/macpools"), "mac_pool")
    assert [p["id"] for p in pools] == [got["mac_pool"]["id"]]


@pytest.mark.parametrize(
    ("fields", "status", "key", "reason", "detail"),
    [
        ({"name": "c1"}, 400, "INCOMPLETE_PARAMETERS", INCOMPLETE, "[Cluster [dataCenter.name|id] required for add]"),
        ({"data_center": {"name": "dc1"}}, 400, "INCOMPLETE_PARAMETERS", INCOMPLETE,
         "[Cluster [name] required for add]"),
        ({"name": "c1", "data_center": {"name": "nowhere"}}, 404, "ACTION_TYPE_FAILED_STORAGE_POOL_NOT_EXIST",
         "Not Found", None),
        ({"name": "taken", "data_center": {"name": "dc1"}}, 409, "CLUSTER_CANNOT_DO_ACTION_NAME_IN_USE", FAILED,
         "[Cannot add Cluster. Cluster name taken is already in use.]"),
        ({"name": "c1", "data_center": {"name": "dc1"}, "version": {"major": 3, "minor": 6}}, 400,
         "ACTION_TYPE_FAILED_GIVEN_VERSION_NOT_SUPPORTED", FAILED, None),
        ({"name": "c1", "data_center": {"name": "dc1"}, "version": {"major": 4, "minor": 2}}, 409,
         "CLUSTER_CANNOT_ADD_COMPATIBILITY_VERSION_WITH_LOWER_STORAGE_POOL", FAILED, None),
        ({"name": "c1", "data_center": {"name": "dc1"}, "version": {"major": 4}}, 400, "INCOMPLETE_PARAMETERS",
         SYNTAX, None),
        ({"name": "c1", "data_center": {"name": "dc1"}, "hosts": "x"}, 400, "UNKNOWN_ELEMENT", SYNTAX, None),
    ],
    ids=["no-dc", "no-name", "unknown-dc", "name-taken", "version-unsupported", "version-below-dc",
         "version-half", "unknown-element"],
)
def test_a_refused_cluster_changes_nothing(
    api: Api, fields: dict[str, Any], status: int, key: str, reason: str, detail: str | None
) -> None:
    add_dc(api, version={"major": 4, "minor": 3})
    add_cluster(api, "taken", version={"major": 4, "minor": 3})
    before = api.get("/clusters").content
    api.expect_fault(api.post("/clusters", "cluster", fields), status, key, reason=reason, detail=detail)
    assert api.get("/clusters").content == before


def test_a_local_data_center_has_one_cluster_and_one_host(api: Api, engine: Engine) -> None:
    add_dc(api, "local1", local=True)
    cluster = add_cluster(api, "c1", "local1")
    api.expect_fault(api.post("/clusters", "cluster", {"name": "c2", "data_center": {"name": "local1"}}), 409,
                     "CLUSTER_CANNOT_ADD_MORE_THEN_ONE_HOST_TO_LOCAL_STORAGE", contains=("Cannot add Cluster.",))
    first = api.post("/hosts", "host", {"name": "h2", "address": "127.0.0.1", "port": 1,
                                        "cluster": {"id": cluster["id"]}})
    assert first.status_code == 201, first.text
    api.expect_fault(api.post("/hosts", "host", {"name": "h3", "address": "127.0.0.1", "port": 1,
                                                 "cluster": {"name": "c1"}}),
                     409, "VDS_CANNOT_ADD_MORE_THEN_ONE_HOST_TO_LOCAL_STORAGE", contains=("Cannot add Host.",))


def test_a_cluster_with_hosts_is_not_removed(api: Api) -> None:
    add_dc(api)
    cluster = add_cluster(api)
    host = api.post("/hosts", "host", {"name": "h1", "address": "127.0.0.1", "port": 1, "cluster": {"name": "c1"}})
    assert host.status_code == 201, host.text
    api.expect_fault(api.delete(f"/clusters/{cluster['id']}"), 409, "VDS_CANNOT_REMOVE_CLUSTER_VDS_DETECTED",
                     contains=("[Cannot remove Cluster. Cluster contains one or more Hosts: h1 (",))
    assert api.read(api.get(f"/clusters/{cluster['id']}"))["id"] == cluster["id"]
    assert api.delete(f"/hosts/{api.read(host)['id']}").status_code == 200
    assert api.delete(f"/clusters/{cluster['id']}").status_code == 200


def test_cluster_edit_rules(api: Api, engine: Engine) -> None:
    dc = add_dc(api, version={"major": 4, "minor": 5})
    other = add_dc(api, "dc2")
    cluster = add_cluster(api, version={"major": 4, "minor": 6})
    add_cluster(api, "c2")
    path = f"/clusters/{cluster['id']}"
    api.expect_fault(api.put(path, "cluster", {"name": "c2"}), 409, "CLUSTER_CANNOT_DO_ACTION_NAME_IN_USE",
                     contains=("Cannot edit Cluster.",))
    api.expect_fault(api.put(path, "cluster", {"data_center": {"id": other["id"]}}), 409,
                     "CLUSTER_CANNOT_CHANGE_STORAGE_POOL")
    api.expect_fault(api.put(path, "cluster", {"version": {"major": 4, "minor": 4}}), 409,
                     "ACTION_TYPE_FAILED_CANNOT_DECREASE_COMPATIBILITY_VERSION_UNDER_DC")
    engine.add_host("h1", address="127.0.0.1", port=1, token="t", cluster_id=cluster["id"])
    api.expect_fault(api.put(path, "cluster", {"version": {"major": 4, "minor": 5}}), 409,
                     "ACTION_TYPE_FAILED_CANNOT_DECREASE_CLUSTER_WITH_HOSTS_COMPATIBILITY_VERSION")
    api.expect_fault(api.put(path, "cluster", {"name": "c9", "id": dc["id"]}), 409,
                     "BROKEN_IMMUTABILITY_CONSTRAINT", reason="Broken immutability constraint")
    api.expect_fault(api.put("/clusters/nowhere", "cluster", {"name": "c9"}), 404,
                     "ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", reason="Not Found")
    assert api.read(api.get(path))["name"] == "c1"


# -- hosts in clusters ------------------------------------------------------------------------------


def test_a_host_joins_a_cluster_by_id_or_by_name(api: Api) -> None:
    dc = add_dc(api)
    cluster = add_cluster(api)
    by_id = api.read(api.post("/hosts", "host", {"name": "h1", "address": "127.0.0.1", "port": 1,
                                                 "cluster": {"id": cluster["id"]}}))
    by_name = api.read(api.post("/hosts", "host", {"name": "h2", "address": "127.0.0.1", "port": 1,
                                                   "cluster": {"name": "c1"}}))
    for host in (by_id, by_name):
        assert host["cluster"]["id"] == cluster["id"]
        assert host["cluster"]["href"].endswith(f"/clusters/{cluster['id']}")
        assert host["cluster"]["data_center"]["id"] == dc["id"]
        assert api.read(api.get(f"/hosts/{host['id']}"))["cluster"]["id"] == cluster["id"]
    api.expect_fault(api.post("/hosts", "host", {"name": "h3", "address": "127.0.0.1", "port": 1,
                                                 "cluster": {"name": "nowhere"}}),
                     404, "ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", detail="[Entity not found: Cluster: name=nowhere]",
                     reason="Not Found")
    api.expect_fault(api.post("/hosts", "host", {"name": "h3", "address": "127.0.0.1", "port": 1,
                                                 "cluster": {"id": "5a1b2c3d-0000-0000-0000-000000000000"}}),
                     400, "VDS_CLUSTER_IS_NOT_VALID", contains=("[Cannot add Host. Cluster ID ",))
    assert [h["name"] for h in api.read_list(api.get("/hosts"), "host")] == ["h1", "h2"]


def test_a_host_named_by_its_data_center_joins_its_default_cluster(api: Api) -> None:
    """storconn's earlier form, ``<cluster><data_center/></cluster>``: the data center's "Default" cluster."""
    dc = add_dc(api)
    first = api.read(api.post("/hosts", "host", {"name": "h1", "address": "127.0.0.1", "port": 1,
                                                 "cluster": {"data_center": {"id": dc["id"]}}}))
    clusters = api.read_list(api.get(f"/datacenters/{dc['id']}/clusters"), "cluster")
    assert [c["name"] for c in clusters] == ["Default"]
    assert first["cluster"]["id"] == clusters[0]["id"]
    second = api.read(api.post("/hosts", "host", {"name": "h2", "address": "127.0.0.1", "port": 1,
                                                  "cluster": {"data_center": {"name": "dc1"}}}))
    assert second["cluster"]["id"] == clusters[0]["id"]
    # "Default" is taken: another data center's default cluster is named after its id.
    other = add_dc(api, "dc2")
    third = api.read(api.post("/hosts", "host", {"name": "h3", "address": "127.0.0.1", "port": 1,
                                                 "cluster": {"data_center": {"id": other["id"]}}}))
    named = api.read(api.get(f"/clusters/{third['cluster']['id']}"))["name"]
    assert named == f"Default-{other['id']}"


def test_a_host_changes_cluster_only_in_maintenance(api: Api, engine: Engine, tmp_path: Path) -> None:
    add_dc(api)
    dc2 = add_dc(api, "dc2")
    add_cluster(api)
    target = add_cluster(api, "c2", "dc2")
    host = api.read(api.post("/hosts", "host", {"name": "h1", "address": "127.0.0.1", "port": 1,
                                                "cluster": {"name": "c1"}}))
    path = f"/hosts/{host['id']}"
    api.expect_fault(api.put(path, "host", {"cluster": {"name": "c2"}}), 409, "VDS_STATUS_NOT_VALID_FOR_UPDATE",
                     contains=("[Cannot edit Host. Host parameters cannot be modified while Host is operational.",))
    set_host_status(tmp_path, host["id"], HostStatus.MAINTENANCE)
    api.expect_fault(api.put(path, "host", {"address": "10.0.0.9"}), 400, "INVALID_VALUE", reason=SYNTAX)
    moved = api.put(path, "host", {"name": "h1b", "address": "127.0.0.1", "cluster": {"id": target["id"]}})
    assert moved.status_code == 200, moved.text
    got = api.read(api.get(path))
    assert got["name"] == "h1b" and got["cluster"]["id"] == target["id"]
    assert got["cluster"]["data_center"]["id"] == dc2["id"]
    assert engine.get_host(host["id"]).data_center_id == dc2["id"]


# -- data centers ---------------------------------------------------------------------------------


def test_data_center_status_version_and_storage_format(api: Api, engine: Engine) -> None:
    dc = add_dc(api, comment="dc note")
    assert dc["status"] == "uninitialized" and dc["version"] == {"major": "4", "minor": "7"}
    assert dc["storage_format"] == "v5" and dc["comment"] == "dc note" and dc["local"] == "false"
    assert {"rel": "clusters", "href": f"{dc['href']}/clusters"} in dc["link"]
    old = add_dc(api, "old", version={"major": 4, "minor": 2})
    assert old["storage_format"] == "v4"
    assert "supported_versions" in old
    domain = domain_in(engine, dc["id"], "data1", active=True)
    assert api.read(api.get(f"/datacenters/{dc['id']}"))["status"] == "up"
    engine.deactivate_domain(dc["id"], domain.id)
    listed = {d["name"]: d["status"] for d in api.read_list(api.get("/datacenters"), "data_center")}
    assert listed == {"dc1": "maintenance", "old": "uninitialized"}
    api.expect_fault(api.post("/datacenters", "data_center", {"name": "bad", "version": {"major": 5, "minor": 0}}),
                     400, "ACTION_TYPE_FAILED_GIVEN_VERSION_NOT_SUPPORTED", contains=("Cannot add Data Center.",))


def test_data_center_edit(api: Api) -> None:
    dc = add_dc(api, version={"major": 4, "minor": 5})
    add_dc(api, "dc2")
    add_cluster(api, version={"major": 4, "minor": 6})
    path = f"/datacenters/{dc['id']}"
    changed = api.put(path, "data_center", {"name": "renamed", "description": "d", "comment": "c",
                                            "version": {"major": 4, "minor": 6}})
    assert changed.status_code == 200, changed.text
    got = api.read(api.get(path))
    assert (got["name"], got["description"], got["comment"]) == ("renamed", "d", "c")
    assert got["version"] == {"major": "4", "minor": "6"}
    api.expect_fault(api.put(path, "data_center", {"version": {"major": 4, "minor": 7}}), 409,
                     "ERROR_CANNOT_UPDATE_STORAGE_POOL_COMPATIBILITY_VERSION_BIGGER_THAN_CLUSTERS",
                     contains=("[Cannot edit Data Center.", "c1"))
    api.expect_fault(api.put(path, "data_center", {"name": "dc2"}), 409,
                     "ACTION_TYPE_FAILED_STORAGE_POOL_NAME_ALREADY_EXIST")
    api.expect_fault(api.put("/datacenters/nowhere", "data_center", {"name": "x"}), 404,
                     "ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", reason="Not Found")
    assert api.read(api.get(path))["name"] == "renamed"


def test_data_center_removal_rules(api: Api, engine: Engine, tmp_path: Path) -> None:
    dc = add_dc(api)
    cluster = add_cluster(api)
    host = engine.add_host("h1", address="127.0.0.1", port=1, token="t", cluster_id=cluster["id"])
    path = f"/datacenters/{dc['id']}"
    one = domain_in(engine, dc["id"], "data1", active=True)
    api.expect_fault(api.delete(path), 409, "ERROR_CANNOT_REMOVE_ACTIVE_STORAGE_POOL",
                     detail="[Cannot remove Data Center. Cannot remove an active Data Center.]")
    engine.deactivate_domain(dc["id"], one.id)
    two = domain_in(engine, dc["id"], "data2", active=False)
    api.expect_fault(api.delete(path), 409, "ERROR_CANNOT_REMOVE_STORAGE_POOL_WITH_NONMASTER_DOMAINS")
    api.expect_fault(api.delete(path, params={"force": "true"}), 409,
                     "ERROR_CANNOT_FORCE_REMOVE_STORAGE_POOL_WITH_VDS_NOT_IN_MAINTENANCE", contains=("h1",))
    assert api.read(api.get(path))["status"] == "maintenance"
    set_host_status(tmp_path, host.id, HostStatus.MAINTENANCE)
    assert api.delete(path, params={"force": "true"}).status_code == 200
    api.expect_fault(api.get(path), 404, "ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", reason="Not Found")
    for domain in (one, two):
        assert api.read(api.get(f"/storagedomains/{domain.id}"))["status"] == "unattached"
    # Its cluster and the cluster's host stay, without a data center (oVirt's ON DELETE SET NULL).
    left = api.read(api.get(f"/clusters/{cluster['id']}"))
    assert "data_center" not in left
    assert api.read(api.get(f"/hosts/{host.id}"))["cluster"] == {
        "href": left["href"], "id": cluster["id"]}


def test_an_empty_data_center_is_removed_and_one_domain_is_let_go(api: Api, engine: Engine) -> None:
    empty_dc = add_dc(api, "empty")
    assert api.delete(f"/datacenters/{empty_dc['id']}").status_code == 200
    dc = add_dc(api)
    domain = domain_in(engine, dc["id"], "data1", active=False)
    assert api.delete(f"/datacenters/{dc['id']}").status_code == 200
    assert engine.get_domain(domain.id).status is DomainStatus.UNATTACHED
    assert api.read_list(api.get("/datacenters"), "data_center") == []
