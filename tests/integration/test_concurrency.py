"""32 clients on one shared target: it is never absent while a reference is held."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from storconn.agent.system import mountinfo
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess

pytestmark = needs_root

SHARED = {"type": "posixfs", "params": {"spec": "shared", "vfsType": "tmpfs", "options": "size=4m"}}
THREADS = 32
SECONDS = 10.0


def test_shared_target_never_absent_while_held(agent_process: AgentProcess, mount_root: Path) -> None:
    with agent_process.client() as client:
        client.acquire({"anchor": SHARED})
        path = client.wait(["anchor"], timeout=10)["anchor"]["path"]
        client.release(["anchor"])

    lock = threading.Lock()
    held = 0
    zero_crossings = 0  # a watcher's sample is judged only if held stayed > 0 throughout
    stop = threading.Event()
    errors: list[str] = []
    cycles = [0] * THREADS

    def worker(n: int) -> None:
        nonlocal held, zero_crossings
        with agent_process.client() as client:
            while not stop.is_set():
                ref = f"w{n}"
                if client.acquire({ref: SHARED})[ref] != 0:
                    errors.append(f"acquire {ref} failed")
                    return
                if not client.wait([ref], timeout=10)[ref]["connected"]:
                    errors.append(f"{ref} never connected")
                    return
                with lock:
                    held += 1
                time.sleep(0.001 * (n % 5))
                with lock:
                    held -= 1
                    if held == 0:
                        zero_crossings += 1
                if client.release([ref])[ref] != 0:
                    errors.append(f"release {ref} failed")
                    return
                cycles[n] += 1

    violations = 0
    samples = 0

    def watcher() -> None:
        nonlocal violations, samples
        while not stop.is_set():
            with lock:
                before, crossings = held, zero_crossings
            present = path in mountinfo.read()
            with lock:
                steady = before > 0 and held > 0 and zero_crossings == crossings
            if steady:
                samples += 1
                if not present:
                    violations += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    watch = threading.Thread(target=watcher)
    watch.start()
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    watch.join(timeout=5)

    assert errors == []
    assert sum(cycles) > THREADS  # every client did real work
    assert samples > 100
    assert violations == 0
