"""A host's actions through REST (XML and JSON) and the SDK, with a real agent behind the host.

Maintenance releases what the host holds for the engine (its mounts go after
the agent's grace) and activation gives it back; iSCSI discovery runs on the
agent against a real tgtd on loopback; the login goes as far as this kernel
lets it (no iscsi_tcp here: the agent's clear error); the host's LUNs come
from the agent's sysfs (none here; the non-empty answer is in
tests/unit/engine_api/test_host_storage_wire.py).
"""

from __future__ import annotations

import json
import logging
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storconn.agent.system import iscsi_sysfs
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under
from tests.peers.tgt import TgtServer
from tests.peers.tgt import available as tgt_available

from .conftest import ADMIN

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402

pytestmark = needs_root

MEDIA = {"xml": "application/xml", "json": "application/json"}
KEY = "Storconn-Message-Key"
CHAP = ("chapuser", "chap-Secret-never-shown-1")
FORMATS = pytest.mark.parametrize("fmt", ["xml", "json"])


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def api(url: str) -> Iterator[Any]:
    connection = sdk.Connection(url=url, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection.system_service()
    connection.close()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[TgtServer]:
    reason = tgt_available()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    server = TgtServer(tmp_path / "tgt")
    server.add_target(f"iqn.2026-01.test.storconn:{uuid.uuid4().hex[:8]}-a", chap=CHAP)
    server.add_target(f"iqn.2026-01.test.storconn:{uuid.uuid4().hex[:8]}-b")
    server.start()
    yield server
    server.stop()


def _add_host(api: Any, agent: AgentProcess, dc: Any | None = None, name: str = "local") -> Any:
    token = (agent.state_dir / "token").read_text().strip()
    cluster = types.Cluster(data_center=types.DataCenter(id=dc.id)) if dc is not None else None
    return api.hosts_service().add(types.Host(
        name=name, address="127.0.0.1", port=agent.port, root_password=token, cluster=cluster,
    ))


def _action_body(fmt: str, iscsi: dict[str, Any] | None = None) -> str:
    if fmt == "json":
        return json.dumps({"iscsi": iscsi} if iscsi is not None else {})
    if iscsi is None:
        return "<action/>"
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in iscsi.items())
    return f"<action><iscsi>{inner}</iscsi></action>"


def _post(url: str, path: str, fmt: str, body: str) -> httpx.Response:
    headers = {"Content-Type": MEDIA[fmt], "Accept": MEDIA[fmt]}
    return httpx.post(f"{url}{path}", content=body, auth=ADMIN, headers=headers, timeout=120)


def _get(url: str, path: str, fmt: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", auth=ADMIN, headers={"Accept": MEDIA[fmt]}, timeout=60)


def _field(answer: httpx.Response, fmt: str, name: str) -> str | None:
    if fmt == "json":
        value = answer.json().get(name)
        return None if value is None else str(value)
    return ET.fromstring(answer.content).findtext(name)


def _engine_refs(agent: AgentProcess) -> list[str]:
    with agent.client() as client:
        return sorted(i for i in client.statuses() if i.startswith(("engine:", "engine-flow:")))


def _scratch_mounted(mount_root: Path, source: str) -> bool:
    return any(e.source == source for e in mounts_under(mount_root).values())


# -- maintenance -------------------------------------------------------------------------------


def test_maintenance_releases_the_hosts_references_and_activate_brings_them_back(
    api: Any, agent_process: AgentProcess, mount_root: Path
) -> None:
    source = f"hostmaint-{uuid.uuid4().hex[:6]}"
    dc = api.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    host = _add_host(api, agent_process, dc)
    sc = api.storage_connections_service().add(types.StorageConnection(
        type=types.StorageType.POSIXFS, path=source, vfs_type="tmpfs", mount_options="size=8m"))
    sd = api.storage_domains_service().add(types.StorageDomain(
        name="data1", type=types.StorageDomainType.DATA, storage=types.HostStorage(id=sc.id)))
    attached = api.data_centers_service().data_center_service(dc.id).storage_domains_service()
    attached.add(types.StorageDomain(id=sd.id))
    domain = attached.storage_domain_service(sd.id)
    if domain.get().status != types.StorageDomainStatus.ACTIVE:
        domain.activate()
    assert eventually(lambda: _scratch_mounted(mount_root, source), timeout=20)
    held = _engine_refs(agent_process)
    assert [r for r in held if r.startswith(f"engine:{sd.id}:")]

    host_service = api.hosts_service().host_service(host.id)
    host_service.deactivate()
    assert host_service.get().status == types.HostStatus.MAINTENANCE
    assert _engine_refs(agent_process) == [], "in maintenance the host holds nothing for the engine"
    assert eventually(lambda: not _scratch_mounted(mount_root, source), timeout=20), "unmounted after the grace"
    # A sync of every host leaves a host in maintenance alone.
    assert api.hosts_service().list(search="name=local")[0].status == types.HostStatus.MAINTENANCE

    with pytest.raises(sdk.Error) as again:
        host_service.deactivate()
    assert again.value.code == 409 and "already in Maintenance mode" in str(again.value)

    host_service.activate()
    assert host_service.get().status == types.HostStatus.UP
    assert [r for r in _engine_refs(agent_process) if r.startswith(f"engine:{sd.id}:")] == \
        [r for r in held if r.startswith(f"engine:{sd.id}:")]
    assert eventually(lambda: _scratch_mounted(mount_root, source), timeout=20), "mounted again"
    with pytest.raises(sdk.Error) as up:
        host_service.activate()
    assert up.value.code == 409 and "Host in Up status" in str(up.value)


@FORMATS
def test_deactivate_and_activate_over_rest(fmt: str, url: str, api: Any, agent_process: AgentProcess) -> None:
    host = _add_host(api, agent_process)
    path = f"/hosts/{host.id}"
    done = _post(url, f"{path}/deactivate", fmt, _action_body(fmt))
    assert done.status_code == 200, done.text
    assert _field(done, fmt, "status") == "complete"
    assert _field(_get(url, path, fmt), fmt, "status") == "maintenance"

    again = _post(url, f"{path}/deactivate", fmt, _action_body(fmt))
    assert again.status_code == 409
    assert again.headers[KEY] == "VDS_CANNOT_MAINTENANCE_VDS_IS_IN_MAINTENANCE"
    assert _field(again, fmt, "detail") == \
        "[Cannot switch Host to Maintenance mode. Host is already in Maintenance mode.]"

    up = _post(url, f"{path}/activate", fmt, _action_body(fmt))
    assert up.status_code == 200, up.text
    assert _field(_get(url, path, fmt), fmt, "status") == "up"
    refused = _post(url, f"{path}/activate", fmt, "")
    assert refused.status_code == 409 and refused.headers[KEY] == "VDS_ALREADY_UP"
    assert _field(refused, fmt, "detail") == "[Cannot activate Host. Host in Up status.]"

    unknown = _post(url, f"/hosts/{uuid.uuid4()}/deactivate", fmt, _action_body(fmt))
    assert unknown.status_code == 404
    bad = _post(url, f"{path}/deactivate", fmt, '{"force": 1}' if fmt == "json" else "<action><x/></action>")
    assert bad.status_code == 400 and _field(_get(url, path, fmt), fmt, "status") == "up"


def test_a_host_whose_agent_is_gone_goes_to_maintenance_and_cannot_be_activated_until_it_answers(
    url: str, api: Any, agent_process: AgentProcess
) -> None:
    host = _add_host(api, agent_process)
    agent_process.stop()
    done = _post(url, f"/hosts/{host.id}/deactivate", "xml", "<action/>")
    assert done.status_code == 200, done.text
    assert "did not answer" in (_field(done, "xml", "description") or "")
    assert api.hosts_service().host_service(host.id).get().status == types.HostStatus.MAINTENANCE
    # Activation contacts the host: it does not answer, so it is non-responsive, not Up.
    assert _post(url, f"/hosts/{host.id}/activate", "xml", "<action/>").status_code == 200
    assert api.hosts_service().host_service(host.id).get().status == types.HostStatus.NON_RESPONSIVE
    refused = _post(url, f"/hosts/{host.id}/activate", "json", "{}")
    assert refused.status_code == 409 and refused.headers[KEY] == "VDS_NON_RESPONSIVE"
    agent_process.start()


def test_the_host_advertises_its_actions_and_storage(url: str, api: Any, agent_process: AgentProcess) -> None:
    host = _add_host(api, agent_process)
    document = ET.fromstring(_get(url, f"/hosts/{host.id}", "xml").content)
    actions = {link.get("rel") for link in document.findall("actions/link")}
    assert {"activate", "deactivate", "iscsidiscover", "discoveriscsi", "iscsilogin"} <= actions
    assert any(link.get("rel") == "storage" for link in document.findall("link"))


# -- iSCSI discovery ---------------------------------------------------------------------------


@FORMATS
def test_discovery_answers_the_portals_targets_both_ways(
    fmt: str, url: str, api: Any, agent_process: AgentProcess, portal: TgtServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    host = _add_host(api, agent_process)
    iscsi = {"address": "127.0.0.1", "port": portal.port, "username": CHAP[0], "password": CHAP[1]}
    iqns = sorted(t.iqn for t in portal.targets)
    for action in ("iscsidiscover", "discoveriscsi"):
        answer = _post(url, f"/hosts/{host.id}/{action}", fmt, _action_body(fmt, iscsi))
        assert answer.status_code == 200, answer.text
        assert CHAP[1] not in answer.text
        if fmt == "json":
            data = answer.json()
            assert data["status"] == "complete"
            assert sorted(data["iscsi_targets"]["iscsi_target"]) == iqns
            details = data["discovered_targets"]["iscsi_details"]
        else:
            root = ET.fromstring(answer.content)
            assert root.tag == "action" and root.findtext("status") == "complete"
            assert sorted(t.text or "" for t in root.findall("iscsi_targets/iscsi_target")) == iqns
            details = [{c.tag: c.text for c in d} for d in root.findall("discovered_targets/iscsi_details")]
        assert sorted(d["target"] for d in details) == iqns
        assert all(d["address"] == "127.0.0.1" and str(d["port"]) == str(portal.port) for d in details)
        assert all(d["portal"] == f"127.0.0.1:{portal.port},1" for d in details)
    assert CHAP[1] not in caplog.text


def test_discovery_through_the_sdk(api: Any, agent_process: AgentProcess, portal: TgtServer) -> None:
    host_service = api.hosts_service().host_service(_add_host(api, agent_process).id)
    details = types.IscsiDetails(address="127.0.0.1", port=portal.port, username=CHAP[0], password=CHAP[1])
    assert sorted(host_service.iscsi_discover(iscsi=details)) == sorted(t.iqn for t in portal.targets)
    found = host_service.discover_iscsi(iscsi=details)
    assert sorted(d.target for d in found) == sorted(t.iqn for t in portal.targets)
    assert {(d.address, d.port, d.portal) for d in found} == {("127.0.0.1", portal.port, f"127.0.0.1:{portal.port},1")}


@FORMATS
def test_discovery_refuses_bad_input_naming_the_field(
    fmt: str, url: str, api: Any, agent_process: AgentProcess, portal: TgtServer
) -> None:
    host = _add_host(api, agent_process)
    path = f"/hosts/{host.id}/iscsidiscover"
    missing = _post(url, path, fmt, _action_body(fmt, {"port": portal.port}))
    assert missing.status_code == 400
    assert _field(missing, fmt, "detail") == "Action [iscsi.address] required for iscsiDiscover"
    for iscsi, named in (
        ({"address": "127.0.0.1", "port": 0}, "iscsi/port"),
        ({"address": "127.0.0.1", "port": 70000}, "iscsi/port"),
        ({"address": "-oProxyCommand=x", "port": portal.port}, "iscsi/address"),
        ({"address": "a b", "port": portal.port}, "iscsi/address"),
    ):
        refused = _post(url, path, fmt, _action_body(fmt, iscsi))
        assert refused.status_code == 400, (iscsi, refused.text)
        assert named in (_field(refused, fmt, "detail") or ""), refused.text
    unknown = _post(url, path, fmt, '{"iscsi": {"adress": "x"}}' if fmt == "json"
                    else "<action><iscsi><adress>x</adress></iscsi></action>")
    assert unknown.status_code == 400 and "action/iscsi/adress" in (_field(unknown, fmt, "detail") or "")
    port = portal.port
    portal.stop()
    dead = _post(url, path, fmt, _action_body(fmt, {"address": "127.0.0.1", "port": port}))
    assert dead.status_code in (400, 409), dead.text
    assert dead.headers[KEY] == "iSCSIDiscoveryError"
    assert "Failed discovery of iSCSI targets" in (_field(dead, fmt, "detail") or "")


# -- iSCSI login -------------------------------------------------------------------------------


@FORMATS
def test_login_answers_the_agents_error_and_leaves_nothing_held(
    fmt: str, url: str, api: Any, agent_process: AgentProcess, portal: TgtServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    host = _add_host(api, agent_process)
    target = portal.targets[0]
    iscsi = {"address": "127.0.0.1", "port": portal.port, "target": target.iqn,
             "portal": f"127.0.0.1:{portal.port},1", "username": CHAP[0], "password": CHAP[1]}
    answer = _post(url, f"/hosts/{host.id}/iscsilogin", fmt, _action_body(fmt, iscsi))
    assert CHAP[1] not in answer.text and CHAP[1] not in caplog.text
    if iscsi_sysfs.kernel_has_initiator():
        assert answer.status_code == 200, answer.text
    else:
        print("this kernel has no iscsi_tcp: the login is answered with the agent's error")
        assert answer.status_code == 409, answer.text
        assert answer.headers[KEY] == "iSCSILoginError"
        detail = _field(answer, fmt, "detail") or ""
        assert detail.startswith("[Cannot log in to the iSCSI target. Failed to login to iSCSI node: host local:")
        assert "iscsi_tcp" in detail and "initiator" in detail
    # The flow reference is released once answered: the agent logs out after its grace.
    assert _engine_refs(agent_process) == []
    assert CHAP[1] not in agent_process.log.read_text(errors="replace")

    missing = _post(url, f"/hosts/{host.id}/iscsilogin", fmt, _action_body(fmt, {"address": "127.0.0.1"}))
    assert missing.status_code == 400
    assert _field(missing, fmt, "detail") == "Action [iscsi.target] required for iscsiLogin"
    bad_port = _post(url, f"/hosts/{host.id}/iscsilogin", fmt,
                     _action_body(fmt, {**iscsi, "port": 0}))
    assert bad_port.status_code == 400, bad_port.text
    assert CHAP[1] not in bad_port.text


def test_login_through_the_sdk(api: Any, agent_process: AgentProcess, portal: TgtServer) -> None:
    host_service = api.hosts_service().host_service(_add_host(api, agent_process).id)
    details = types.IscsiDetails(address="127.0.0.1", port=portal.port, target=portal.targets[1].iqn)
    if iscsi_sysfs.kernel_has_initiator():
        host_service.iscsi_login(iscsi=details)
        return
    print("this kernel has no iscsi_tcp: the SDK gets the agent's error")
    with pytest.raises(sdk.Error) as raised:
        host_service.iscsi_login(iscsi=details)
    assert raised.value.code == 409 and "iscsi_tcp" in str(raised.value)


def test_login_on_a_host_in_maintenance_is_refused(url: str, api: Any, agent_process: AgentProcess) -> None:
    host = _add_host(api, agent_process)
    api.hosts_service().host_service(host.id).deactivate()
    iscsi = {"address": "127.0.0.1", "target": "iqn.2026-01.test:none"}
    refused = _post(url, f"/hosts/{host.id}/iscsilogin", "json", _action_body("json", iscsi))
    assert refused.status_code == 409 and refused.headers[KEY] == "ACTION_TYPE_FAILED_VDS_STATUS_ILLEGAL"
    assert _engine_refs(agent_process) == []


# -- the host's LUNs ---------------------------------------------------------------------------


@FORMATS
def test_host_storage_lists_the_luns_of_the_hosts_sessions(
    fmt: str, url: str, api: Any, agent_process: AgentProcess
) -> None:
    host = _add_host(api, agent_process)
    listed = _get(url, f"/hosts/{host.id}/storage", fmt)
    assert listed.status_code == 200, listed.text
    with agent_process.client() as client:
        expected = sorted(lun["lunID"] for lun in client.iscsi_devices())
    if fmt == "json":
        ids = sorted(item["id"] for item in listed.json().get("host_storage", []))
    else:
        root = ET.fromstring(listed.content)
        assert root.tag == "host_storages"
        ids = sorted(item.get("id") or "" for item in root.findall("host_storage"))
    assert ids == expected
    if not expected:
        print("no iscsi_tcp in this kernel: no sessions, so no LUNs; the wire form of a LUN is tested in "
              "tests/unit/engine_api/test_host_storage_wire.py")
    missing = _get(url, f"/hosts/{host.id}/storage/36001405deadbeef", fmt)
    assert missing.status_code == 404
    assert _get(url, f"/hosts/{uuid.uuid4()}/storage", fmt).status_code == 404


def test_host_storage_through_the_sdk(api: Any, agent_process: AgentProcess) -> None:
    host_service = api.hosts_service().host_service(_add_host(api, agent_process).id)
    with agent_process.client() as client:
        expected = sorted(lun["lunID"] for lun in client.iscsi_devices())
    assert sorted(s.id for s in host_service.storage_service().list()) == expected
