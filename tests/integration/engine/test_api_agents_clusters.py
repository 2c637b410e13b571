"""A real agent as a host in a cluster: it gets what its cluster's data center holds, and lets go when moved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.engine.model import HostStatus
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

from .conftest import ADMIN
from .rest import repository

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402

pytestmark = needs_root


@pytest.fixture
def api(url: str) -> Iterator[Any]:
    connection = sdk.Connection(url=url, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection.system_service()
    connection.close()


def _scratch(mount_root: Path) -> list[Any]:
    return [e for e in mounts_under(mount_root).values() if e.source == "cluster-scratch"]


def test_a_host_added_by_cluster_name_mounts_its_data_centers_domain(
    api: Any, agent_process: AgentProcess, mount_root: Path, tmp_path: Path
) -> None:
    dc = api.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    api.clusters_service().add(types.Cluster(name="c1", data_center=types.DataCenter(name="dc1")))
    token = (agent_process.state_dir / "token").read_text().strip()
    host = api.hosts_service().add(types.Host(
        name="local", address="127.0.0.1", port=agent_process.port, root_password=token,
        cluster=types.Cluster(name="c1")))
    assert host.status == types.HostStatus.UP
    sc = api.storage_connections_service().add(types.StorageConnection(
        type=types.StorageType.POSIXFS, path="cluster-scratch", vfs_type="tmpfs", mount_options="size=8m"))
    sd = api.storage_domains_service().add(types.StorageDomain(
        name="data1", type=types.StorageDomainType.DATA, storage=types.HostStorage(id=sc.id)))
    attached = api.data_centers_service().data_center_service(dc.id).storage_domains_service()
    attached.add(types.StorageDomain(id=sd.id))
    domain = attached.storage_domain_service(sd.id)
    if domain.get().status != types.StorageDomainStatus.ACTIVE:
        domain.activate()
    assert eventually(lambda: _scratch(mount_root), timeout=20)
    assert api.data_centers_service().data_center_service(dc.id).get().status == types.DataCenterStatus.UP

    # Moved (in maintenance) to a cluster of another data center, it no longer should hold the domain:
    # the next sync of the host releases it.
    api.data_centers_service().add(types.DataCenter(name="dc2"))
    other = api.clusters_service().add(types.Cluster(name="c2", data_center=types.DataCenter(name="dc2")))
    with repository(tmp_path / "engine") as repo:
        repo.set_host_status(host.id, HostStatus.MAINTENANCE)
    moved = api.hosts_service().host_service(host.id).update(types.Host(cluster=types.Cluster(id=other.id)))
    assert moved.cluster.id == other.id
    with repository(tmp_path / "engine") as repo:
        repo.set_host_status(host.id, HostStatus.UP)
        assert repo.references(host.id) == []
