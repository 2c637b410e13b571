from __future__ import annotations

import threading
from pathlib import Path

import pytest

from storconn.agent.store import Store, StoredOwnership, StoreError


def test_concurrent_writes_are_all_durable(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    threads = [
        threading.Thread(target=store.own, args=(StoredOwnership(f"t{i}", "{}", f"/mnt/{i}"),))
        for i in range(32)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    again = Store(tmp_path / "refs.sqlite")
    assert {o.target for o in again.load_ownership()} == {f"t{i}" for i in range(32)}


def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    store.add_refs([("a", "t", "{}")])
    with pytest.raises(StoreError):
        store.add_refs([("a", "t", "{}")])  # the primary key is taken
    store.add_refs([("b", "t", "{}")])
    assert sorted(r.id for r in store.load_refs()) == ["a", "b"]


def test_disown_forgets_the_record(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    store.own(StoredOwnership("t", "{}", "/mnt/t"))
    store.disown("t")
    assert store.load_ownership() == []
