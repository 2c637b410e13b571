"""The audit log's storage on SQLite and PostgreSQL: ids that only grow, pruning, the filter in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.engine import actor, secrets
from storconn.engine.errors import Conflict
from storconn.engine.model import EventObjects, ExternalEvent, Severity
from storconn.engine.rules.events import Code
from storconn.engine.service import Engine
from tests.peers.postgres import PostgresServer


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "SCRYPT_N", 2**10)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/engine.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.new_database()
    made = Engine(url, key_file=tmp_path / "key", admin_password="admin-password")
    yield made
    made.close()


def _external(custom_id: int, **objects: str) -> ExternalEvent:
    return ExternalEvent(description=f"e{custom_id}", severity=Severity.WARNING, origin="mon",
                         custom_id=custom_id, objects=EventObjects(**objects))


def test_ids_grow_and_the_newest_comes_first(engine: Engine) -> None:
    for index in range(3):
        engine.add_data_center(f"dc{index}")
    found = engine.list_events()
    assert [e.code for e in found] == [Code.DATA_CENTER_ADDED] * 3 + [Code.ENGINE_START]
    assert [e.id for e in found] == sorted((e.id for e in found), reverse=True)
    assert [e.description for e in engine.list_events(max=1)] == ["Data Center dc2 was added by storconn"]


def test_the_newest_id_is_not_given_again_after_a_delete(engine: Engine) -> None:
    engine.add_data_center("dc1")
    newest = engine.list_events(max=1)[0].id
    engine.remove_event(str(newest))
    engine.add_data_center("dc2")
    assert engine.list_events(max=1)[0].id == newest + 1


def test_pruning_keeps_the_newest(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from storconn.engine.service import base, events

    monkeypatch.setattr(base, "PRUNE_EVERY", 5)
    monkeypatch.setattr(events, "PRUNE_EVERY", 5)
    engine.events_kept = 3
    for index in range(1, 10):  # ids 2..10: the prune at id 5 and at id 10
        engine.add_event(_external(index))
    assert [e.id for e in engine.list_events()] == [10, 9, 8]  # the newest 3: 7 and older are gone


def test_the_filter_runs_in_the_database(engine: Engine) -> None:
    host = "11111111-2222-3333-4444-555555555555"
    engine.add_event(_external(1, host_id=host))
    engine.add_event(_external(2))
    actor.set_current("admin@internal")
    engine.add_data_center("dc-x")
    assert [e.custom_id for e in engine.list_events(search=f"_event_host_id={host}")] == [1]
    assert len(engine.list_events(search=f"_event_host_id!={host}")) == 3
    assert [e.code for e in engine.list_events(search="usrname=admin@* and type=950")] == [950]
    assert [e.code for e in engine.list_events(search="event_datacenter=DC-*", case_sensitive=False)] == [950]
    assert engine.list_events(search="event_datacenter=DC-*") == []
    assert [e.custom_id for e in engine.list_events(search="message=e_", case_sensitive=False)] == []
    assert len(engine.list_events(search="severity=warning", max=1)) == 1


def test_a_custom_id_is_taken_once_per_origin(engine: Engine) -> None:
    engine.add_event(_external(7))
    with pytest.raises(Conflict):
        engine.add_event(_external(7))
