"""DRAFT"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kernel_module_available, needs_root
from tests.peers.agent import AgentProcess
from tests.peers.tgt import TgtServer, remove_node_records
from tests.peers.tgt import available as tgt_available
from tests.peers.mounts import eventually, mounts_under

from .conftest import Served, token_of
from .runner import Ansible, Run

pytestmark = [needs_root, pytest.mark.slow]


def twice(ansible: Ansible, engine: Served, playbook: str, **variables: Any) -> Run:
    """Run ``playbook``; it must succeed. Run it again: it must succeed and change nothing."""
    mark = len(engine.recorder.exchanges)
    first = ansible.run(playbook, **variables)
    _succeeded(first, engine, mark)
    mark = len(engine.recorder.exchanges)
    second = ansible.run(playbook, **variables)
    _succeeded(second, engine, mark)
    assert not second.changed(), f"the second run changed {second.changed()}:\n{second.summary()}"
    secrets = ansible.secrets(**variables)
    assert not first.leaks(secrets) and not second.leaks(secrets), "a task's result shows a password"
    return first


def _succeeded(run: Run, engine: Served, mark: int) -> None:
    refused = [str(e) for e in engine.recorder.since(mark) if e.status >= 400]
    assert run.returncode == 0 and not run.failed(), (
        run.summary() + "\nrequests the engine refused:\n  " + "\n  ".join(refused))


def test_data_center_cluster_and_host(ansible: Ansible, engine: Served, host_agent: AgentProcess) -> None:
    names = {"dc_name": "dc1", "cluster_name": "c1", "host_name": "h1"}
    run = twice(ansible, engine, "setup.yml", **names, host_address=host_agent.address,
                host_password=token_of(host_agent))
    print(run.summary())


def _list(engine: Served, collection: str, singular: str) -> list[dict[str, Any]]:
    with engine.client() as client:
        answer = client.get(f"/{collection}")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json().get(singular, [])
    return items


CHAP_PASSWORD = "chap-Secret-4711"


def test_storage_connections_created_updated_removed(ansible: Ansible, engine: Served, tmp_path: Path) -> None:
    local = tmp_path / "local-domain"
    local.mkdir()
    first = {
        "conn_state": "present", "nfs_address": "127.0.0.1", "nfs_path": "/exports/ansible",
        "nfs_timeout": 600, "nfs_retrans": 6, "nfs_mount_options": "soft,nosharecache",
        "posix_path": "ansible-posix", "posix_mount_options": "size=8m", "local_path": str(local),
        "iscsi_address": "127.0.0.1", "iscsi_port": 3260, "iscsi_target": "iqn.2026-01.test.ansible:chap",
        "chap_user": "storconn", "chap_password": CHAP_PASSWORD,
    }
    twice(ansible, engine, "connections.yml", **first)
    made = {c["type"]: c for c in _list(engine, "storageconnections", "storage_connection")}
    assert sorted(made) == ["iscsi", "localfs", "nfs", "posixfs"]
    assert (made["nfs"]["address"], made["nfs"]["path"], made["nfs"]["nfs_version"]) == (
        "127.0.0.1", "/exports/ansible", "v4_1")
    assert (int(made["nfs"]["nfs_timeo"]), int(made["nfs"]["nfs_retrans"])) == (600, 6)
    assert made["posixfs"]["vfs_type"] == "tmpfs" and made["posixfs"]["mount_options"] == "size=8m"
    assert made["localfs"]["path"] == str(local)
    assert (made["iscsi"]["target"], made["iscsi"]["username"]) == (first["iscsi_target"], "storconn")
    assert "password" not in made["iscsi"]

    second = {**first, "nfs_timeout": 900, "nfs_retrans": 3, "nfs_mount_options": "nosharecache",
              "posix_mount_options": "size=16m", "chap_user": "storconn2"}
    run = twice(ansible, engine, "connections.yml", **second)
    assert sorted(run.changed()) == ["NFS connection", "POSIX connection", "iSCSI connection with CHAP"]
    updated = {c["type"]: c for c in _list(engine, "storageconnections", "storage_connection")}
    assert {t: c["id"] for t, c in updated.items()} == {t: c["id"] for t, c in made.items()}, "updated in place"
    assert (int(updated["nfs"]["nfs_timeo"]), int(updated["nfs"]["nfs_retrans"])) == (900, 3)
    assert updated["nfs"]["mount_options"] == "nosharecache"
    assert updated["posixfs"]["mount_options"] == "size=16m"
    assert updated["iscsi"]["username"] == "storconn2"

    twice(ansible, engine, "connections.yml", **{**second, "conn_state": "absent"})
    assert _list(engine, "storageconnections", "storage_connection") == []


def arrange_host(engine: Served, agent: AgentProcess, *, dc: str = "dc1", cluster: str = "c1",
                 host: str = "h1") -> None:
    """A data center and an Up host over REST, for the playbooks that only need them to exist.

    Not through Ansible, so that each playbook's test fails only for its own
    modules. A cluster when the engine has /clusters (as oVirt, where a host
    always joins one); else the engine's older form, the data center named in
    ``<cluster>``.
    """
    with engine.client() as client:
        made = client.post("/datacenters", json={"name": dc, "local": False})
        assert made.status_code == 201, made.text
        in_cluster = client.post("/clusters", json={"name": cluster, "data_center": {"name": dc}})
        if in_cluster.status_code == 201:
            where: dict[str, Any] = {"name": cluster}
        else:
            where = {"data_center": {"id": made.json()["id"]}}
        added = client.post("/hosts", json={"name": host, "address": agent.address, "root_password": token_of(agent),
                                            "cluster": where})
        assert added.status_code == 201, added.text
        assert added.json()["status"] == "up", added.text


def _tmpfs(mount_root: Path, source: str) -> list[str]:
    """The super options (``size=8192k``...) of each tmpfs mounted from ``source`` under the agent's root."""
    return [e.super_options for e in mounts_under(mount_root).values() if e.source == source and e.fstype == "tmpfs"]


def test_posix_domain_active_maintenance_edited_absent(
    ansible: Ansible, engine: Served, host_agent: AgentProcess, mount_root: Path
) -> None:
    arrange_host(engine, host_agent)
    domain = {"dc_name": "dc1", "host_name": "h1", "sd_name": "posix1", "sd_path": "ansible-domain",
              "sd_mount_options": "size=8m"}

    run = twice(ansible, engine, "posix_domain.yml", phase="present", **domain)
    assert eventually(lambda: _tmpfs(mount_root, "ansible-domain"), timeout=20)
    assert "size=8192k" in _tmpfs(mount_root, "ansible-domain")[0]
    [seen] = run.task("Storage domain info").result["ovirt_storage_domains"]
    assert seen["name"] == "posix1"
    assert [c["path"] for c in seen["storage_connections"]] == ["ansible-domain"], "follow=storage_connections"
    with engine.client() as client:
        [dc] = client.get("/datacenters").json()["data_center"]
        attached = client.get(f"/datacenters/{dc['id']}/storagedomains/{seen['id']}").json()
    assert attached["status"] == "active"

    twice(ansible, engine, "posix_domain.yml", phase="maintenance", **domain)
    eventually(lambda: not _tmpfs(mount_root, "ansible-domain"), timeout=20)

    domain["sd_mount_options"] = "size=16m"
    run = twice(ansible, engine, "posix_domain.yml", phase="edit", **domain)
    assert run.changed() == ["Connection edited in maintenance"]
    assert not _tmpfs(mount_root, "ansible-domain"), "an edit in maintenance mounts nothing"

    twice(ansible, engine, "posix_domain.yml", phase="present", **domain)
    assert eventually(lambda: _tmpfs(mount_root, "ansible-domain"), timeout=20)
    assert "size=16384k" in _tmpfs(mount_root, "ansible-domain")[0], "mounted with the edited options"

    run = twice(ansible, engine, "posix_domain.yml", phase="absent", **domain)
    eventually(lambda: not _tmpfs(mount_root, "ansible-domain"), timeout=20)
    assert run.task("Storage domain info").result["ovirt_storage_domains"] == []
    assert _list(engine, "storagedomains", "storage_domain") == []


LUN_ID = "360014051f0e5d1e6a7b4c2d9e8f00001"  # a SCSI id as oVirt shows one (the disk is never plugged here)


def test_direct_lun_disk(ansible: Ansible, engine: Served) -> None:
    disk = {"disk_name": "lun1", "lun_id": LUN_ID, "lun_address": "127.0.0.1", "lun_port": 3260,
            "lun_target": "iqn.2026-01.test.ansible:lun", "chap_user": "storconn", "chap_password": CHAP_PASSWORD}
    run = twice(ansible, engine, "lun_disk.yml", disk_state="present", **disk)
    [listed] = run.task("LUN disks").result["ovirt_disks"]
    assert listed["name"] == "lun1" and listed["storage_type"] == "lun"
    assert listed["lun_storage"]["id"] == LUN_ID
    [unit] = listed["lun_storage"]["logical_units"]
    assert (unit["id"], unit["target"], unit["username"]) == (LUN_ID, disk["lun_target"], "storconn")
    assert "password" not in unit

    run = twice(ansible, engine, "lun_disk.yml", disk_state="absent", **disk)
    assert run.task("LUN disks").result["ovirt_disks"] == []
    assert _list(engine, "disks", "disk") == []


@pytest.fixture
def tgt_3260(tmp_path: Path) -> Iterator[TgtServer]:
    """tgtd with an open and a CHAP target on 127.0.0.1:3260: the modules' logins name no port."""
    reason = tgt_available()
    if reason:
        pytest.skip(reason)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 3260))
        except OSError:
            pytest.skip("127.0.0.1:3260 is taken: the modules log in to iSCSI targets on port 3260 only")
    server = TgtServer(tmp_path / "tgt", port=3260)
    tag = uuid.uuid4().hex[:8]  # iscsiadm keeps node records host-wide: names of this test's own
    server.add_target(f"iqn.2026-01.test.ansible:{tag}-open")
    server.add_target(f"iqn.2026-01.test.ansible:{tag}-chap", chap=("storconn", CHAP_PASSWORD))
    server.start()
    yield server
    server.stop()
    for target in server.targets:
        remove_node_records(target.iqn, server.port)


def test_iscsi_discovery_and_login_up_to_the_agents_error(
    ansible: Ansible, engine: Served, tgt_3260: TgtServer, host_agent: AgentProcess
) -> None:
    if kernel_module_available("iscsi_tcp"):
        pytest.skip("this kernel has the iSCSI initiator: the logins would succeed (this test is about its absence)")
    arrange_host(engine, host_agent)
    open_target, chap_target = (t.iqn for t in tgt_3260.targets)
    mark = len(engine.recorder.exchanges)
    run = twice(ansible, engine, "iscsi.yml", host_name="h1", dc_name="dc1", sd_name="iscsi1",
                iscsi_address="127.0.0.1", open_target=open_target, chap_target=chap_target,
                chap_user="storconn", chap_password=CHAP_PASSWORD, lun_id=LUN_ID)
    assert sorted(run.task("Discover targets").result["iscsi_targets"]) == sorted([open_target, chap_target])
    assert run.task("Host storage").result["ovirt_host_storages"] == []  # no initiator, no LUNs
    for name in ("Log in to the CHAP target", "iSCSI domain"):
        msg = run.task(name).msg
        assert "iscsi_tcp" in msg and re.search(r"HTTP response code is 40[09]", msg), f"{name}: {msg}"
    assert _list(engine, "storagedomains", "storage_domain") == []
    assert not [e for e in engine.recorder.since(mark) if e.status >= 500 or e.status == 404
                and "/iscsi" in e.target], "no 500, and the actions exist"
    with host_agent.client() as client:
        assert not [i for i in client.statuses() if i.startswith("engine-flow:")], "login flows are released"
