"""The official SDK driving the engine with a real agent behind the host: mounts really happen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

from .conftest import ADMIN

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402

pytestmark = needs_root


@pytest.fixture
def api(url: str) -> Iterator[Any]:
    connection = sdk.Connection(url=url, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection.system_service()
    connection.close()


def _add_host(api: Any, agent: AgentProcess, dc: Any) -> Any:
    token = (agent.state_dir / "token").read_text().strip()
    return api.hosts_service().add(types.Host(
        name="local", address="127.0.0.1", port=agent.port, root_password=token,
        cluster=types.Cluster(data_center=types.DataCenter(id=dc.id)),
    ))


def test_activate_mounts_on_the_host_and_deactivate_unmounts(
    api: Any, agent_process: AgentProcess, mount_root: Path, tmp_path: Path
) -> None:
    dc = api.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    host = _add_host(api, agent_process, dc)
    assert host.status == types.HostStatus.UP
    sc = api.storage_connections_service().add(types.StorageConnection(
        type=types.StorageType.POSIXFS, path="engine-scratch", vfs_type="tmpfs", mount_options="size=8m"))
    sd = api.storage_domains_service().add(types.StorageDomain(
        name="data1", type=types.StorageDomainType.DATA,
        storage=types.HostStorage(id=sc.id)))
    attached = api.data_centers_service().data_center_service(dc.id).storage_domains_service()
    attached.add(types.StorageDomain(id=sd.id))  # attaching activates, as in oVirt
    domain = attached.storage_domain_service(sd.id)
    assert eventually(lambda: [e for e in mounts_under(mount_root).values() if e.source == "engine-scratch"], timeout=20)
    with agent_process.client() as client:
        held = [i for i in client.statuses() if i.startswith(f"engine:{sd.id}:")]
    assert held, "the engine's reference is on the host"
    domain.deactivate()
    eventually(lambda: not [e for e in mounts_under(mount_root).values() if e.source == "engine-scratch"], timeout=20)
    assert sc.id


def test_connectivity_test_reports_what_the_agent_saw(api: Any, url: str, agent_process: AgentProcess, tmp_path: Path) -> None:
    dc = api.data_centers_service().add(types.DataCenter(name="dc2", local=False))
    _add_host(api, agent_process, dc)
    good = api.storage_connections_service().add(types.StorageConnection(
        type=types.StorageType.POSIXFS, path="engine-test", vfs_type="tmpfs"))
    bad = api.storage_connections_service().add(types.StorageConnection(
        type=types.StorageType.LOCALFS, path=str(tmp_path / "missing")))
    body = "<action><host><name>local</name></host></action>"
    headers = {"Content-Type": "application/xml", "Accept": "application/json"}
    ok = httpx.post(f"{url}/storageconnections/{good.id}/test", content=body, auth=ADMIN, headers=headers, timeout=60)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "complete" and "Connected on host local" in ok.json()["description"]
    failed = httpx.post(f"{url}/storageconnections/{bad.id}/test", content=body, auth=ADMIN, headers=headers, timeout=60)
    assert failed.json()["status"] == "failed" and "453" in failed.json()["description"]
    with agent_process.client() as client:
        assert not [i for i in client.statuses() if i.startswith("engine-flow:")], "flow references are released"
