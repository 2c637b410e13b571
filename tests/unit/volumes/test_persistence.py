"""The persistence plugins (storconn.volumes.persistence): one contract, every plugin.

``PersistenceContract`` is the behaviour every plugin owes; it runs here on
``memory``, ``memory_db`` and a SQLite file, and on a real PostgreSQL in
``tests/integration/volumes/test_persistence_postgres.py``. The ``db``
plugin's own behaviour on a SQLite file is in ``test_persistence_db.py``,
several processes on one database in ``test_persistence_processes.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from storconn.connection import ErrorCode, InvalidParameter
from storconn.volumes.errors import ConcurrentUpdate, VolumeError
from storconn.volumes.persistence import (
    DbPersistence,
    MemoryPersistence,
    Persistence,
    make_persistence,
)
from storconn.volumes.records import ConnectionRecord, KeyValue, SnapshotRecord, VolumeRecord

SECRET = "Zq8-not-in-the-db-7xW"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def volume(**fields: Any) -> VolumeRecord:
    return VolumeRecord(**{"backend": "gl1", "size": 1, **fields})


def connection(volume_id: str, **fields: Any) -> ConnectionRecord:
    defaults: dict[str, Any] = {
        "backend": "gl1",
        "volume_id": volume_id,
        "connector_info": {"host": "node1", "initiator": "iqn.2026-01.test:node1"},
    }
    return ConnectionRecord(**{**defaults, **fields})


def chap_conn_info() -> dict[str, Any]:
    return {
        "driver_volume_type": "iscsi",
        "data": {
            "target_iqn": "iqn.2026-01.test:t",
            "target_portal": "127.0.0.1:3260",
            "target_lun": 1,
            "auth_method": "CHAP",
            "auth_username": "user1",
            "auth_password": SECRET,
        },
    }


def share_conn_info() -> dict[str, Any]:
    return {
        "driver_volume_type": "glusterfs",
        "data": {
            "export": "gl1:/vol0",
            "name": "volume-x",
            "share": {"type": "sshfs", "credentials": {"params": {"password": SECRET}}},
        },
    }


class PersistenceContract:
    """What every plugin does. Subclasses provide ``config``: a persistence_config."""

    durable = False

    @pytest.fixture
    def config(self, tmp_path: Path) -> dict[str, Any]:
        raise NotImplementedError

    @pytest.fixture
    def store(self, config: dict[str, Any]) -> Iterator[Persistence]:
        persistence = make_persistence(config)
        yield persistence
        persistence.close()

    # -- volumes ---------------------------------------------------------

    def test_a_new_volume_is_stored_at_version_1_and_reads_back_equal(
        self, store: Persistence
    ) -> None:
        record = volume(name="v1", extra={"exported": True, "tid": 3, "luns": [1, 2]})
        assert record.version == 0
        store.set_volume(record)
        assert record.version == 1
        assert store.get_volumes(volume_id=record.id) == [record]

    def test_every_field_of_every_record_round_trips(self, store: Persistence) -> None:
        vol = VolumeRecord(
            backend="gl2",
            size=7,
            id="vol-full",
            name="n",
            description="d",
            status="in-use",
            multiattach=True,
            format="qcow2",
            source_volid="vol-src",
            snapshot_id="snap-src",
            provider_location="volume-vol-full",
            provider_auth="CHAP u p",
            extra={"tid": 1},
            created_at=T0,
        )
        snap = SnapshotRecord(
            backend="gl2",
            volume_id="vol-full",
            volume_size=7,
            id="snap-full",
            name="s",
            description="d",
            status="available",
            provider_location="snapshot-x",
            created_at=T0,
        )
        conn = ConnectionRecord(
            backend="gl2",
            volume_id="vol-full",
            connector_info={"host": "h"},
            id="conn-full",
            status="attached",
            conn_info={"data": {}},
            device={"type": "file", "path": "/x"},
            attached_host="h",
            attach_mode="ro",
            local_attach=True,
            created_at=T0,
        )
        defaults: tuple[Any, ...] = (
            VolumeRecord(backend="", size=0),
            SnapshotRecord("", "v", 0),
            ConnectionRecord("", "v", {}),
        )
        full: tuple[Any, ...] = (vol, snap, conn)
        for record, default in zip(full, defaults, strict=True):
            names = {f.name for f in fields(type(record))}
            changed = {n for n in names if getattr(record, n) != getattr(default, n)}
            assert changed == names - {"version"}, "set every field"
        store.set_volume(vol)
        store.set_snapshot(snap)
        store.set_connection(conn)
        assert store.get_volumes() == [vol]
        assert store.get_snapshots() == [snap]
        assert store.get_connections() == [conn]

    def test_volume_filters_combine_and_list_oldest_first(self, store: Persistence) -> None:
        late = volume(name="a", backend="gl1", created_at=T0 + timedelta(seconds=2))
        early = volume(name="a", backend="gl2", created_at=T0)
        middle = volume(name="b", backend="gl1", created_at=T0 + timedelta(seconds=1))
        for record in (late, early, middle):
            store.set_volume(record)
        assert [v.id for v in store.get_volumes()] == [early.id, middle.id, late.id]
        assert [v.id for v in store.get_volumes(volume_name="a")] == [early.id, late.id]
        assert [v.id for v in store.get_volumes(backend_name="gl1")] == [middle.id, late.id]
        assert [v.id for v in store.get_volumes(volume_name="a", backend_name="gl1")] == [late.id]
        assert store.get_volumes(volume_id=early.id, backend_name="gl1") == []
        assert store.get_volumes(volume_id="no-such-volume") == []

    def test_created_at_keeps_its_instant_and_reads_back_in_utc(self, store: Persistence) -> None:
        plus_two = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
        record = volume(created_at=plus_two)
        store.set_volume(record)
        (read,) = store.get_volumes(volume_id=record.id)
        assert read.created_at == plus_two
        assert read.created_at.utcoffset() == timedelta(0)

    def test_getters_return_copies_and_setters_store_copies(self, store: Persistence) -> None:
        record = volume(extra={"luns": [1]})
        store.set_volume(record)
        record.extra["luns"].append(2)
        record.name = "changed after set"
        (first,) = store.get_volumes(volume_id=record.id)
        first.extra["luns"].append(3)
        (second,) = store.get_volumes(volume_id=record.id)
        assert second.extra == {"luns": [1]}
        assert second.name == ""
        assert first is not second

    def test_an_update_with_the_read_version_succeeds_and_bumps_it(
        self, store: Persistence
    ) -> None:
        record = volume()
        store.set_volume(record)
        (read,) = store.get_volumes(volume_id=record.id)
        read.status = "available"
        store.set_volume(read)
        assert read.version == 2
        (again,) = store.get_volumes(volume_id=record.id)
        assert (again.status, again.version) == ("available", 2)

    def test_a_stale_version_is_a_concurrent_update_and_changes_nothing(
        self, store: Persistence
    ) -> None:
        record = volume()
        store.set_volume(record)
        (first,) = store.get_volumes(volume_id=record.id)
        (second,) = store.get_volumes(volume_id=record.id)
        first.status = "available"
        store.set_volume(first)
        second.status = "error"
        with pytest.raises(ConcurrentUpdate, match=r"version 2, not 1") as caught:
            store.set_volume(second)
        assert caught.value.code == ErrorCode.CONFLICT
        assert second.version == 1
        (stored,) = store.get_volumes(volume_id=record.id)
        assert (stored.status, stored.version) == ("available", 2)

    def test_inserting_an_existing_id_is_a_concurrent_update(self, store: Persistence) -> None:
        record = volume(name="first")
        store.set_volume(record)
        twin = volume(id=record.id, name="second")
        with pytest.raises(ConcurrentUpdate, match="already exists"):
            store.set_volume(twin)
        assert twin.version == 0
        assert [v.name for v in store.get_volumes(volume_id=record.id)] == ["first"]

    def test_updating_a_deleted_volume_is_a_concurrent_update(self, store: Persistence) -> None:
        record = volume()
        store.set_volume(record)
        store.delete_volume(record)
        record.status = "available"
        with pytest.raises(ConcurrentUpdate, match="deleted"):
            store.set_volume(record)
        assert store.get_volumes() == []

    def test_delete_is_idempotent(self, store: Persistence) -> None:
        kept, gone = volume(), volume()
        store.set_volume(kept)
        store.set_volume(gone)
        store.delete_volume(gone)
        store.delete_volume(gone)
        store.delete_volume(volume())  # never stored
        assert [v.id for v in store.get_volumes()] == [kept.id]

    # -- snapshots and connections ----------------------------------------

    def test_snapshots_filter_by_id_name_and_volume(self, store: Persistence) -> None:
        one = SnapshotRecord(
            backend="gl1", volume_id="vol-a", volume_size=1, name="s", created_at=T0
        )
        two = SnapshotRecord(
            backend="gl1",
            volume_id="vol-b",
            volume_size=2,
            name="s",
            created_at=T0 + timedelta(seconds=1),
        )
        store.set_snapshot(one)
        store.set_snapshot(two)
        assert store.get_snapshots() == [one, two]
        assert store.get_snapshots(volume_id="vol-b") == [two]
        assert store.get_snapshots(snapshot_name="s", volume_id="vol-a") == [one]
        assert store.get_snapshots(snapshot_id=two.id) == [two]
        stale = store.get_snapshots(snapshot_id=one.id)[0]
        one.status = "available"
        store.set_snapshot(one)
        with pytest.raises(ConcurrentUpdate):
            store.set_snapshot(stale)
        store.delete_snapshot(one)
        store.delete_snapshot(one)
        assert store.get_snapshots() == [two]

    def test_connections_round_trip_their_secrets_and_filter(self, store: Persistence) -> None:
        chap = connection("vol-a", conn_info=chap_conn_info(), created_at=T0)
        share = connection(
            "vol-b",
            conn_info=share_conn_info(),
            device={"type": "block", "path": "/dev/loop7"},
            attached_host="node1",
            attach_mode="ro",
            created_at=T0 + timedelta(seconds=1),
        )
        store.set_connection(chap)
        store.set_connection(share)
        assert store.get_connections() == [chap, share]
        (read,) = store.get_connections(volume_id="vol-a")
        assert read.conn_info["data"]["auth_password"] == SECRET
        assert store.get_connections(connection_id=share.id)[0].device == {
            "type": "block",
            "path": "/dev/loop7",
        }
        assert store.get_connections(connection_id=share.id, volume_id="vol-a") == []
        read.status = "connected"
        store.set_connection(read)
        with pytest.raises(ConcurrentUpdate):
            store.set_connection(chap)  # still at version 1
        store.delete_connection(read)
        store.delete_connection(read)
        assert store.get_connections() == [share]

    def test_provider_auth_and_secrets_in_extra_read_back_in_clear(
        self, store: Persistence
    ) -> None:
        record = volume(
            provider_auth=f"CHAP user1 {SECRET}",
            extra={"chap": {"password": SECRET, "username": "user1"}, "none": {"password": None}},
        )
        store.set_volume(record)
        assert store.get_volumes(volume_id=record.id) == [record]

    # -- key-values (the seed's usage) -------------------------------------

    def test_key_values_as_the_seed_uses_them(self, store: Persistence) -> None:
        node_id = "node1.example"
        assert store.get_key_values(node_id) == []
        store.set_key_value(KeyValue(node_id, '{"initiator": "iqn.2026-01.test:node1"}'))
        kv = store.get_key_values(node_id)
        assert isinstance(kv, list) and len(kv) == 1
        assert kv[0].value == '{"initiator": "iqn.2026-01.test:node1"}'
        assert kv[0].key == node_id

    def test_key_values_last_writer_wins_and_list_by_key(self, store: Persistence) -> None:
        first = KeyValue("b", "1")
        store.set_key_value(first)
        store.set_key_value(KeyValue("a", None))
        store.set_key_value(KeyValue("b", "2"))  # version 0 again: still replaces
        first.value = "3"
        store.set_key_value(first)  # stale version: still replaces
        assert first.version == 3
        assert [(kv.key, kv.value) for kv in store.get_key_values()] == [("a", None), ("b", "3")]
        store.delete_key_value(KeyValue("b"))
        store.delete_key_value(KeyValue("b"))
        assert [kv.key for kv in store.get_key_values()] == ["a"]

    def test_a_key_value_holding_a_secret_reads_back_in_clear(self, store: Persistence) -> None:
        text = '{"credentials": {"password": "%s"}}' % SECRET
        store.set_key_value(KeyValue("node2", text))
        assert store.get_key_values("node2")[0].value == text

    # -- bad input -----------------------------------------------------------

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"id": "../etc"}, "volume.id"),
            ({"id": ""}, "volume.id"),
            ({"size": -1}, "volume.size"),
            ({"size": True}, "volume.size"),
            ({"name": "x" * 256}, "volume.name"),
            ({"status": "bad\x00status"}, "volume.status"),
            ({"extra": {"when": datetime(2026, 1, 1)}}, "volume.extra.when"),
            ({"extra": {1: "int key"}}, "volume.extra"),
            ({"extra": {"nan": float("nan")}}, "volume.extra.nan"),
            ({"extra": ["not", "a", "dict"]}, "volume.extra"),
            ({"created_at": datetime(2026, 1, 1)}, "volume.created_at"),
            ({"source_volid": "a/b"}, "volume.source_volid"),
            ({"version": -1}, "volume.version"),
        ],
    )
    def test_a_bad_volume_is_refused_naming_the_field_and_nothing_changes(
        self, store: Persistence, change: dict[str, Any], field: str
    ) -> None:
        stored = volume(name="kept")
        store.set_volume(stored)
        bad = volume(**change)
        with pytest.raises(InvalidParameter) as caught:
            store.set_volume(bad)
        assert caught.value.field == field
        updated = store.get_volumes(volume_id=stored.id)[0]
        for name, value in change.items():
            setattr(updated, name, value)
        updated.description = "changed"
        with pytest.raises(InvalidParameter):
            store.set_volume(updated)
        assert store.get_volumes() == [stored]

    def test_a_bad_connection_is_refused_naming_the_field(self, store: Persistence) -> None:
        cases = [
            (connection("vol-a", attach_mode="rx"), "connection.attach_mode"),
            (connection("vol-a", conn_info={"data": {"x": {1, 2}}}), "connection.conn_info.data.x"),
            (connection("vol-a", device="/dev/sda"), "connection.device"),
            (connection("bad id"), "connection.volume_id"),
        ]
        for record, field in cases:
            with pytest.raises(InvalidParameter) as caught:
                store.set_connection(record)
            assert caught.value.field == field
            assert SECRET not in str(caught.value)
        assert store.get_connections() == []

    def test_wrong_types_are_refused_naming_the_argument(self, store: Persistence) -> None:
        with pytest.raises(InvalidParameter) as caught:
            store.set_volume(connection("vol-a"))  # type: ignore[arg-type]
        assert caught.value.field == "volume"
        with pytest.raises(InvalidParameter) as caught:
            store.get_volumes(volume_id=7)  # type: ignore[arg-type]
        assert caught.value.field == "volume_id"
        with pytest.raises(InvalidParameter) as caught:
            store.set_key_value(KeyValue(""))
        assert caught.value.field == "key_value.key"
        with pytest.raises(InvalidParameter) as caught:
            store.delete_volume(KeyValue("k"))  # type: ignore[arg-type]
        assert caught.value.field == "volume"
        assert store.get_volumes() == [] and store.get_key_values() == []

    # -- locks and closing --------------------------------------------------

    def test_lock_excludes_other_threads_of_one_name_only(self, store: Persistence) -> None:
        inside: list[str] = []
        overlaps: list[str] = []
        guard = threading.Lock()

        def work(name: str) -> None:
            for _ in range(20):
                with store.lock(name):
                    with guard:
                        if name in inside:
                            overlaps.append(name)
                        inside.append(name)
                    time.sleep(0.0005)
                    with guard:
                        inside.remove(name)

        threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "a", "a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert overlaps == []

    def test_another_name_is_not_blocked_by_a_held_lock(self, store: Persistence) -> None:
        with store.lock("volume-1"):
            entered = threading.Event()

            def other() -> None:
                with store.lock("volume-2"):
                    entered.set()

            thread = threading.Thread(target=other)
            thread.start()
            assert entered.wait(5)
            thread.join(5)

    def test_a_held_lock_makes_another_thread_wait(self, store: Persistence) -> None:
        entered = threading.Event()

        def other() -> None:
            with store.lock("volume-1"):
                entered.set()

        with store.lock("volume-1"):
            thread = threading.Thread(target=other)
            thread.start()
            assert not entered.wait(0.3)
        assert entered.wait(5)
        thread.join(5)

    def test_writes_inside_a_lock_are_visible_at_once(self, store: Persistence) -> None:
        record = volume()
        with store.lock(record.id):
            store.set_volume(record)
            assert store.get_volumes(volume_id=record.id) == [record]

    def test_a_bad_lock_name_is_refused(self, store: Persistence) -> None:
        with pytest.raises(InvalidParameter) as caught:
            with store.lock(""):
                pass
        assert caught.value.field == "lock.name"

    def test_a_closed_persistence_refuses_use(self, config: dict[str, Any]) -> None:
        persistence = make_persistence(config)
        persistence.close()
        with pytest.raises(VolumeError, match="closed"):
            persistence.get_volumes()
        with pytest.raises(VolumeError, match="closed"):
            persistence.set_volume(volume())


class TestMemory(PersistenceContract):
    @pytest.fixture
    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"storage": "memory"}


class TestMemoryDb(PersistenceContract):
    @pytest.fixture
    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"storage": "memory_db"}


class TestSqliteFile(PersistenceContract):
    @pytest.fixture
    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"storage": "db", "connection": f"sqlite:///{tmp_path}/vol/volumes.db"}


# -- make_persistence ----------------------------------------------------------


def test_make_persistence_reads_cinderlibs_config(tmp_path: Path) -> None:
    assert isinstance(make_persistence({"storage": "memory"}), MemoryPersistence)
    assert isinstance(make_persistence("memory"), MemoryPersistence)
    assert isinstance(make_persistence(None), MemoryPersistence)
    memory_db = make_persistence({"storage": "memory_db"})
    assert isinstance(memory_db, DbPersistence) and memory_db.key_file is None
    memory_db.close()
    named = {
        "storage": "db",
        "connection": f"sqlite:///{tmp_path}/a.db",
        "key_file": str(tmp_path / "k"),
    }
    for config in (named, f"sqlite:///{tmp_path}/b.db"):
        store = make_persistence(config)
        assert isinstance(store, DbPersistence)
        store.close()
    assert (tmp_path / "k").exists() and (tmp_path / "a.db").exists()
    assert (tmp_path / "b.db.key").exists() and not (tmp_path / "a.db.key").exists()


def test_make_persistence_takes_a_plugin_object() -> None:
    mine = MemoryPersistence()
    assert make_persistence({"storage": mine}) is mine
    assert make_persistence(mine) is mine


def test_make_persistence_defaults_db_to_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("STORCONN_VOLUMES_KEY_FILE", raising=False)
    store = make_persistence({"storage": "db"})
    store.close()
    assert (tmp_path / "state" / "storconn" / "volumes.db").exists()
    assert (tmp_path / "state" / "storconn" / "volumes.db.key").exists()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"storage": "tooz"}, "persistence_config.storage"),
        ("nonsense", "persistence_config.storage"),
        ({"storage": object()}, "persistence_config.storage"),
        ({"storage": "memory", "connection": "sqlite://"}, "persistence_config.connection"),
        ({"storage": "db", "connection": 5}, "persistence_config.connection"),
        ({"storage": "db", "connection": "mysql://u@h/db"}, "persistence_config.connection"),
        ({"storage": "db", "connection": f"not a url {SECRET}"}, "persistence_config.connection"),
        ({"storage": "db", "key_file": 7}, "persistence_config.key_file"),
        (42, "persistence_config"),
    ],
)
def test_make_persistence_refuses_bad_config_naming_the_key(config: Any, field: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        make_persistence(config)
    assert caught.value.field == field
    assert SECRET not in str(caught.value)
