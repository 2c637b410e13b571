from __future__ import annotations

import sqlite3
import threading
import time
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


class _Poison:
    """A value whose conversion for sqlite raises what the test asks for."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _raise_poison(value: _Poison) -> str:
    raise value.exc


sqlite3.register_adapter(_Poison, _raise_poison)


@pytest.mark.parametrize(
    "poison",
    [
        "\ud800",  # sqlite3 raises UnicodeEncodeError
        2**70,  # OverflowError
        _Poison(MemoryError()),
        _Poison(RuntimeError("anything at all")),
        object(),  # sqlite3.ProgrammingError
    ],
    ids=["surrogate", "overflow", "memory", "runtime", "unsupported-type"],
)
def test_a_poisoned_write_in_a_group_fails_alone(tmp_path: Path, poison: object) -> None:
    store = Store(tmp_path / "refs.sqlite")
    outcomes: dict[str, BaseException | None] = {}

    def write(ref_id: object) -> None:
        try:
            store.add_refs([(ref_id, "t", "{}")])  # type: ignore[list-item]
        except BaseException as exc:
            outcomes[str(ref_id)] = exc
        else:
            outcomes[str(ref_id)] = None

    # Holding the connection's lock makes every writer queue up, so that
    # they all go into one group commit with the poisoned one among them.
    with store._lock:
        threads = [threading.Thread(target=write, args=(ref_id,)) for ref_id in ["a", "b", poison, "c"]]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(store._queue) < 4 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(store._queue) == 4
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "a writer of the group was never answered"

    assert outcomes.pop(str(poison)).__class__ is StoreError
    assert outcomes == {"a": None, "b": None, "c": None}
    assert not store._db.in_transaction
    store.add_refs([("d", "t", "{}")])  # the store still takes writes
    store.close()
    assert sorted(r.id for r in Store(tmp_path / "refs.sqlite").load_refs()) == ["a", "b", "c", "d"]


def test_a_poisoned_write_alone_fails_and_leaves_no_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    with pytest.raises(StoreError, match="not valid Unicode"):
        store.add_refs([("\ud800", "t", "{}")])
    assert not store._db.in_transaction
    store.add_refs([("a", "t", "{}")])
    assert [r.id for r in store.load_refs()] == ["a"]


def test_a_store_error_does_not_quote_the_value(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    with pytest.raises(StoreError) as caught:
        store.add_refs([("a", "t", _Poison(RuntimeError("password=hunter2")))])  # type: ignore[list-item]
    assert "hunter2" not in str(caught.value)
