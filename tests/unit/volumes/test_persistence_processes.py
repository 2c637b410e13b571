"""Several processes on one database: no lost update, ``lock()`` across processes, key file races.

``run_counter``, ``run_locked_counter`` and ``run_lock_dies_with_its_holder``
take any database URL; ``tests/integration/volumes/test_persistence_postgres.py``
runs them on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any


from storconn.volumes.errors import ConcurrentUpdate
from storconn.volumes.persistence import (
    DbPersistence,
)
from storconn.volumes.secrets import SecretBox

from .test_persistence import volume

# forkserver, with this module preloaded: each child forks from a server that
# imported it once (a spawned child would import everything again, seconds on a
# loaded machine), and inherits none of pytest's threads (a plain fork could
# copy a lock some other test's thread holds).
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])


def _make_box(path: str, queue: Any) -> None:
    queue.put(SecretBox(Path(path)).encrypt("made by a racer"))


def test_processes_creating_the_key_file_at_once_agree_on_one_key(tmp_path: Path) -> None:
    key = tmp_path / "race" / "volumes.key"
    queue = PROCESSES.Queue()
    racers = [PROCESSES.Process(target=_make_box, args=(str(key), queue)) for _ in range(6)]
    for racer in racers:
        racer.start()
    tokens = [queue.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(30)
    box = SecretBox(key)
    assert [box.decrypt(t, what="a token") for t in tokens] == ["made by a racer"] * 6
    assert [p.name for p in key.parent.iterdir()] == ["volumes.key"]  # no temporary left


# -- several processes on one database --------------------------------------


def _count_up(url: str, key_file: str, volume_id: str, times: int, start: Any, queue: Any) -> None:
    """A controller: open the database at the same moment as the others, then count up."""
    start.wait(30)
    store = DbPersistence(url, key_file=key_file)
    try:
        try:
            store.set_volume(volume(id=volume_id, extra={"count": 0}))
        except ConcurrentUpdate:
            pass  # another controller created it first
        conflicts = 0
        for _ in range(times):
            while True:
                (record,) = store.get_volumes(volume_id=volume_id)
                record.extra["count"] += 1
                try:
                    store.set_volume(record)
                    break
                except ConcurrentUpdate:
                    conflicts += 1
        queue.put(conflicts)
    except BaseException as exc:
        queue.put(repr(exc))
        raise
    finally:
        store.close()


def _open(url: str, key_file: str, start: Any, queue: Any) -> None:
    start.wait(30)
    try:
        DbPersistence(url, key_file=key_file).close()
        queue.put("opened")
    except Exception as exc:  # reported to the test, which names it
        queue.put(repr(exc)[:300])


def run_openers(urls: list[str], key_file: Path, *, processes: int) -> list[str]:
    """For each fresh database: ``processes`` controllers open it at once; every failure seen."""
    SecretBox(key_file)  # one key for all, made before the race
    failures: list[str] = []
    for url in urls:
        start = PROCESSES.Barrier(processes)
        queue = PROCESSES.Queue()
        workers = [PROCESSES.Process(target=_open, args=(url, str(key_file), start, queue))
                   for _ in range(processes)]
        for worker in workers:
            worker.start()
        failures += [r for r in (queue.get(timeout=120) for _ in workers) if r != "opened"]
        for worker in workers:
            worker.join(30)
    return failures


def run_counter(url: str, key_file: Path, *, processes: int, times: int) -> int:
    """``processes`` controllers each add 1 ``times`` times; returns the conflicts they met."""
    volume_id = f"counter-{uuid.uuid4().hex[:8]}"
    start = PROCESSES.Barrier(processes)
    queue = PROCESSES.Queue()
    workers = [
        PROCESSES.Process(
            target=_count_up, args=(url, str(key_file), volume_id, times, start, queue)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert all(isinstance(r, int) for r in results), results
    store = DbPersistence(url, key_file=key_file)
    try:
        (record,) = store.get_volumes(volume_id=volume_id)
    finally:
        store.close()
    assert record.extra["count"] == processes * times
    assert record.version == processes * times + 1
    return sum(results)


def _locked_count(
    url: str, key_file: str, counter: str, times: int, start: Any, queue: Any
) -> None:
    """Read-modify-write of a plain file, safe only if ``lock`` excludes the other processes."""
    store = DbPersistence(url, key_file=key_file)
    overlaps = 0
    try:
        start.wait(30)
        for _ in range(times):
            with store.lock("the-counter"):
                try:
                    marker = os.open(counter + ".inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                    os.close(marker)
                except FileExistsError:
                    overlaps += 1
                value = int(Path(counter).read_text())
                time.sleep(0.0005)
                Path(counter).write_text(str(value + 1))
                try:
                    os.unlink(counter + ".inside")
                except FileNotFoundError:
                    overlaps += 1
        queue.put(overlaps)
    except BaseException as exc:
        queue.put(repr(exc))
        raise
    finally:
        store.close()


def run_locked_counter(
    url: str, key_file: Path, counter: Path, *, processes: int, times: int
) -> None:
    """``lock()`` is mutual exclusion across processes: no overlap, no lost increment."""
    DbPersistence(url, key_file=key_file).close()  # migrate once, so the race is on the lock
    counter.write_text("0")
    start = PROCESSES.Barrier(processes)
    queue = PROCESSES.Queue()
    workers = [
        PROCESSES.Process(
            target=_locked_count, args=(url, str(key_file), str(counter), times, start, queue)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert results == [0] * processes
    assert int(counter.read_text()) == processes * times


def test_controllers_on_one_sqlite_file_never_lose_an_update(tmp_path: Path) -> None:
    conflicts = run_counter(
        f"sqlite:///{tmp_path}/shared.db", tmp_path / "key", processes=4, times=25
    )
    print(f"optimistic retries: {conflicts}")


def test_lock_excludes_other_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    run_locked_counter(
        f"sqlite:///{tmp_path}/shared.db",
        tmp_path / "key",
        tmp_path / "counter",
        processes=3,
        times=30,
    )


def _hold_forever(url: str, key_file: str, holding: Any) -> None:
    store = DbPersistence(url, key_file=key_file)
    with store.lock("volume-1"):
        holding.set()
        time.sleep(120)  # until killed


def run_lock_dies_with_its_holder(url: str, key_file: Path) -> None:
    """A controller killed while it holds a lock does not keep it: the next one gets it."""
    DbPersistence(url, key_file=key_file).close()
    holding = PROCESSES.Event()
    holder = PROCESSES.Process(target=_hold_forever, args=(url, str(key_file), holding))
    holder.start()
    store = DbPersistence(url, key_file=key_file)
    try:
        assert holding.wait(60)
        got = threading.Event()

        def take() -> None:
            with store.lock("volume-1"):
                got.set()

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert not got.wait(0.3), "the lock was taken while another process held it"
        holder.kill()
        holder.join(30)
        assert got.wait(30), "the lock outlived the process that held it"
        waiter.join(5)
    finally:
        if holder.is_alive():
            holder.kill()
        store.close()


def test_a_killed_holder_releases_its_lock_on_a_sqlite_file(tmp_path: Path) -> None:
    run_lock_dies_with_its_holder(f"sqlite:///{tmp_path}/shared.db", tmp_path / "key")
