from __future__ import annotations

from pathlib import Path

import pytest

from storconn.agent.refs import Registry
from storconn.agent.store import Store

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


@pytest.mark.parametrize("bad_id", ["", "a/b", "x" * 256, "unmanaged:1"])
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
