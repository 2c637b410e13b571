from __future__ import annotations

import random
from pathlib import Path

import pytest

from storconn.agent.reconciler import Reconciler, ReconcilerConfig
from storconn.agent.refs import Registry
from storconn.agent.store import Store
from storconn.connection import ErrorCode, StorconnError

from .fakes import FakeClock, FakeConnector, FakeKernel, InlineExecutor

TMP = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs"}}


def _view(reconciler: Reconciler, registry: Registry, ref_id: str):  # type: ignore[no-untyped-def]
    (ref,) = registry.references([ref_id])
    return reconciler.view(ref.target)


def test_acquire_then_tick_connects_once(registry: Registry, reconciler: Reconciler, connector: FakeConnector) -> None:
    registry.acquire({"a": TMP, "b": TMP})
    reconciler.tick()
    reconciler.tick()
    assert connector.count("connect") == 1
    assert _view(reconciler, registry, "a").connected


def test_ownership_is_recorded_before_connecting(registry: Registry, reconciler: Reconciler, store: Store, connector: FakeConnector) -> None:
    seen: list[int] = []
    original = connector.connect
    connector.connect = lambda info, path: (seen.append(len(store.load_ownership())), original(info, path))[1]  # type: ignore[method-assign]
    registry.acquire({"a": TMP})
    reconciler.tick()
    assert seen == [1]


def test_last_release_disconnects_after_grace(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, clock: FakeClock, store: Store) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    registry.release(["a"])
    reconciler.tick()
    clock.advance(1.0)
    reconciler.tick()
    assert connector.count("disconnect") == 0
    clock.advance(1.5)
    reconciler.tick()
    assert connector.count("disconnect") == 1
    assert kernel.mounts == {}
    assert store.load_ownership() == []


def test_new_acquire_within_grace_cancels_disconnect(registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    registry.release(["a"])
    reconciler.tick()
    clock.advance(1.0)
    registry.acquire({"b": TMP})
    reconciler.tick()
    clock.advance(5.0)
    reconciler.tick()
    assert connector.count("disconnect") == 0
    assert connector.count("connect") == 1


def test_release_of_one_of_two_keeps_the_target(registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock) -> None:
    registry.acquire({"a": TMP, "b": TMP})
    reconciler.tick()
    registry.release(["a"])
    clock.advance(10)
    reconciler.tick()
    assert connector.count("disconnect") == 0
    assert _view(reconciler, registry, "b").connected


def test_foreign_mount_is_used_and_never_unmounted(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, clock: FakeClock) -> None:
    registry.acquire({"a": TMP})
    (ref,) = registry.references()
    path = connector.path(registry.desired()[ref.target])
    kernel.mount(path)  # someone else was first
    reconciler.tick()
    assert _view(reconciler, registry, "a").connected
    registry.release(["a"])
    clock.advance(10)
    reconciler.tick()
    reconciler.tick()
    assert connector.calls == []
    assert path in kernel.mounts


def test_failed_connect_backs_off_exponentially(registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock) -> None:
    connector.fail_connect = StorconnError("no route", code=ErrorCode.MOUNT_ERROR)
    registry.acquire({"a": TMP})
    attempts_at: list[float] = []
    for _ in range(400):
        before = connector.count("connect")
        reconciler.tick()
        if connector.count("connect") > before:
            attempts_at.append(clock.now)
        clock.advance(0.1)
    gaps = [b - a for a, b in zip(attempts_at, attempts_at[1:])]
    assert gaps[0] < gaps[2] <= 8.0 + 0.2  # grows, and is capped
    assert max(gaps) <= 8.2
    view = _view(reconciler, registry, "a")
    assert not view.connected and view.error == (ErrorCode.MOUNT_ERROR, "no route")


def test_recovery_after_failures_clears_the_error(registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock) -> None:
    connector.fail_connect = StorconnError("down", code=ErrorCode.MOUNT_ERROR)
    registry.acquire({"a": TMP})
    reconciler.tick()
    connector.fail_connect = None
    clock.advance(10)
    reconciler.tick()
    view = _view(reconciler, registry, "a")
    assert view.connected and view.error == (0, "")


def test_vanished_mount_is_mounted_again_at_once(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    kernel.mounts.clear()  # an unmount by hand, or a FUSE daemon that exited
    reconciler.tick()
    assert connector.count("connect") == 2
    assert _view(reconciler, registry, "a").connected


def test_busy_target_stays_and_is_retried_at_the_tick_period(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, clock: FakeClock, store: Store) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    (path,) = kernel.mounts
    connector.busy.add(path)
    registry.release(["a"])
    reconciler.tick()  # the agent wakes at once on a release: the grace starts here
    clock.advance(3)
    reconciler.tick()
    reconciler.tick()  # the same instant: not again
    assert connector.count("disconnect") == 1
    assert path in kernel.mounts and len(store.load_ownership()) == 1
    clock.advance(1.0)  # one period
    reconciler.tick()
    assert connector.count("disconnect") == 2
    connector.busy.clear()
    clock.advance(2.0)
    reconciler.tick()
    assert kernel.mounts == {}


def test_busy_retries_back_off_instead_of_looping(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, clock: FakeClock) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    (path,) = kernel.mounts
    connector.busy.add(path)
    registry.release(["a"])
    reconciler.tick()
    clock.advance(2.0)
    # The loop polls every 50 ms while anything is in flight: 30 s of it.
    for _ in range(600):
        reconciler.tick()
        clock.advance(0.05)
    # 1, 2, 4, 8, then every 10 s: a handful, not 600.
    assert 4 <= connector.count("disconnect") <= 8
    assert path in kernel.mounts


def test_busy_target_is_adopted_by_a_new_acquire(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, clock: FakeClock) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    (path,) = kernel.mounts
    connector.busy.add(path)
    registry.release(["a"])
    reconciler.tick()
    clock.advance(3)
    reconciler.tick()
    assert connector.count("disconnect") == 1
    registry.acquire({"b": TMP})
    connector.busy.clear()
    clock.advance(10)
    reconciler.tick()
    assert path in kernel.mounts
    assert _view(reconciler, registry, "b").connected


def test_restart_adopts_owned_mounts_and_cleans_orphans(tmp_path: Path, kernel: FakeKernel, connector: FakeConnector, clock: FakeClock) -> None:
    def build() -> tuple[Store, Registry, Reconciler]:
        store = Store(tmp_path / "refs.sqlite")
        registry = Registry(store)
        registry.load()
        rec = Reconciler(registry, store, {"posixfs": connector}, config=ReconcilerConfig(grace=0),
                         clock=clock, executor=InlineExecutor(), read_mounts=kernel.read, rng=random.Random(1))
        rec.restore_ownership()
        return store, registry, rec

    store, registry, rec = build()
    other = {"type": "posixfs", "params": {"spec": "other", "vfsType": "tmpfs"}}
    registry.acquire({"keep": TMP, "drop": other})
    rec.tick()
    assert len(kernel.mounts) == 2
    store.close()
    # The agent dies; while it is down, one reference goes (as if the release
    # were the last thing it committed) and nothing else changes.
    store, registry, rec = build()
    registry.release(["drop"])
    rec.tick()
    rec.tick()
    assert connector.count("connect") == 2  # adopted, not mounted again
    assert len(kernel.mounts) == 1
    assert _view(rec, registry, "keep").connected


@pytest.mark.parametrize("by_tick", [False, True], ids=["checked-by-the-operation", "checked-by-the-tick"])
def test_connect_that_mounts_nothing_is_a_failure_with_backoff(
    registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock, by_tick: bool
) -> None:
    connector.vanish = True  # the helper exits 0 and nothing is mounted
    connector.confirmed_by_tick = by_tick  # mount connectors leave the check to the next tick
    registry.acquire({"a": TMP})
    for _ in range(100):  # 5 s of the loop's brisk polling
        reconciler.tick()
        clock.advance(0.05)
    view = _view(reconciler, registry, "a")
    assert not view.connected and view.path is None
    assert view.error[0] == ErrorCode.MOUNT_ERROR and "mount table shows nothing" in view.error[1]
    assert connector.count("connect") <= 6  # 1, 2, 4, 8 s apart: not 20 a second


def test_path_is_reported_only_while_connected(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel) -> None:
    registry.acquire({"a": TMP})
    reconciler.tick()
    assert _view(reconciler, registry, "a").path is not None
    connector.fail_connect = StorconnError("down", code=ErrorCode.MOUNT_ERROR)
    kernel.mounts.clear()
    reconciler.tick()
    assert _view(reconciler, registry, "a").path is None


def test_details_change_waits_for_the_grace_then_reconnects(registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock, store: Store) -> None:
    one = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=1m"}}
    two = {"type": "posixfs", "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=2m"}}
    registry.acquire({"a": one})
    reconciler.tick()
    registry.release(["a"])
    registry.acquire({"b": two})
    reconciler.tick()
    assert connector.count("disconnect") == 0
    assert not _view(reconciler, registry, "b").connected  # not with the old details
    clock.advance(2.5)
    reconciler.tick()
    reconciler.tick()
    assert [verb for verb, _ in connector.calls] == ["connect", "disconnect", "connect"]
    assert _view(reconciler, registry, "b").connected
    (record,) = store.load_ownership()
    assert "size=2m" in record.info_json


def test_a_record_from_another_boot_is_not_ownership(tmp_path: Path, kernel: FakeKernel, connector: FakeConnector, clock: FakeClock) -> None:
    from storconn.agent.store import StoredOwnership

    store = Store(tmp_path / "refs.sqlite")
    registry = Registry(store)
    registry.acquire({"a": TMP})
    (ref,) = registry.references()
    path = connector.path(registry.desired()[ref.target])
    store.own(StoredOwnership(ref.target, "{}", path, mount_id=1, boot_id="an-earlier-boot"))
    kernel.mount(path)  # someone else's, after the reboot
    rec = Reconciler(registry, store, {"posixfs": connector}, config=ReconcilerConfig(grace=0),
                     clock=clock, executor=InlineExecutor(), read_mounts=kernel.read,
                     read_stack=kernel.stack, rng=random.Random(1))
    rec.restore_ownership()
    assert store.load_ownership() == []
    rec.tick()
    registry.release(["a"])
    clock.advance(1)
    rec.tick()
    rec.tick()
    assert connector.calls == [] and path in kernel.mounts


def test_a_mount_that_completes_after_its_timeout_is_kept_not_stacked(registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, store: Store) -> None:
    original = connector.connect

    def late(info, path):  # type: ignore[no-untyped-def]
        original(info, path)  # the kernel finished the mount...
        raise StorconnError("mount did not finish within 30 s", code=ErrorCode.TIMEOUT)  # ...after mount(8) was killed

    connector.connect = late  # type: ignore[method-assign]
    registry.acquire({"a": TMP})
    reconciler.tick()
    reconciler.tick()
    assert connector.count("connect") == 1
    assert _view(reconciler, registry, "a").connected
    (path,) = kernel.mounts
    (record,) = store.load_ownership()
    assert record.mount_id == kernel.mounts[path].mount_id


def test_listeners_hear_of_changes_outside_the_lock(registry: Registry, reconciler: Reconciler) -> None:
    heard: list[bool] = []
    # A listener that takes the reconciler's lock itself would deadlock if called under it.
    reconciler.add_listener(lambda: heard.append(reconciler.view("nothing") is None))
    registry.acquire({"a": TMP})
    reconciler.tick()
    assert heard and all(heard)


def test_a_mount_confirmed_by_the_tick_is_connected_and_recorded_as_the_agents_own(
    registry: Registry, reconciler: Reconciler, connector: FakeConnector, kernel: FakeKernel, store: Store
) -> None:
    connector.confirmed_by_tick = True
    registry.acquire({"a": TMP})
    reconciler.tick()  # claims and mounts; the check waits for the next look at the table
    reconciler.tick()
    assert _view(reconciler, registry, "a").connected
    reconciler.tick()  # writes the mount id with the tick's other records
    (record,) = store.load_ownership()
    assert record.mount_id is not None


def test_probes_start_without_holding_the_lock_that_status_readers_take(
    registry: Registry, reconciler: Reconciler, connector: FakeConnector, clock: FakeClock
) -> None:
    """A thousand targets are a thousand forks a probe interval: readers must not wait behind them."""
    import threading

    registry.acquire({"a": TMP})
    reconciler.tick()  # connected
    connector.probe_command = lambda path: ["true"]  # type: ignore[method-assign]
    reader_waited: list[float] = []
    started = threading.Event()

    def slow_start(key: str, argv: object, path: str) -> None:
        started.set()
        import time

        begun = time.monotonic()
        reader = threading.Thread(target=lambda: (reconciler.views(), reader_waited.append(time.monotonic() - begun)))
        reader.start()
        reader.join(timeout=5)  # a reader blocked on the lock would never finish while we hold the tick

    reconciler._prober.start = slow_start  # type: ignore[method-assign]
    clock.advance(60)  # every probe due
    reconciler.tick()
    assert started.is_set(), "the connected target was not probed"
    assert reader_waited and reader_waited[0] < 1.0, "a status read waited for the probes to be forked"
