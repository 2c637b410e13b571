"""Command locks within one process (db/locks.py); across processes: tests/integration/engine."""

from __future__ import annotations

import threading

import pytest

from storconn.engine.db import Locks, advisory_key
from storconn.engine.errors import ObjectLocked


def test_a_held_key_is_refused_at_once() -> None:
    locks = Locks()
    with locks.hold(["connection:a"]):
        with pytest.raises(ObjectLocked) as err:
            with locks.hold(["connection:a"], action="Cannot edit Storage Connection."):
                pass
    assert err.value.status == 409 and err.value.key == "ACTION_TYPE_FAILED_OBJECT_LOCKED"
    assert err.value.detail.startswith("[Cannot edit Storage Connection. ")
    assert err.value.message == "Related operation is currently in progress. Please try again later."
    assert "storage connection a" in err.value.what


def test_keys_are_free_again_after_the_block() -> None:
    locks = Locks()
    with locks.hold(["a"]):
        pass
    with locks.hold(["a"]):
        assert locks.held() == {"a"}
    assert locks.held() == set()


def test_keys_are_free_again_after_an_exception() -> None:
    locks = Locks()
    with pytest.raises(RuntimeError):
        with locks.hold(["a"]):
            raise RuntimeError
    assert locks.held() == set()


def test_all_or_nothing() -> None:
    locks = Locks()
    with locks.hold(["b"]):
        with pytest.raises(ObjectLocked):
            with locks.hold(["a", "b"]):
                pass
        assert locks.held() == {"b"}


def test_other_keys_do_not_conflict() -> None:
    locks = Locks()
    with locks.hold(["a"]), locks.hold(["b"]):
        assert locks.held() == {"a", "b"}


def test_another_thread_is_refused() -> None:
    locks = Locks()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with locks.hold(["a"]):
                pass
        except ObjectLocked as exc:
            errors.append(exc)

    with locks.hold(["a"]):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1


def test_sqlite_locks_are_in_process_only() -> None:
    assert not Locks().across_processes


def test_advisory_key_is_stable_and_signed_64_bit() -> None:
    assert advisory_key("connection:a") == advisory_key("connection:a")
    assert advisory_key("connection:a") != advisory_key("connection:b")
    assert -(2**63) <= advisory_key("x") < 2**63
