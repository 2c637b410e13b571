"""Direct LUN disks: their LUN and connections (issue 9 item 8), and reaching the host a VM runs on (item 12).

Through the REST API of the real Engine, in XML and in JSON (the ``api``
fixture of ``conftest.py``); item 12 with a real agent behind the host
(``tests.peers.agent.AgentProcess``). This kernel has no iSCSI initiator
(no ``iscsi_tcp``): the agent holds the engine's references and reports why
it cannot log in, which is what these tests look for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from storconn.engine.service import Engine
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually

from .conftest import ADMIN
from .rest import Api, unreachable_host

LUN = "36001405aa"
TARGET = "iqn.2026-01.test:lun1"


def add_disk(api: Api, *addresses: str, alias: str = "lun1") -> dict[str, Any]:
    units = [{"id": LUN, "address": a, "port": 3260, "target": TARGET} for a in addresses]
    answer = api.post("/disks", "disk", {"alias": alias, "lun_storage": {"type": "iscsi", "logical_units": units}})
    assert answer.status_code == 201, answer.text
    return api.read(answer)


def link(entity: dict[str, Any], rel: str) -> str:
    links = entity.get("link", [])
    found = [item["href"] for item in links if item["rel"] == rel]
    assert found, links
    return str(found[0]).removeprefix("/ovirt-engine/api")


def test_a_lun_disk_carries_its_lun_id_and_links_its_connections(api: Api) -> None:
    disk = add_disk(api, "10.0.0.5", "10.0.0.6")
    units = disk["lun_storage"]["logical_units"]["logical_unit"]
    assert [(u["id"], u["address"]) for u in units] == [(LUN, "10.0.0.5"), (LUN, "10.0.0.6")]
    path = link(disk, "storageconnections")
    assert path == f"/disks/{disk['id']}/storageconnections"
    listed = api.read_list(api.get(path), "storage_connection")
    assert [(c["address"], c["target"]) for c in listed] == [("10.0.0.5", TARGET), ("10.0.0.6", TARGET)]
    assert all(c["href"].endswith(f"/disks/{disk['id']}/storageconnections/{c['id']}") for c in listed)
    one = api.get(f"{path}/{listed[1]['id']}")
    assert one.status_code == 200 and api.read(one)["address"] == "10.0.0.6"
    assert [c["id"] for c in listed] == [c for c in api.ids("/storageconnections", "storage_connection")]
    assert api.get(f"{path}/{'0' * 8}").status_code == 404
    missing = api.get("/disks/nope/storageconnections")
    assert missing.status_code == 404 and api.fault(missing)[0]


def test_a_vm_started_on_a_host_that_is_not_up_is_refused(api: Api, engine: Engine) -> None:
    host = unreachable_host(engine)
    vm = engine.add_vm("vm1")
    start = {"vm": {"placement_policy": {"hosts": [{"name": host.name}]}}}
    answer = api.post(f"/vms/{vm.id}/start", "action", start)
    api.expect_fault(answer, 409, "ACTION_TYPE_FAILED_VDS_STATUS_ILLEGAL", contains=(
        "[Cannot run VM.", "Host status is Up", host.name))
    assert engine.get_vm(vm.id).status.value == "down"
    unknown = api.post(f"/vms/{vm.id}/start", "action", {"vm": {"placement_policy": {"hosts": [{"name": "nope"}]}}})
    assert unknown.status_code == 404, unknown.text


# -- item 12: a real agent behind the host -------------------------------------------------------------------


@pytest.fixture
def host(engine: Engine, agent_process: AgentProcess) -> Any:
    token = (agent_process.state_dir / "token").read_text().strip()
    added = engine.add_host("h1", address="127.0.0.1", port=agent_process.port, token=token)
    assert added.status.value == "up"
    return added


def disk_refs(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    with agent.client() as client:
        return {ref: status for ref, status in client.statuses().items() if ref.startswith("engine:disk:")}


@needs_root
def test_a_vm_up_on_a_host_holds_its_lun_disks_connections_until_it_goes_down(
    api: Api, host: Any, agent_process: AgentProcess
) -> None:
    disk = add_disk(api, "127.0.0.1")
    (connection,) = api.read_list(api.get(link(disk, "storageconnections")), "storage_connection")
    vm = api.read(api.post("/vms", "vm", {"name": "vm1"}))
    attached = api.post(f"/vms/{vm['id']}/diskattachments", "disk_attachment",
                        {"disk": {"id": disk["id"]}, "active": True})
    assert attached.status_code == 201, attached.text
    assert disk_refs(agent_process) == {}, "a VM that is down holds nothing"

    started = api.post(f"/vms/{vm['id']}/start", "action", {"vm": {"placement_policy": {"hosts": [{"name": "h1"}]}}})
    assert started.status_code == 200, started.text
    running = api.read(api.get(f"/vms/{vm['id']}"))
    assert running["status"] == "up" and running["host"]["id"] == host.id
    ref = f"engine:disk:{disk['id']}:{connection['id']}:1"
    assert set(disk_refs(agent_process)) == {ref}

    # No initiator on this kernel: the reference stays, and says why it cannot connect.
    def failed() -> Any:
        error = disk_refs(agent_process)[ref].get("lastError")
        return error if error and error[0] else None

    code, message = eventually(failed, timeout=60)[:2]  # type: ignore[index]
    assert code == 494 and "iscsi_tcp" in message, (code, message)

    # Unplugged: released; plugged again: held again.
    api.post(f"/vms/{vm['id']}/diskattachments", "disk_attachment", {"disk": {"id": disk["id"]}, "active": False})
    assert disk_refs(agent_process) == {}
    api.post(f"/vms/{vm['id']}/diskattachments", "disk_attachment", {"disk": {"id": disk["id"]}, "active": True})
    assert set(disk_refs(agent_process)) == {ref}

    stopped = api.post(f"/vms/{vm['id']}/stop", "action", {})
    assert stopped.status_code == 200, stopped.text
    assert disk_refs(agent_process) == {}
    down = api.read(api.get(f"/vms/{vm['id']}"))
    assert down["status"] == "down" and "host" not in down


# -- the official SDK --------------------------------------------------------------------------------------------

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402


@pytest.fixture
def system(root: str) -> Iterator[Any]:
    connection = sdk.Connection(url=f"{root}/ovirt-engine/api", username=ADMIN[0], password=ADMIN[1],
                                insecure=True)
    yield connection.system_service()
    connection.close()


@needs_root
def test_the_sdk_runs_a_vm_on_a_host_and_the_host_gets_its_direct_lun(
    system: Any, host: Any, agent_process: AgentProcess
) -> None:
    disk = system.disks_service().add(types.Disk(alias="lun1", lun_storage=types.HostStorage(
        type=types.StorageType.ISCSI, logical_units=[types.LogicalUnit(
            id=LUN, address="127.0.0.1", port=3260, target=TARGET, username="u", password="lun-Secret-9")])))
    assert [lu.id for lu in disk.lun_storage.logical_units] == [LUN]
    vm = system.vms_service().add(types.Vm(name="vm1", cluster=types.Cluster(name="Default"),
                                           template=types.Template(name="Blank")))
    vm_service = system.vms_service().vm_service(vm.id)
    vm_service.disk_attachments_service().add(types.DiskAttachment(disk=types.Disk(id=disk.id), active=True))
    vm_service.start(vm=types.Vm(placement_policy=types.VmPlacementPolicy(hosts=[types.Host(name="h1")])))
    running = vm_service.get()
    assert running.status == types.VmStatus.UP and running.host.id == host.id
    assert [ref.split(":")[2] for ref in disk_refs(agent_process)] == [disk.id]
    vm_service.stop()
    assert disk_refs(agent_process) == {}
