"""Clusters, hosts in clusters and data centers through the official oVirt SDK, unchanged, against the real Engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.peers.agent import free_port

from .conftest import ADMIN

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402


@pytest.fixture
def api(url: str) -> Iterator[Any]:
    connection = sdk.Connection(url=url, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection
    connection.close()


def test_clusters_and_hosts_in_them(api: Any) -> None:
    system = api.system_service()
    dc = system.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    assert dc.status == types.DataCenterStatus.UNINITIALIZED
    assert (dc.version.major, dc.version.minor) == (4, 7) and dc.storage_format == types.StorageFormat.V5
    clusters = system.clusters_service()
    cluster = clusters.add(types.Cluster(name="c1", data_center=types.DataCenter(name="dc1")))
    assert cluster.data_center.id == dc.id and (cluster.version.major, cluster.version.minor) == (4, 7)
    assert [c.id for c in clusters.list(search='name="c1"')] == [cluster.id]
    assert [c.id for c in system.data_centers_service().data_center_service(dc.id).clusters_service().list()] == [
        cluster.id]

    host = system.hosts_service().add(types.Host(
        name="h1", address="127.0.0.1", port=free_port(), root_password="agent-token",
        cluster=types.Cluster(name="c1")))
    assert host.cluster.id == cluster.id and host.root_password is None
    assert api.follow_link(host.cluster).name == "c1"

    one = clusters.cluster_service(cluster.id)
    updated = one.update(types.Cluster(description="racks 1-4", version=types.Version(major=4, minor=8)))
    assert updated.description == "racks 1-4" and updated.version.minor == 8
    with pytest.raises(sdk.Error) as in_use:
        one.remove()
    assert in_use.value.code == 409 and "Cluster contains one or more Hosts" in in_use.value.fault.detail
    system.hosts_service().host_service(host.id).remove()
    one.remove()
    assert clusters.list() == []


def test_what_ovirt_cluster_reads_on_its_second_run(api: Any) -> None:
    """The attributes ovirt_cluster's update_check reads unconditionally, and the links it follows."""
    system = api.system_service()
    system.data_centers_service().add(types.DataCenter(name="dc1"))
    system.clusters_service().add(types.Cluster(
        name="c1", data_center=types.DataCenter(name="dc1"), cpu=types.Cpu(type="Intel Nehalem Family"),
        ksm=types.Ksm(enabled=True), version=types.Version(major=4, minor=7)))
    entity = system.clusters_service().list(search='name="c1"')[0]
    assert entity.cpu.type == "Intel Nehalem Family"
    assert entity.ksm.merge_across_nodes is True and entity.ksm.enabled is True
    assert entity.fencing_policy.enabled is True
    assert entity.fencing_policy.skip_if_sd_active.enabled is False
    assert entity.fencing_policy.skip_if_connectivity_broken.threshold == 50
    assert entity.memory_policy.over_commit.percent == 100
    assert entity.migration.bandwidth.custom_value is None
    assert str(entity.error_handling.on_error) == "migrate"
    assert sorted(str(s) for s in entity.required_rng_sources) == []
    assert api.follow_link(entity.scheduling_policy).name == "none"
    assert [p.id for p in system.mac_pools_service().list()] == [entity.mac_pool.id]


def test_data_center_edit_and_remove(api: Any) -> None:
    system = api.system_service()
    dcs = system.data_centers_service()
    dc = dcs.add(types.DataCenter(name="dc1", version=types.Version(major=4, minor=2)))
    assert dc.storage_format == types.StorageFormat.V4
    one = dcs.data_center_service(dc.id)
    changed = one.update(types.DataCenter(name="dc2", comment="c", version=types.Version(major=4, minor=6)))
    assert (changed.name, changed.comment, changed.version.minor) == ("dc2", "c", 6)
    assert changed.storage_format == types.StorageFormat.V5
    system.clusters_service().add(types.Cluster(name="c1", data_center=types.DataCenter(id=dc.id)))
    one.remove()
    with pytest.raises(sdk.NotFoundError):
        one.get()
    left = system.clusters_service().list()[0]
    assert left.name == "c1" and left.data_center is None
