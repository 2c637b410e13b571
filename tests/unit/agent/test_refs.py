from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storconn.agent.refs import Registry
from storconn.agent.store import Store, StoreError

TMP = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=1m"}}
LOCAL = {"type": "localfs", "params": {"path": "/srv/data"}}


def test_acquire_stores_durably_before_answering(registry: Registry, store: Store) -> None:
    assert registry.acquire({"a": TMP}) == {"a": 0}
    assert [r.id for r in store.load_refs()] == ["a"]


def test_reacquire_with_equal_info_is_a_noop(registry: Registry) -> None:
    registry.acquire({"a": TMP})
    assert registry.acquire({"a": dict(TMP)}) == {"a": 0}
    assert len(registry.references()) == 1


def test_reacquire_with_other_info_is_478(registry: Registry) -> None:
    registry.acquire({"a": TMP})
    assert registry.acquire({"a": LOCAL}) == {"a": 478}
    assert registry.references()[0].wire["type"] == "posixfs"


def test_same_target_with_other_options_is_a_conflict(registry: Registry) -> None:
    registry.acquire({"a": TMP})
    other = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=2m"}}
    assert registry.acquire({"b": other}) == {"b": 490}


def test_conflict_inside_one_batch_fails_only_the_later_entry(registry: Registry) -> None:
    other = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=2m"}}
    assert registry.acquire({"a": TMP, "b": other, "c": LOCAL}) == {"a": 0, "b": 490, "c": 0}


def test_two_references_to_one_target_share_it(registry: Registry) -> None:
    registry.acquire({"a": TMP, "b": TMP})
    assert len(registry.desired()) == 1


@pytest.mark.parametrize(
    "bad_id", ["", "a/b", "x" * 256, "unmanaged:1", "\ud800", "a\udfffb", "a\x00b", "a\nb", "\x7f", "\x85", "\x1b[31m"]
)
def test_bad_ids_are_refused_without_failing_the_batch(registry: Registry, bad_id: str) -> None:
    assert registry.acquire({bad_id: TMP, "good": LOCAL}) == {bad_id: 1000, "good": 0}


def test_id_of_255_characters_is_accepted(registry: Registry) -> None:
    assert registry.acquire({"x" * 255: TMP}) == {"x" * 255: 0}


def test_bad_info_is_1000_and_stores_nothing(registry: Registry, store: Store) -> None:
    assert registry.acquire({"a": {"type": "nfs", "params": {}}}) == {"a": 1000}
    assert store.load_refs() == []


def test_release_unknown_id_is_479_and_changes_nothing(registry: Registry) -> None:
    registry.acquire({"a": TMP})
    assert registry.release(["nope"]) == {"nope": 479}
    assert [r.id for r in registry.references()] == ["a"]


def test_release_by_prefix_answers_for_each_id(registry: Registry, store: Store) -> None:
    registry.acquire({"flow1:a": TMP, "flow1:b": LOCAL, "flow2:a": TMP})
    assert registry.release(prefixes=["flow1:"]) == {"flow1:a": 0, "flow1:b": 0}
    assert [r.id for r in store.load_refs()] == ["flow2:a"]


@pytest.mark.parametrize("prefix", ["", ":", "flow1"])
def test_prefix_must_end_with_colon(registry: Registry, prefix: str) -> None:
    registry.acquire({"flow1:a": TMP})
    assert registry.release(prefixes=[prefix]) == {prefix: 1000}
    assert len(registry.references()) == 1


def test_last_release_removes_the_target(registry: Registry) -> None:
    registry.acquire({"a": TMP, "b": TMP})
    registry.release(["a"])
    assert len(registry.desired()) == 1
    registry.release(["b"])
    assert registry.desired() == {}


def test_references_survive_a_new_registry(tmp_path: Path) -> None:
    store = Store(tmp_path / "refs.sqlite")
    Registry(store).acquire({"a": TMP, "b": LOCAL})
    store.close()
    again = Registry(Store(tmp_path / "refs.sqlite"))
    assert again.load() == 2
    assert {r.id for r in again.references()} == {"a", "b"}


def test_listener_hears_changed_targets_after_commit(store: Store) -> None:
    heard: list[set[str]] = []
    registry = Registry(store, on_change=heard.append)
    registry.acquire({"a": TMP})
    assert len(heard) == 1 and len(heard[0]) == 1
    registry.release(["a"])
    assert heard[1] == heard[0]


def test_store_files_are_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "state" / "refs.sqlite")
    Registry(store).acquire({"a": TMP})
    for name in ("refs.sqlite", "refs.sqlite-wal"):
        assert (tmp_path / "state" / name).stat().st_mode & 0o077 == 0


def test_a_surrogate_id_fails_alone_and_the_good_one_is_stored(registry: Registry, store: Store) -> None:
    assert registry.acquire({"good": TMP, "\ud800": LOCAL}) == {"good": 0, "\ud800": 1000}
    assert [r.id for r in store.load_refs()] == ["good"]
    assert registry.acquire({"next": LOCAL}) == {"next": 0}  # the store still takes writes


def test_release_judges_each_entry(registry: Registry, store: Store) -> None:
    registry.acquire({"keep": TMP, "go": LOCAL})
    entries: list[Any] = [1, None, [1, 2], {"a": 1}, 1.5, True, "\ud800", "a/b", "nope", "go"]
    assert registry.release(entries) == {
        "1": 1000, "null": 1000, "[1,2]": 1000, '{"a":1}': 1000, "1.5": 1000, "true": 1000,
        "\ud800": 1000, "a/b": 1000, "nope": 479, "go": 0,
    }
    assert [r.id for r in store.load_refs()] == ["keep"]


def test_release_judges_each_prefix(registry: Registry) -> None:
    registry.acquire({"flow:a": TMP, "keep": LOCAL})
    prefixes: list[Any] = [7, None, ["flow:"], "\ud800:", "a\x00:", "flow:"]
    assert registry.release(prefixes=prefixes) == {
        "7": 1000, "null": 1000, '["flow:"]': 1000, "\ud800:": 1000, "a\x00:": 1000, "flow:a": 0,
    }
    assert [r.id for r in registry.references()] == ["keep"]


def _old_rows(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Rows as an older agent wrote them, before today's validation."""
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO refs (id, target, info) VALUES (?, ?, ?)", rows)


OLD_SSHFS = {
    "type": "posixfs",
    "params": {"spec": "u@h:/d", "vfsType": "fuse.sshfs", "options": "ssh_command=sh -c id,password=hunter2"},
}
OLD_ISCSI_CHAP = {
    "type": "iscsi",
    "params": {"target": {"portal": {"hostname": "h"}, "iqn": "not an iqn"},
               "credentials": {"type": "chap", "params": {"username": "u", "password": "hunter2"}},
               "iface": "default", "extra": "hunter2 again"},
}


def test_stored_rows_that_no_longer_validate_load_in_error(tmp_path: Path) -> None:
    path = tmp_path / "refs.sqlite"
    _old_rows(path, [
        ("ok", "localfs:/srv/data", json.dumps(LOCAL)),
        ("ssh", "posixfs:x", json.dumps(OLD_SSHFS)),
        ("chap", "iscsi:x", json.dumps(OLD_ISCSI_CHAP)),
        ("garbage", "posixfs:y", "{not json"),
        ("list", "posixfs:z", "[1, 2]"),
    ])
    registry = Registry(Store(path))
    assert registry.load() == 5
    refs = {r.id: r for r in registry.references()}
    assert refs["ok"].error is None
    assert list(registry.desired()) == [refs["ok"].target]  # nothing in error is ever connected
    for ref_id in ("ssh", "chap", "garbage", "list"):
        error = refs[ref_id].error
        assert error is not None and error[0] == 1000
        assert "no longer accepted" in error[1] and "hunter2" not in error[1]
    assert "ssh_command" in refs["ssh"].error[1]  # type: ignore[index]
    assert "JSON" in refs["garbage"].error[1]  # type: ignore[index]
    assert refs["garbage"].wire is None and refs["list"].wire is None
    shown = json.dumps([refs["ssh"].wire, refs["chap"].wire])
    assert "hunter2" not in shown
    assert refs["ssh"].wire["params"]["vfsType"] == "fuse.sshfs"  # type: ignore[index]


def test_a_reference_in_error_is_releasable_and_its_id_stays_held_until_then(tmp_path: Path) -> None:
    path = tmp_path / "refs.sqlite"
    _old_rows(path, [("ssh", "posixfs:x", json.dumps(OLD_SSHFS))])
    heard: list[set[str]] = []
    registry = Registry(Store(path), on_change=heard.append)
    registry.load()
    assert registry.acquire({"ssh": TMP}) == {"ssh": 478}
    assert registry.release(["ssh"]) == {"ssh": 0}
    assert heard == []  # it had no target to change
    assert registry.acquire({"ssh": TMP}) == {"ssh": 0}
    assert [r.info_json for r in Store(path).load_refs()] == [registry.references()[0].stored]


def test_an_old_id_that_todays_rules_refuse_stays_releasable(tmp_path: Path) -> None:
    path = tmp_path / "refs.sqlite"
    _old_rows(path, [("old\nid", "localfs:/srv/data", json.dumps(LOCAL))])
    registry = Registry(Store(path))
    registry.load()
    assert registry.release(["old\nid"]) == {"old\nid": 0}
    assert Store(path).load_refs() == []


class _RefusingStore(Store):
    """A store that cannot take the row of one id, whatever else comes with it."""

    writes = 0  # the add_refs that got through

    def add_refs(self, refs: Any, *, also: Any = ()) -> None:
        rows = list(refs)
        if any(row[0] == "poison" for row in rows):
            raise StoreError("the reference store refused the write: test", row_specific=True)
        if any(row[0] == "disk-full" for row in rows):
            raise StoreError("the reference store refused the write: database or disk is full")
        self.writes += 1
        super().add_refs(rows, also=also)


def test_a_row_the_store_refuses_fails_only_its_entry(tmp_path: Path) -> None:
    store = _RefusingStore(tmp_path / "refs.sqlite")
    registry = Registry(store)
    other = {"type": "localfs", "params": {"path": "/srv/other"}}
    assert registry.acquire({"a": TMP, "poison": LOCAL, "c": other}) == {"a": 0, "poison": 100, "c": 0}
    assert sorted(r.id for r in store.load_refs()) == ["a", "c"]
    assert sorted(r.id for r in registry.references()) == ["a", "c"]


def test_a_row_that_is_not_utf8_does_not_stop_the_load(tmp_path: Path) -> None:
    path = tmp_path / "refs.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO refs VALUES (?, ?, ?)", ("ok", "localfs:/srv/data", json.dumps(LOCAL)))
        db.execute("INSERT INTO refs VALUES (?, ?, CAST(? AS TEXT))", ("bad-info", "t", b'{"type": "\xff"}'))
        db.execute("INSERT INTO refs VALUES (CAST(? AS TEXT), ?, ?)", (b"bad-id-\xff", "t", json.dumps(LOCAL)))
    registry = Registry(Store(path))
    assert registry.load() == 2
    refs = {r.id: r for r in registry.references()}
    assert refs["ok"].error is None
    assert refs["bad-info"].error is not None and refs["bad-info"].error[0] == 1000


def test_a_store_that_fails_as_a_whole_fails_the_batch_without_retrying_each_row(tmp_path: Path) -> None:
    store = _RefusingStore(tmp_path / "refs.sqlite")
    registry = Registry(store)
    many = {f"r{i}": TMP for i in range(50)}
    assert set(registry.acquire({**many, "disk-full": LOCAL}).values()) == {100}
    assert store.writes == 0 and store.load_refs() == []


def test_listener_hears_only_first_and_last_references_of_a_target(store: Store) -> None:
    # A reference more or less to a held target changes nothing to reconcile.
    heard: list[set[str]] = []
    registry = Registry(store, on_change=heard.append)
    registry.acquire({"a": TMP})
    registry.acquire({"b": TMP})
    registry.release(["a"])
    assert len(heard) == 1
    registry.release(["b"])
    assert len(heard) == 2 and heard[0] == heard[1]


class _SlowStore(Store):
    """A store whose every write takes a while, so concurrent calls overlap inside their commits."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes = 0

    def _write_all(self, statements: Any) -> None:
        import time

        self.writes += 1
        time.sleep(0.05)
        super()._write_all(statements)


def _together(*calls: Any) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def test_concurrent_acquires_of_one_new_target_with_other_details_conflict(tmp_path: Path) -> None:
    # Pending references count for conflicts: the two cannot both be stored.
    registry = Registry(_SlowStore(tmp_path / "refs.sqlite"))
    other = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=2m"}}
    answers = _together(lambda: registry.acquire({"a": TMP}), lambda: registry.acquire({"b": other}))
    assert sorted(code for answer in answers for code in answer.values()) == [0, 490]
    assert len(registry.references()) == 1


def test_concurrent_acquires_of_one_id_store_it_once(tmp_path: Path) -> None:
    store = _SlowStore(tmp_path / "refs.sqlite")
    registry = Registry(store)
    answers = _together(*[lambda: registry.acquire({"a": TMP})] * 4)
    assert answers == [{"a": 0}] * 4
    assert [r.id for r in store.load_refs()] == ["a"]


def test_a_pending_reference_is_not_desired_until_committed(tmp_path: Path) -> None:
    import threading

    store = _SlowStore(tmp_path / "refs.sqlite")
    registry = Registry(store)
    thread = threading.Thread(target=lambda: registry.acquire({"a": TMP}))
    thread.start()
    import time

    time.sleep(0.02)  # inside the slow commit
    assert registry.desired() == {} and registry.references() == []
    assert not registry.run_if_unreferenced(next(iter(parse_key(TMP))), lambda: None)
    thread.join()
    assert len(registry.desired()) == 1


def test_concurrent_acquire_and_release_of_one_id_leave_a_consistent_store(tmp_path: Path) -> None:
    store = _SlowStore(tmp_path / "refs.sqlite")
    registry = Registry(store)
    registry.acquire({"a": TMP})
    for _ in range(5):
        _together(lambda: registry.release(["a"]), lambda: registry.acquire({"a": TMP}))
        held = {r.id for r in registry.references()}
        assert held == {r.id for r in store.load_refs()}
        fresh = Registry(store)
        fresh.load()
        assert {r.id for r in fresh.references()} == held


def test_concurrent_acquires_are_not_serialized_by_their_commits(tmp_path: Path) -> None:
    import time

    store = _SlowStore(tmp_path / "refs.sqlite")
    registry = Registry(store)
    registry.acquire({"anchor": TMP})
    started = time.monotonic()
    answers = _together(*[(lambda n=n: registry.acquire({f"r{n}": TMP})) for n in range(8)])
    took = time.monotonic() - started
    assert all(answer == {f"r{n}": 0} for n, answer in enumerate(answers))
    assert len(registry.references()) == 9
    # Eight 50 ms writes one after another under the registry's lock take 0.4 s;
    # committed outside it they overlap (and share the store's group commits).
    assert took < 0.3, took


def parse_key(info: dict[str, Any]) -> set[str]:
    from storconn.connection import parse_info

    return {parse_info(info).identity_key}
