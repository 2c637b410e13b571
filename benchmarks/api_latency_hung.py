"""api_latency_hung: ``statuses`` of 1,000 references while one of their servers hangs.

A hung storage server must never slow the API down: probes run in child
processes that the agent polls, and mounts in a pool. One agent process with
its default timings holds 1,000 references: 999 ``localfs`` ones over 4 real
directories and one ``fuse.sshfs`` reference to a real sshd on 127.0.0.1.
Once all are connected, windows of two kinds alternate (3 of each, which
goes first rotating), so that a burst of noise from a neighbour lands on
both kinds rather than on one:

- **baseline**: ``statuses`` (all 1,000 references) called back to back over
  HTTP for 6 s, nothing hung;
- **hung**: the sshd and its sessions SIGSTOPped (``SshServer.pause``: a hung
  server, not a dead one: TCP still accepts, nothing answers), and the same
  calls back to back for 6 s, while the agent's probes of that target time
  out and it tries to mount it again; then SIGCONT, and the next window
  starts once the reference is connected again.

The figure is the p99 of the hung calls against the issue's 100 ms; the
second row compares the hung median with the baseline median of the same
run. The server is resumed afterwards and the reference must connect again.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from storconn.agent import AgentClient
from tests.peers import sshd

from . import outages
from .report import Row
from .timing import Samples, interleave, wait_until
from .workspace import Workspace, localfs

NAME = "api_latency_hung"
DESCRIPTION = "statuses of 1,000 references while their sshfs server is SIGSTOPped: p99 (100 ms), vs nothing hung"
REFERENCES = 1_000
DIRECTORIES = 4
# Seconds of back-to-back calls in one window: long enough that a hung window
# covers the probe timing out (≤ 4 s) and the agent's repair attempts after it.
WINDOW = 6.0
WINDOWS = 3  # of each kind, alternating
LIMIT_MS = 100.0
REF = "ssh"


def run(work: Workspace) -> list[Row]:
    if os.geteuid() != 0:
        return [_skipped("needs root: sshd and FUSE mounts")]
    reason = sshd.available()
    if reason:
        return [_skipped(reason)]

    server = sshd.SshServer(work.dir("sshd"))
    remote = work.dir("remote")
    server.start()
    process = work.agent()  # default timings
    paused = False
    try:
        with process.client() as client:
            batch: dict[str, Any] = {
                f"local-{n:04d}": localfs(work.dir("targets", str(n % DIRECTORIES)))
                for n in range(REFERENCES - 1)
            }
            batch[REF] = {
                "type": "posixfs",
                "params": {"spec": f"root@127.0.0.1:{remote}", "vfsType": "fuse.sshfs",
                           "options": server.sshfs_options()},
            }
            answer = client.acquire(batch)
            if any(code != 0 for code in answer.values()):
                raise RuntimeError(f"acquire refused: {Counter(answer.values())}")
            ids = list(batch)
            statuses = client.wait(ids, timeout=60)
            down = [ref_id for ref_id, status in statuses.items() if not status["connected"]]
            if down:
                raise RuntimeError(f"{len(down)} references not connected, e.g. {statuses[down[0]]}")

            _calls(client, 1.0)  # warm-up: first calls pay for lazy imports and a cold cache
            baseline, hung, errors = Samples(), Samples(), Counter[int]()

            def calm(_: int) -> None:
                baseline.values.extend(_calls(client, WINDOW)[0].values)

            def stopped(_: int) -> None:
                nonlocal paused
                server.pause()
                paused = True
                samples, seen = _calls(client, WINDOW)
                server.resume()
                paused = False
                hung.values.extend(samples.values)
                errors.update(seen)
                wait_until(lambda: client.statuses([REF])[REF]["connected"], timeout=60,
                           what="the sshfs reference connected again after resume", interval=0.1)

            interleave(WINDOWS, {"baseline": calm, "hung": stopped})
            outages.release_and_unmount(client, ids, process.mount_root)
    finally:
        if paused:
            server.resume()
        process.stop()
        server.stop()
        outages.kill_leftover_daemons(work.root, b"sshfs")

    ms = 1000.0
    seen = ", ".join(f"{code} ×{n}" for code, n in sorted(errors.items())) or "none"
    return [
        Row(
            f"{NAME} (p99)",
            hung.p99 * ms,
            LIMIT_MS,
            "ms",
            target=1.0,
            note=(
                f"{len(hung)} statuses calls back to back in {WINDOWS} windows of {WINDOW:g} s with the sshd SIGSTOPped; "
                f"median {hung.median * ms:.3g} ms, max {max(hung.values) * ms:.3g} ms; "
                f"the sshfs reference's lastError meanwhile (calls): {seen}"
            ),
        ),
        Row(
            f"{NAME} (vs nothing hung)",
            hung.median * ms,
            baseline.median * ms,
            "ms",
            note=(
                f"median while hung vs median of {len(baseline)} calls in {WINDOWS} windows of {WINDOW:g} s "
                    f"interleaved with the hung ones, nothing hung "
                f"(p99 {hung.p99 * ms:.3g} vs {baseline.p99 * ms:.3g} ms)"
            ),
        ),
    ]


def _calls(client: AgentClient, window: float) -> tuple[Samples, Counter[int]]:
    """``statuses`` of everything, back to back for ``window`` seconds; the sshfs reference's errors seen."""
    samples = Samples()
    errors: Counter[int] = Counter()
    deadline = time.perf_counter() + window
    while True:
        started = time.perf_counter()
        answer = client.statuses()
        finished = time.perf_counter()
        samples.add(finished - started)
        if sum(1 for status in answer.values() if status["managed"]) != REFERENCES:
            raise RuntimeError(f"statuses answered {len(answer)} entries, not {REFERENCES}")
        errors[answer[REF]["lastError"][0]] += 1
        if finished >= deadline:
            return samples, errors


def _skipped(reason: str) -> Row:
    return Row(NAME, None, None, "ms", target=1.0, skipped=reason)
