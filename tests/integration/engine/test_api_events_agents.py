"""Events with a real agent behind the host: Up, non-responsive, the connectivity test; and the SDK's events service.

The engine is served by uvicorn on loopback and driven over HTTP (the SDK,
or httpx in XML and JSON); the agent is a real ``storconn agent serve``
process whose death and return the host's events must tell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xml.etree.ElementTree as ET

import httpx
import pytest

from storconn.engine import secrets
from storconn.engine.api import create_app
from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.rules.events import Code
from storconn.engine.service import Engine
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess
from tests.unit.engine_api.server import serve

from .conftest import ADMIN, open_engine

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402

pytestmark = needs_root
MEDIA = {"xml": "application/xml", "json": "application/json"}


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "SCRYPT_N", 2**10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """The engine and its API root URL."""
    engine = open_engine(tmp_path / "engine")
    try:
        with serve(create_app(engine)) as root:
            yield engine, f"{root}/ovirt-engine/api"
    finally:
        engine.close()


@pytest.fixture
def system(served: tuple[Engine, str]) -> Iterator[Any]:
    connection = sdk.Connection(url=served[1], username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection.system_service()
    connection.close()


def _add_host(system: Any, agent: AgentProcess, dc: Any) -> Any:
    token = (agent.state_dir / "token").read_text().strip()
    return system.hosts_service().add(types.Host(
        name="local", address="127.0.0.1", port=agent.port, root_password=token,
        cluster=types.Cluster(data_center=types.DataCenter(id=dc.id)),
    ))


def test_ovirt_hosts_calls_see_the_host_go_up_down_and_up(
    served: tuple[Engine, str], system: Any, agent_process: AgentProcess
) -> None:
    engine, _ = served
    events = system.events_service()
    # ovirt_host's first call: the newest event, indexed [0].
    start = events.list(max=1)[0]
    assert isinstance(start.index, int) and start.id == str(start.index)
    dc = system.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    host = _add_host(system, agent_process, dc)
    assert host.status == types.HostStatus.UP
    seen = events.list(from_=int(start.index))
    assert [e.code for e in reversed(seen)] == [Code.DATA_CENTER_ADDED, Code.HOST_ADDED, Code.HOST_UP]
    up = seen[0]
    assert up.description == "Status of host local was set to Up."
    assert up.host.id == host.id and up.host.name == "local" and up.severity == types.LogSeverity.NORMAL

    agent_process.kill()
    assert engine.sync_hosts() == ["local"]
    assert engine.sync_hosts() == ["local"]  # still down: no second event
    # ovirt_host's raise_host_exception: warnings and errors of this host since it started.
    errors = [
        e.description for e in events.list(from_=int(start.index))
        if e.host is not None and (e.host.id == host.id or e.host.name == "local")
        and e.severity in (types.LogSeverity.WARNING, types.LogSeverity.ERROR)
    ]
    assert errors == ["Host local is non responsive."]

    agent_process.start()
    assert engine.sync_hosts() == []
    latest = events.list(max=1)[0]
    assert latest.code == Code.HOST_UP and latest.host.id == host.id
    statuses = events.list(search=f"type={Code.HOST_UP} or type={Code.HOST_NON_RESPONSIVE}")
    assert [e.code for e in statuses] == [Code.HOST_UP, Code.HOST_NON_RESPONSIVE, Code.HOST_UP]


def test_the_sdk_adds_gets_and_removes_an_external_event(served: tuple[Engine, str], system: Any) -> None:
    dc = system.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    events = system.events_service()
    added = events.add(types.Event(
        description="File system /home is full", severity=types.LogSeverity.ALERT, origin="mymonitor",
        custom_id=1467879754, data_center=types.DataCenter(id=dc.id),
    ))
    assert added.code == 9804 and added.severity == types.LogSeverity.ALERT
    assert added.origin == "mymonitor" and added.custom_id == 1467879754
    assert added.data_center.id == dc.id
    assert events.list(max=1)[0].id == added.id
    assert events.list(search="severity=alert")[0].id == added.id
    one = events.event_service(added.id).get()
    assert one.description == "File system /home is full" and one.time is not None
    events.event_service(added.id).remove()
    with pytest.raises(sdk.NotFoundError):
        events.event_service(added.id).get()
    with pytest.raises(sdk.Error) as failure:
        events.add(types.Event(description="x", severity=types.LogSeverity.NORMAL, origin="oVirt", custom_id=1))
    assert "Illegal Origin" in str(failure.value)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_the_connectivity_test_records_its_result_on_the_host(
    served: tuple[Engine, str], agent_process: AgentProcess, tmp_path: Path, fmt: str
) -> None:
    engine, url = served
    dc = engine.add_data_center("dc1")
    token = (agent_process.state_dir / "token").read_text().strip()
    host = engine.add_host("local", address="127.0.0.1", port=agent_process.port, token=token,
                           data_center_id=dc.id)
    ok = engine.add_connection(ConnectionFields(type=StorageType.POSIXFS, path="engine-test", vfs_type="tmpfs"))
    bad = engine.add_connection(ConnectionFields(type=StorageType.LOCALFS, path=str(tmp_path / "missing")))
    headers = {"Content-Type": MEDIA[fmt], "Accept": MEDIA[fmt]}
    body = ('<action><host><name>local</name></host></action>' if fmt == "xml"
            else '{"host": {"name": "local"}}')
    with httpx.Client(base_url=url, auth=ADMIN, headers=headers, timeout=60) as client:
        start = engine.list_events(max=1)[0].id
        assert client.post(f"/storageconnections/{ok.id}/test", content=body).status_code == 200
        assert client.post(f"/storageconnections/{bad.id}/test", content=body).status_code == 200
        listed = client.get("/events", params={"from": str(start)})
        assert listed.status_code == 200
        if fmt == "json":
            found = listed.json()["event"]
            passed, failed = found[1], found[0]
            texts = (passed["description"], failed["description"])
            severities = (passed["severity"], failed["severity"])
            hosts = (passed["host"]["id"], failed["host"]["id"])
        else:
            items = ET.fromstring(listed.content).findall("event")
            passed_x, failed_x = items[1], items[0]
            texts = (passed_x.findtext("description"), failed_x.findtext("description"))
            severities = (passed_x.findtext("severity"), failed_x.findtext("severity"))
            host_elems = (passed_x.find("host"), failed_x.find("host"))
            hosts = tuple(h.get("id") if h is not None else None for h in host_elems)  # type: ignore[assignment]
    [passed_event, failed_event] = engine.list_events(from_id=start)[::-1]
    assert (passed_event.code, failed_event.code) == (Code.TEST_CONNECTED, Code.TEST_FAILED)
    assert texts[0] == (
        f"Host local connected to storage connection {ok.id} (posixfs engine-test) "
        f"in a connectivity test by {ADMIN[0]}."
    )
    assert texts[1] is not None and texts[1].startswith(
        f"Failed to connect Host local to storage connection {bad.id}"
    )
    assert "[453]" in texts[1]
    assert severities == ("normal", "warning")
    assert hosts == (host.id, host.id)


def test_a_host_that_fails_an_activation_is_recorded(
    served: tuple[Engine, str], system: Any, agent_process: AgentProcess
) -> None:
    engine, _ = served
    dc = system.data_centers_service().add(types.DataCenter(name="dc1", local=False))
    host = _add_host(system, agent_process, dc)
    conn = engine.add_connection(ConnectionFields(type=StorageType.POSIXFS, path="ev-scratch", vfs_type="tmpfs"))
    sd = engine.add_domain("data1", storage_type=StorageType.POSIXFS, connection_id=conn.id)
    engine.attach_domain(dc.id, sd.id)
    start = engine.list_events(max=1)[0].id
    agent_process.kill()
    attached = system.data_centers_service().data_center_service(dc.id).storage_domains_service()
    attached.storage_domain_service(sd.id).activate()
    found = system.events_service().list(from_=start)
    assert [e.code for e in reversed(found)] == [Code.DOMAIN_ACTIVATED, Code.HOST_NON_RESPONSIVE,
                                                 Code.HOST_STORAGE_FAILED]
    failed = found[0]
    assert failed.severity == types.LogSeverity.ERROR
    assert failed.description == "Failed to connect Host local to the Storage Domains data1."
    assert failed.host.id == host.id and failed.storage_domain.id == sd.id and failed.data_center.id == dc.id
