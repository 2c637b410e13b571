"""Acceptance for issue 9: the oVirt Ansible collection (ovirt.ovirt 3.2.1, in ansible 12.3.0), unchanged.

Real parts only: ``ansible-playbook`` from ``.venv-ansible`` (``make
ansible-venv``) runs the playbooks under ``playbooks/`` against an Engine
served by uvicorn on loopback, with a real agent behind the host (on port
54321 of a loopback address of its own, as the modules cannot name a port),
real tmpfs mounts checked in /proc/self/mountinfo, and a real tgtd for iSCSI.
Every playbook runs twice: the second run must succeed and change nothing.
Prerequisites a test does not exercise (data center, host) are arranged over
REST, so that each test fails only for its own modules. A failure prints the
tasks and every request the modules sent (element names only), with the
engine's answer (status, fault, entity status).

What the modules send (read from the collection's sources; XML, paths under
/ovirt-engine/api; ``search_by_name`` sends ``search=name="X"`` with quotes):

Log in (every module): POST /ovirt-engine/sso/oauth/token (form); ``ovirt_auth
state=absent`` and every module whose auth has no token end with POST
/ovirt-engine/services/sso-logout (form).

ovirt_datacenter
  present: GET /datacenters?search=name="dc1"; new: POST /datacenters
  <data_center><name/><local/></data_center> (+ <version><major/><minor/>,
  <description/>, <comment/>, <quota_mode/> when given); GET /datacenters/{id}.
  Found: compares name, comment, description, local, str(quota_mode),
  version.major/minor; PUT only when they differ.
  absent: DELETE /datacenters/{id} (?force= only when the task sets it); GET
  /datacenters/{id} until 404.

ovirt_cluster
  present: GET /clusters?search=name="c1"; new: POST /clusters
  <cluster><name/><data_center><name>dc1</name></data_center></cluster>; GET
  /clusters/{id}. Found (every second run): the update check reads, whatever
  the task sets, ksm.enabled, ksm.merge_across_nodes, fencing_policy.enabled,
  .skip_if_gluster_bricks_up, .skip_if_gluster_quorum_not_met,
  .skip_if_sd_active.enabled, .skip_if_connectivity_broken.enabled and
  .threshold, error_handling.on_error, migration.bandwidth.assignment_method,
  .bandwidth.custom_value, migration.auto_converge, .compressed, .encrypted,
  memory_policy.over_commit.percent, required_rng_sources (iterated: must be
  a list, empty is fine), mac_pool.id; it GETs the scheduling_policy's href
  (/schedulingpolicies/{id}) and lists GET /macpools. A missing element is an
  AttributeError on None and the task fails.
  absent: DELETE /clusters/{id}; GET until 404.

ovirt_host (every state first reads GET /events?max=1 and takes element [0]:
an empty list fails the task, so the engine needs an event before any host
task; then GET /hosts?search=name="h1")
  present, new: POST /hosts?activate=true <host><name/><address/>
  <root_password/><cluster><name>c1</name></cluster><ssh/></host> (no port:
  the agent must be on 54321); polls GET /hosts/{id} until status=up.
  present, found: update check reads power_management.kdump_detection,
  power_management.enabled, spm.priority, display.address, vgpu_placement and
  os.custom_kernel_cmdline.split(' ') (a string: the SDK reads
  <custom_kernel_cmdline></custom_kernel_cmdline> as '' but the self-closed
  form as None); GET /hosts/{id}; POST /hosts/{id}/activate only when not
  up; polls until up (fails on error, install_failed, non_responsive,
  non_operational, then reading GET /events?from={first event's index}).
  absent: POST /hosts/{id}/deactivate <action/> unless in maintenance, polls
  until status=maintenance, DELETE /hosts/{id}, polls until 404.
  iscsidiscover: POST /hosts/{id}/discoveriscsi (not iscsidiscover)
  <action><iscsi><address/><port>3260</port></iscsi></action> (+ username,
  password, portal when given); reads <action><discovered_targets>
  <iscsi_details><target/>...; changed=false always.
  iscsilogin: POST /hosts/{id}/iscsilogin <action><iscsi><address/><port/>
  <target/><username/><password/></iscsi></action>; changed=true on every run
  (the module's own way), so the playbook expects its failure here.

ovirt_host_storage_info: GET /hosts?search=name="h1"; GET
  /hosts/{id}/storage?follow= → <host_storages><host_storage id="LUN">
  <type/><logical_units><logical_unit id><target/>... (with iscsi: it logs
  in first and filters on type and logical_units[0].target).

ovirt_storage_connection: GET /storageconnections (all, no search; matched
  by type, then address+path for nfs/posixfs/glusterfs/localfs, address+target
  for iscsi/fcp); new: POST /storageconnections <storage_connection><type/>
  <address/><path/><nfs_version/><nfs_timeo/><nfs_retrans/><mount_options/>
  <vfs_type/><port/><target/><username/><password/></storage_connection> (those
  given); GET /storageconnections/{id}. Found: compares address, path,
  str(nfs_version), nfs_timeo, nfs_retrans, mount_options, username, port,
  target, str(type), vfs_type (not the password); then PUT
  /storageconnections/{id}?force=true (always force, whatever the task says).
  With storage=: GET /storagedomains?search=name=..., follows the domain's
  storage_connections link, POST /storagedomains/{sd}/storageconnections
  <storage_connection id/>. absent: DELETE /storageconnections/{id}; polls 404.

ovirt_storage_domain
  every state: GET /storagedomains?search=name="sd"; a domain answered
  without <status> is taken as attached and read again as GET
  /datacenters?search=name="dc" then GET /datacenters/{dc}/storagedomains/{sd}
  (locked, activating, detaching, preparing_for_maintenance: polled; unknown
  or inactive: the task fails).
  present: new: for iSCSI first GET /hosts?search=name="h" and POST
  /hosts/{id}/iscsilogin <action><iscsi><address/><target/><username/>
  <password/></iscsi></action> (no port: 3260) per target; then POST
  /storagedomains <storage_domain><name/><type>data</type><host><name/></host>
  <storage><type/><path/><vfs_type/><mount_options/> (iSCSI: <logical_units>
  <logical_unit id><address/><port/><target/><username/><password/>...)
  </storage></storage_domain>; GET /storagedomains/{id}. Found: compares
  comment, description, backup, critical_space_action_blocker,
  discard_after_delete, wipe_after_delete, warning_low_space_indicator.
  Then GET /storagedomains/{id}, GET /datacenters?search=name="dc" (without
  data_center: GET /datacenters?search=storage="sd", whose status must be
  up), GET /datacenters/{dc}/storagedomains/{sd}: a 404 means not attached →
  POST /datacenters/{dc}/storagedomains <storage_domain id/> and polls the
  attached domain until status=active (attach must activate). Then GET
  /datacenters/{dc}/storagedomains (no search: matched by name), GET
  .../{sd}, POST .../{sd}/activate <action/> if in maintenance; polls active.
  maintenance: the same, then POST .../{sd}/deactivate if active (retried on
  409), polls until status=maintenance.
  absent: without host: GET /hosts?search=status="up" (its first host's
  name); unless the top-level status is unattached: the data center (by
  data_center, else search storage="sd", status up), POST .../deactivate,
  polls maintenance, DELETE /datacenters/{dc}/storagedomains/{sd}, polls 404;
  DELETE /storagedomains/{id}?host=NAME (+ format=, destroy= when given);
  polls GET /storagedomains/{id} until 404.

ovirt_disk with logical_unit: GET /disks?search=disk_type=lun (no quotes)
  and keeps the disk whose lun_storage.id is the LUN id; new: POST /disks
  <disk><name/><format>cow</format><content_type>data</content_type>
  <sparse>true</sparse><storage_domains><storage_domain/></storage_domains>
  <lun_storage><type>iscsi</type><logical_units><logical_unit id><address/>
  <port/><target/><username/><password/></logical_unit></logical_units>
  </lun_storage></disk>; GET /disks/{id} twice (storage_type=lun skips the
  image steps; no status wait). Found: compares name, description, quota.id,
  provisioned_size, shareable, propagate_errors, sgio, wipe_after_delete,
  disk_profile (followed only when linked). absent (by name): GET
  /disks?search=name="lun1", DELETE /disks/{id}, polls 404.

_info modules: GET /{datacenters,clusters,hosts,storagedomains,disks}
  ?follow={follow joined by ,}&search={pattern} — both sent even when empty
  (follow=&search=); hosts add all_content=false. ovirt_event_info: GET
  /events?case_sensitive=true&follow=&search= (+ from=, max= when given).
  There is no ovirt_storage_connection_info module.
"""

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
from tests.peers.mounts import eventually, mounts_under
from tests.peers.tgt import TgtServer, remove_node_records
from tests.peers.tgt import available as tgt_available

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
    if run.returncode == 0 and not run.failed():
        return
    sent = engine.recorder.since(mark)
    # All of a short run; of a long one (a module polling until its timeout) the refusals and the end.
    shown: list[object] = list(sent)
    if len(sent) > 40:
        shown = [*(e for e in sent[:-15] if e.status >= 400), "...", *sent[-15:]]
    raise AssertionError(run.summary() + "\nwhat the modules sent, and the answers:\n  "
                         + "\n  ".join(map(str, shown)))


def test_data_center_cluster_and_host_then_removed(
    ansible: Ansible, engine: Served, host_agent: AgentProcess
) -> None:
    names = {"dc_name": "dc1", "cluster_name": "c1", "host_name": "h1"}
    run = twice(ansible, engine, "setup.yml", **names, host_address=host_agent.address,
                host_password=token_of(host_agent))
    [dc] = run.task("Data center info").result["ovirt_datacenters"]
    assert dc["name"] == "dc1" and dc["status"] and dc["version"]["major"] == 4
    [cluster] = run.task("Cluster info").result["ovirt_clusters"]
    assert cluster["name"] == "c1" and cluster["data_center"]["id"] == dc["id"]
    assert [h["name"] for h in run.task("Hosts up").result["ovirt_hosts"]] == ["h1"]
    events = run.task("Events").result["ovirt_events"]
    assert events and all(e["id"] and e["time"] and e["severity"] and e["description"] for e in events)
    assert any(e.get("host", {}).get("id") == run.task("Host").result["id"] for e in events), "the host's events"

    twice(ansible, engine, "teardown.yml", **names)
    for collection, singular in (("hosts", "host"), ("clusters", "cluster"), ("datacenters", "data_center")):
        assert _list(engine, collection, singular) == [], collection
    with host_agent.client() as client:
        assert not [i for i in client.statuses() if i.startswith("engine")], "the removed host holds nothing"


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


@pytest.mark.timeout(480)  # ten runs of ansible-playbook
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
    # oVirt's file-domain removal takes the domain's connection with it (StorageHelper.storageDomainRemoved).
    assert _list(engine, "storageconnections", "storage_connection") == [], "the domain's connection is removed"


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
    # No initiator, no session: whatever LUNs the engine can tell, the list itself must be answered.
    assert isinstance(run.task("Host storage").result["ovirt_host_storages"], list)
    for name in ("Log in to the CHAP target", "iSCSI domain"):
        msg = run.task(name).msg
        assert "iscsi_tcp" in msg and re.search(r"HTTP response code is 40[09]", msg), f"{name}: {msg}"
    assert _list(engine, "storagedomains", "storage_domain") == []
    host_actions = ("/discoveriscsi", "/iscsilogin", "/storage")
    assert not [str(e) for e in engine.recorder.since(mark) if e.status >= 500
                or e.status == 404 and e.target.split("?")[0].endswith(host_actions)], "no 500; the actions exist"
    with host_agent.client() as client:
        assert not [i for i in client.statuses() if i.startswith("engine-flow:")], "login flows are released"
