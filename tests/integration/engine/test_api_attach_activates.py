"""Attaching a domain to a data center activates it, as oVirt's AttachStorageDomainToPoolCommand does.

Through REST in XML and JSON: the attach answers the domain active, the
data center's view says active, the top-level ``/storagedomains`` shows no
status for an attached domain and ``unattached`` for the others (as oVirt's
REST layer); an admin who wants maintenance deactivates afterwards. With a
real agent behind an Up host, the attach alone mounts the storage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

from .rest import NFS_FIELDS, Api


def _unattached(engine: Engine, name: str = "data1") -> Any:
    conn = engine.add_connection(NFS_FIELDS)
    return engine.add_domain(name, storage_type=StorageType.NFS, connection_id=conn.id)


def test_attach_answers_the_domain_active(api: Api, engine: Engine) -> None:
    domain = _unattached(engine)
    dc = engine.add_data_center("dc1")
    answer = api.post(f"/datacenters/{dc.id}/storagedomains", "storage_domain", {"id": domain.id})
    assert answer.status_code == 201, answer.text
    assert api.read(answer)["status"] == "active"
    path = f"/datacenters/{dc.id}/storagedomains/{domain.id}"
    assert answer.headers["location"].endswith(path)
    assert api.read(api.get(path))["status"] == "active"


def test_attach_by_name_activates_too(api: Api, engine: Engine) -> None:
    _unattached(engine, "byname")
    dc = engine.add_data_center("dc1")
    answer = api.post(f"/datacenters/{dc.id}/storagedomains", "storage_domain", {"name": "byname"})
    assert answer.status_code == 201, answer.text
    assert api.read(answer)["status"] == "active"


def test_maintenance_is_a_deactivate_after_the_attach(api: Api, engine: Engine) -> None:
    domain = _unattached(engine)
    dc = engine.add_data_center("dc1")
    api.post(f"/datacenters/{dc.id}/storagedomains", "storage_domain", {"id": domain.id})
    path = f"/datacenters/{dc.id}/storagedomains/{domain.id}"
    # Activating an active domain is refused with oVirt's status message.
    api.expect_fault(
        api.post(f"{path}/activate", "action", {}),
        409,
        "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
        detail="[Cannot activate Storage. The relevant Storage Domain's status is Active.]",
    )
    assert api.post(f"{path}/deactivate", "action", {}).status_code == 200
    assert api.read(api.get(path))["status"] == "maintenance"
    assert api.delete(path).status_code == 200
    assert api.read(api.get(f"/storagedomains/{domain.id}"))["status"] == "unattached"


def test_top_level_status_is_only_unattached(api: Api, engine: Engine) -> None:
    attached = _unattached(engine, "attached")
    loose = engine.add_domain(
        "loose", storage_type=StorageType.NFS,
        connection=ConnectionFields(type=StorageType.NFS, address="filer2", path="/x"),
    )
    dc = engine.add_data_center("dc1")
    engine.attach_domain(dc.id, attached.id)
    top = api.read(api.get(f"/storagedomains/{attached.id}"))
    assert "status" not in top, top
    assert top["data_centers"]["data_center"][0]["id"] == dc.id
    assert api.read(api.get(f"/storagedomains/{loose.id}"))["status"] == "unattached"
    listed = {item["id"]: item for item in api.read_list(api.get("/storagedomains"), "storage_domain")}
    assert "status" not in listed[attached.id]
    assert listed[loose.id]["status"] == "unattached"
    # Where ovirt_storage_domain reads it: the data center's view.
    in_dc = api.read_list(api.get(f"/datacenters/{dc.id}/storagedomains"), "storage_domain")
    assert [(item["id"], item["status"]) for item in in_dc] == [(attached.id, "active")]


def test_attach_of_an_attached_domain_is_refused(api: Api, engine: Engine) -> None:
    domain = _unattached(engine)
    dc = engine.add_data_center("dc1")
    engine.attach_domain(dc.id, domain.id)
    before = api.snapshot()
    api.expect_fault(
        api.post(f"/datacenters/{dc.id}/storagedomains", "storage_domain", {"id": domain.id}),
        409,
        "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
        detail="[Cannot attach Storage. The relevant Storage Domain's status is Active.]",
    )
    assert api.snapshot() == before


@needs_root
def test_attach_mounts_on_the_data_centers_up_host(
    api: Api, engine: Engine, agent_process: AgentProcess, mount_root: Path
) -> None:
    dc = engine.add_data_center("dc1")
    token = (agent_process.state_dir / "token").read_text().strip()
    engine.add_host("local", address="127.0.0.1", port=agent_process.port, token=token,
                    data_center_id=dc.id)
    source = f"attach-{api.fmt}"
    conn = engine.add_connection(ConnectionFields(
        type=StorageType.POSIXFS, path=source, vfs_type="tmpfs", mount_options="size=8m"))
    domain = engine.add_domain("scratch", storage_type=StorageType.POSIXFS, connection_id=conn.id)
    answer = api.post(f"/datacenters/{dc.id}/storagedomains", "storage_domain", {"id": domain.id})
    assert answer.status_code == 201, answer.text
    assert eventually(
        lambda: [e for e in mounts_under(mount_root).values() if e.source == source], timeout=20
    )
    with agent_process.client() as client:
        assert [i for i in client.statuses() if i.startswith(f"engine:{domain.id}:")]
    path = f"/datacenters/{dc.id}/storagedomains/{domain.id}"
    assert api.post(f"{path}/deactivate", "action", {}).status_code == 200
    eventually(
        lambda: not [e for e in mounts_under(mount_root).values() if e.source == source], timeout=20
    )
