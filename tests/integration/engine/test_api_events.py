"""The audit log through REST, in XML and JSON: what each command records, and ``/events`` as oVirt serves it.

Each test runs against a fresh Engine on SQLite behind the module's uvicorn
(the fixtures of ``conftest.py``); the commands are called over HTTP so
that the events carry the caller, as they do for a real client.
"""

from __future__ import annotations

from typing import Any

import pytest

from storconn.engine.model import StorageType
from storconn.engine.rules.events import Code
from storconn.engine.service import Engine

from .conftest import ADMIN
from .rest import INCOMPLETE, ISCSI, NFS, NFS_FIELDS, Api, unreachable_host

CHAP_PASSWORD = "chap-Secret-4711"
HOST_TOKEN = "agent-token-0815"


def events(api: Api, **params: str) -> list[dict[str, Any]]:
    return api.read_list(api.get("/events", params=params), "event")


def newest(api: Api) -> dict[str, Any]:
    found = events(api, max="1")
    assert len(found) == 1
    return found[0]


def after(api: Api, mark: int) -> list[dict[str, Any]]:
    """The events after ``mark``, oldest first (the API answers newest first)."""
    return list(reversed(events(api, **{"from": str(mark)})))


def mark(api: Api) -> int:
    return int(newest(api)["index"])


def codes(found: list[dict[str, Any]]) -> list[int]:
    return [int(e["code"]) for e in found]


# -- what the commands record --------------------------------------------------------------------


def test_a_new_engine_has_its_start_event_so_max_1_finds_one(api: Api) -> None:
    event = newest(api)
    assert int(event["code"]) == Code.ENGINE_START
    assert event["severity"] == "normal" and event["origin"] == "storconn"
    assert event["id"] == event["index"] and int(event["custom_id"]) == -1
    assert event["href"].endswith(f"/events/{event['id']}")
    assert event["time"].endswith("+00:00")


def test_connection_add_edit_remove_are_recorded_with_the_user(api: Api) -> None:
    start = mark(api)
    conn = api.add_connection(NFS)
    assert api.put(f"/storageconnections/{conn['id']}", "storage_connection", {"path": "/exports/moved"}).status_code == 200
    assert api.delete(f"/storageconnections/{conn['id']}").status_code == 200
    found = after(api, start)
    assert codes(found) == [Code.CONNECTION_ADDED, Code.CONNECTION_UPDATED, Code.CONNECTION_REMOVED]
    added, updated, removed = found
    assert added["description"] == (
        f"Storage connection {conn['id']} (nfs filer.example.com:/exports/data) was added by {ADMIN[0]}."
    )
    assert "filer.example.com:/exports/moved" in updated["description"]
    assert "was removed by" in removed["description"]
    for event in found:
        assert event["user"] == {"name": ADMIN[0]}
        assert event["severity"] == "normal"


def test_domain_life_is_recorded_with_the_domain_and_data_center(api: Api) -> None:
    conn = api.add_connection(NFS)
    start = mark(api)
    sd = api.read(api.post("/storagedomains", "storage_domain",
                           {"name": "data1", "type": "data", "storage": {"id": conn["id"]}}))
    assert api.put(f"/storagedomains/{sd['id']}", "storage_domain", {"description": "x"}).status_code == 200
    dc = api.read(api.post("/datacenters", "data_center", {"name": "dc1", "local": False}))
    attached = f"/datacenters/{dc['id']}/storagedomains"
    assert api.post(attached, "storage_domain", {"id": sd["id"]}).status_code == 201  # attach activates
    assert api.post(f"{attached}/{sd['id']}/deactivate", "action", {}).status_code == 200
    assert api.delete(f"{attached}/{sd['id']}").status_code == 200
    assert api.delete(f"/storagedomains/{sd['id']}").status_code == 200
    found = after(api, start)
    assert codes(found) == [
        Code.DOMAIN_ADDED, Code.DOMAIN_UPDATED, Code.DATA_CENTER_ADDED, Code.DOMAIN_ATTACHED,
        Code.DOMAIN_ACTIVATED, Code.DOMAIN_DEACTIVATED, Code.DOMAIN_DETACHED, Code.DOMAIN_REMOVED,
    ]
    texts = [e["description"] for e in found]
    assert texts[0] == f"Storage Domain data1 was added by {ADMIN[0]}"
    assert texts[2] == f"Data Center dc1 was added by {ADMIN[0]}"
    assert texts[3] == f"Storage Domain data1 was attached to Data Center dc1 by {ADMIN[0]}"
    assert texts[4] == f"Storage Domain data1 (Data Center dc1) was activated by {ADMIN[0]}"
    assert texts[5].startswith("Storage Domain data1 (Data Center dc1) was deactivated by")
    for event in found:
        if int(event["code"]) != Code.DATA_CENTER_ADDED:
            assert event["storage_domain"]["id"] == sd["id"]
            assert event["storage_domain"]["name"] == "data1"
            assert event["storage_domain"]["href"].endswith(f"/storagedomains/{sd['id']}")
    for event in found[3:7]:
        assert event["data_center"]["id"] == dc["id"] and event["data_center"]["name"] == "dc1"


def test_a_domain_with_a_new_connection_records_both(api: Api) -> None:
    start = mark(api)
    body = {"name": "data2", "type": "data", "storage": {"type": "nfs", "address": "filer2", "path": "/e"}}
    assert api.post("/storagedomains", "storage_domain", body).status_code == 201
    assert codes(after(api, start)) == [Code.CONNECTION_ADDED, Code.DOMAIN_ADDED]


def test_hosts_added_and_removed_are_recorded_not_their_token(api: Api, engine: Engine) -> None:
    dc = engine.add_data_center("dc1")
    start = mark(api)
    body = {"name": "h1", "address": "127.0.0.1", "port": 1, "root_password": HOST_TOKEN,
            "cluster": {"data_center": {"id": dc.id}}}
    host = api.read(api.post("/hosts", "host", body))
    assert api.delete(f"/hosts/{host['id']}").status_code == 200
    found = after(api, start)
    # Never Up (nothing listens on port 1): no change of status, so no status event.
    assert codes(found) == [Code.HOST_ADDED, Code.HOST_REMOVED]
    assert found[0]["description"] == f"Host h1 was added by {ADMIN[0]}."
    assert found[1]["description"] == f"Host h1 was removed by {ADMIN[0]}."
    for event in found:
        assert event["host"]["id"] == host["id"] and event["host"]["name"] == "h1"
    everything = api.get("/events").text
    assert HOST_TOKEN not in everything


def test_no_secret_reaches_any_event(api: Api, engine: Engine) -> None:
    chap = {**ISCSI, "username": "chap-user", "password": CHAP_PASSWORD}
    conn = api.add_connection(chap)
    api.put(f"/storageconnections/{conn['id']}", "storage_connection", {"password": CHAP_PASSWORD + "2"})
    sd = {"name": "blk", "type": "data",
          "storage": {"type": "iscsi", "logical_units": [{"id": "3600a", "address": "10.0.0.9", "port": 3260,
                      "target": "iqn.2026-01.test:other", "username": "u", "password": CHAP_PASSWORD}]}}
    api.post("/storagedomains", "storage_domain", sd)
    unreachable_host(engine, "h9")
    api.post(f"/storageconnections/{conn['id']}/test", "action", {"host": {"name": "h9"}})
    api.delete(f"/storageconnections/{conn['id']}")
    for media in ("application/xml", "application/json"):
        answer = api.client.get("/events", headers={"Accept": media})
        assert answer.status_code == 200
        assert CHAP_PASSWORD not in answer.text
        assert "token" not in answer.text.lower()
    assert int(newest(api)["code"]) == Code.CONNECTION_REMOVED


def test_a_failed_command_records_nothing(api: Api) -> None:
    conn = api.add_connection(NFS)
    start = mark(api)
    api.expect_fault(api.post("/storageconnections", "storage_connection", NFS), 409,
                     "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS")
    assert api.post("/storagedomains", "storage_domain", {"name": "", "type": "data",
                                                          "storage": {"id": conn["id"]}}).status_code == 400
    assert after(api, start) == []


def test_a_connectivity_test_on_an_unreachable_host_is_recorded_as_a_warning(api: Api, engine: Engine) -> None:
    conn = api.add_connection(NFS)
    host = unreachable_host(engine, "h1")
    start = mark(api)
    answer = api.post(f"/storageconnections/{conn['id']}/test", "action", {"host": {"name": "h1"}})
    api.expect_fault(answer, 400, "VDS_NETWORK_ERROR")
    [event] = after(api, start)
    assert int(event["code"]) == Code.TEST_FAILED and event["severity"] == "warning"
    assert event["host"]["id"] == host.id and event["host"]["name"] == "h1"
    assert event["description"].startswith(f"Failed to connect Host h1 to storage connection {conn['id']}")
    assert "Network error" in event["description"]


def test_the_correlation_id_header_is_kept(api: Api) -> None:
    start = mark(api)
    answer = api.post("/datacenters", "data_center", {"name": "dc9"}, headers={"Correlation-Id": "abc-123"})
    assert answer.status_code == 201
    [event] = after(api, start)
    assert event["correlation_id"] == "abc-123"


# -- GET /events: order, max, from, search ----------------------------------------------------------


def _three_data_centers(api: Api) -> int:
    start = mark(api)
    for name in ("dc1", "dc2", "dc3"):
        assert api.post("/datacenters", "data_center", {"name": name}).status_code == 201
    return start


def test_events_are_newest_first_with_increasing_ids(api: Api) -> None:
    _three_data_centers(api)
    found = events(api)
    ids = [int(e["id"]) for e in found]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert [e["description"].split()[2] for e in found[:3]] == ["dc3", "dc2", "dc1"]


def test_max_and_from(api: Api) -> None:
    start = _three_data_centers(api)
    assert [int(e["index"]) for e in events(api, max="2")] == [start + 3, start + 2]
    assert [int(e["index"]) for e in events(api, **{"from": str(start + 1)})] == [start + 3, start + 2]
    assert [int(e["index"]) for e in events(api, max="1", **{"from": str(start)})] == [start + 3]
    assert events(api, **{"from": str(start + 3)}) == []
    assert len(events(api, **{"from": "-1"})) == 4


def test_search_by_type_and_severity(api: Api, engine: Engine) -> None:
    start = _three_data_centers(api)
    unreachable_host(engine, "h1")
    conn = api.add_connection(NFS)
    api.post(f"/storageconnections/{conn['id']}/test", "action", {"host": {"name": "h1"}})
    by_type = events(api, search=f"type={Code.DATA_CENTER_ADDED}")
    assert [int(e["index"]) for e in by_type] == [start + 3, start + 2, start + 1]
    warnings = events(api, search="severity=warning")
    assert codes(warnings) == [Code.TEST_FAILED]
    assert codes(events(api, search="severity>=warning")) == [Code.TEST_FAILED]
    both = events(api, search=f"type={Code.HOST_ADDED} or type={Code.TEST_FAILED}")
    assert codes(both) == [Code.TEST_FAILED, Code.HOST_ADDED]
    # What ovirt_host sends while it waits: a type filter after the event it started from.
    narrowed = events(api, search=f"type={Code.DATA_CENTER_ADDED} and event_datacenter=dc2",
                      **{"from": str(start)})
    assert [e["description"] for e in narrowed] == [f"Data Center dc2 was added by {ADMIN[0]}"]
    assert codes(events(api, search="host.name=h1 and severity=warning")) == [Code.TEST_FAILED]
    assert len(events(api, search='event_datacenter="DC*"', case_sensitive="false")) == 3
    assert events(api, search='event_datacenter="DC*"') == []


@pytest.mark.parametrize(
    ("query", "part"),
    [
        ("colour=red", "events have no field 'colour'"),
        ("type=abc", "type is an integer"),
        ("severity=loud", "severity is one of normal, warning, error, alert"),
        ("type=1 type=2", "joined by 'and' or 'or'"),
        ("sortby time asc", "expected field=value terms"),
        ("message>x", "message takes = or != only"),
    ],
)
def test_a_search_it_cannot_answer_is_400_naming_why(api: Api, query: str, part: str) -> None:
    api.expect_fault(api.get("/events", params={"search": query}), 400, "UNSUPPORTED_SEARCH", contains=(part,))


@pytest.mark.parametrize("value", ["x", "1.5", "99999999999999999999"])
def test_a_bad_from_is_400(api: Api, value: str) -> None:
    api.expect_fault(api.get("/events", params={"from": value}), 400, "INVALID_VALUE",
                     reason="Request syntactically incorrect.", contains=("'from'",))


# -- one event: get, remove ---------------------------------------------------------------------------


def test_get_and_remove_one_event(api: Api) -> None:
    start = _three_data_centers(api)
    one = api.get(f"/events/{start + 2}")
    assert one.status_code == 200
    assert api.read(one)["description"] == f"Data Center dc2 was added by {ADMIN[0]}"
    assert api.delete(f"/events/{start + 2}").status_code == 200
    api.expect_fault(api.get(f"/events/{start + 2}"), 404, "ENTITY_NOT_FOUND", reason="Not Found")
    api.expect_fault(api.delete(f"/events/{start + 2}"), 404, "ENTITY_NOT_FOUND", reason="Not Found")
    assert [int(e["index"]) for e in after(api, start)] == [start + 1, start + 3]
    for bad in ("abc", "-1", "1" * 40):
        api.expect_fault(api.get(f"/events/{bad}"), 404, "ENTITY_NOT_FOUND", reason="Not Found")


def test_ids_are_never_given_twice_after_the_newest_is_removed(api: Api) -> None:
    start = _three_data_centers(api)
    assert api.delete(f"/events/{start + 3}").status_code == 200
    assert api.post("/datacenters", "data_center", {"name": "dc4"}).status_code == 201
    assert int(newest(api)["index"]) == start + 4


# -- POST /events: external events ---------------------------------------------------------------------

EXTERNAL = {"description": "File system /home is full", "severity": "alert", "origin": "mymonitor",
            "custom_id": 1467879754}


def test_an_external_event_is_added_as_ovirt_adds_it(api: Api, engine: Engine) -> None:
    dc = engine.add_data_center("dc1")
    host = unreachable_host(engine, "h1")
    body = {**EXTERNAL, "host": {"id": host.id}, "data_center": {"id": dc.id},
            "vm": {"id": "aae98225-5b73-490d-a252-899209af17e9"}, "flood_rate": 10}
    answer = api.post("/events", "event", body)
    assert answer.status_code == 201, answer.text
    added = api.read(answer)
    assert answer.headers["location"].endswith(f"/events/{added['id']}")
    assert int(added["code"]) == 9804 and added["severity"] == "alert"
    assert added["origin"] == "mymonitor" and int(added["custom_id"]) == 1467879754
    assert added["description"] == "File system /home is full" and int(added["flood_rate"]) == 10
    assert added["host"]["name"] == "h1" and added["data_center"]["name"] == "dc1"
    assert added["vm"]["id"] == "aae98225-5b73-490d-a252-899209af17e9"
    assert newest(api)["id"] == added["id"]
    assert codes(events(api, search="origin=mymonitor")) == [9804]


@pytest.mark.parametrize(
    ("missing", "named"),
    [("origin", "origin"), ("severity", "severity"), ("custom_id", "customId"), ("description", "description")],
)
def test_an_external_event_needs_what_ovirt_requires(api: Api, missing: str, named: str) -> None:
    body = {k: v for k, v in EXTERNAL.items() if k != missing}
    api.expect_fault(api.post("/events", "event", body), 400, "INCOMPLETE_PARAMETERS",
                     reason=INCOMPLETE, detail=f"Event [{named}] required for add")


def test_an_external_event_with_a_taken_custom_id_is_refused(api: Api) -> None:
    assert api.post("/events", "event", EXTERNAL).status_code == 201
    start = mark(api)
    api.expect_fault(api.post("/events", "event", EXTERNAL), 409,
                     "ACTION_TYPE_FAILED_EXTERNAL_EVENT_DUPLICATE_CUSTOM_ID",
                     detail="[Cannot add External Event. External Event with this custom id already exists.]")
    assert after(api, start) == []
    assert api.post("/events", "event", {**EXTERNAL, "origin": "other"}).status_code == 201


@pytest.mark.parametrize("origin", ["oVirt", "storconn", "STORCONN"])
def test_an_external_event_may_not_take_the_engines_origin(api: Api, origin: str) -> None:
    api.expect_fault(api.post("/events", "event", {**EXTERNAL, "origin": origin}), 400,
                     "ACTION_TYPE_FAILED_EXTERNAL_EVENT_ILLEGAL_ORIGIN",
                     detail=f"[Cannot add External Event. Illegal Origin for External Event : {origin}]")


@pytest.mark.parametrize(
    ("change", "key", "part"),
    [
        ({"severity": "loud"}, "INVALID_VALUE", "event/severity"),
        ({"custom_id": 2**31}, "INVALID_VALUE", "event/custom_id"),
        ({"custom_id": "x"}, "INVALID_VALUE", "event/custom_id"),
        ({"flood_rate": -(2**31) - 1}, "INVALID_VALUE", "event/flood_rate"),
        ({"origin": "o" * 256}, "INVALID_VALUE", "event/origin"),
        ({"host": {"id": "not-a-uuid"}}, "INVALID_VALUE", "event/host/@id"),
        ({"colour": "red"}, "UNKNOWN_ELEMENT", "event/colour"),
    ],
)
def test_a_bad_external_event_is_400_naming_the_field(
    api: Api, change: dict[str, Any], key: str, part: str
) -> None:
    start = mark(api)
    answer = api.post("/events", "event", {**EXTERNAL, **change})
    assert answer.status_code == 400, answer.text
    assert answer.headers["Storconn-Message-Key"] == key
    assert part in api.fault(answer)[1]
    assert after(api, start) == []


def test_a_viewer_reads_events_but_cannot_add_or_remove_them(api: Api, clients: Any, root: str, fmt: str) -> None:
    from .conftest import VIEWER

    viewer = clients(root, fmt, VIEWER)
    assert viewer.get("/events").status_code == 200
    assert viewer.post("/events", "event", EXTERNAL).status_code == 403
    assert viewer.delete(f"/events/{mark(api)}").status_code == 403


def test_a_command_outside_a_request_is_by_the_engine(engine: Engine) -> None:
    # The service-level recorder: a command called without a request names no user.
    conn = engine.add_connection(NFS_FIELDS)
    engine.add_domain("d", storage_type=StorageType.NFS, connection_id=conn.id)
    latest = engine.list_events(max=2)
    assert [e.code for e in latest] == [Code.DOMAIN_ADDED, Code.CONNECTION_ADDED]
    assert latest[0].description == "Storage Domain d was added by storconn"
    assert latest[0].objects.user_name is None



def test_host_maintenance_is_recorded_with_who_did_it(api: Api, engine: Engine) -> None:
    host = unreachable_host(engine, "h-maint")
    start = mark(api)
    assert api.post(f"/hosts/{host.id}/deactivate", "action", {}).status_code == 200
    [event] = after(api, start)
    assert int(event["code"]) == Code.HOST_MAINTENANCE
    assert event["description"] == f"Host h-maint was switched to Maintenance mode by {ADMIN[0]}."
    assert event["host"]["id"] == host.id
