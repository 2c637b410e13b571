"""Ownership records: what identifies the agent's own mount, kept durably; old databases migrated in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storconn.agent.store import Store, StoredOwnership


def test_the_mount_identity_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    record = StoredOwnership("t", "{}", "/mnt/t", mount_id=4242, source="scratch", fstype="tmpfs", boot_id="b-1")
    store.own(record)
    store.close()
    again = Store(tmp_path / "refs.sqlite")
    assert again.load_ownership() == [record]


def test_a_database_from_before_mount_ids_is_migrated_and_keeps_its_records(tmp_path: Path) -> None:
    path = tmp_path / "refs.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE refs (id TEXT PRIMARY KEY, target TEXT NOT NULL, info TEXT NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE owned (target TEXT PRIMARY KEY, info TEXT NOT NULL, path TEXT) WITHOUT ROWID;"
            "INSERT INTO owned VALUES ('old', '{}', '/mnt/old');"
        )
    store = Store(path)
    assert store.load_ownership() == [StoredOwnership("old", "{}", "/mnt/old")]
    store.own(StoredOwnership("new", "{}", "/mnt/new", mount_id=7, boot_id="b"))
    assert {r.target: r.mount_id for r in store.load_ownership()} == {"old": None, "new": 7}
    store.close()
    Store(path).close()  # opening a migrated database again changes nothing


def test_unreadable_ownership_records_do_not_stop_the_agent(tmp_path: Path) -> None:
    from storconn.agent.reconciler import Reconciler
    from storconn.agent.refs import Registry

    path = tmp_path / "refs.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO owned (target, info, path) VALUES ('a', '{not json', '/mnt/a')")
        db.execute("INSERT INTO owned (target, info, path) VALUES ('b', '[1, 2]', '/mnt/b')")
        db.execute("INSERT INTO owned (target, info, path) VALUES ('c', CAST(X'FF7B7D' AS TEXT), '/mnt/c')")
    store = Store(path)
    try:
        assert len(store.load_ownership()) == 3
        reconciler = Reconciler(Registry(store), store, {}, read_mounts=lambda _: {})
        reconciler.restore_ownership()  # raised JSONDecodeError and stopped the start
        assert reconciler.views() == {}
    finally:
        store.close()
