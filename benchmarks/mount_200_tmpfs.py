"""mount_200_tmpfs: 200 real mounts from one batch acquire, against 200 raw ``mount`` calls.

A tmpfs mount costs the kernel almost nothing, so this measures what the
agent spends around each mount: deciding, recording ownership durably,
re-reading the mount table, running ``mount`` with a timeout, reporting. The
limit runs the same 200 ``mount -t tmpfs`` commands with the same
parallelism as the agent's pool; 1.5× that leaves room for the bookkeeping.

The agent runs with its default timings; the figure runs from the acquire
call until ``wait`` reports all 200 connected. Between rounds everything is
released and the agent unmounts it (untimed), and the raw mounts are
unmounted the same way, so every round starts from an empty mount root.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from storconn.agent import AgentClient, ReconcilerConfig

from .report import Row
from .timing import wait_until
from .workspace import Workspace, mounts_under, tmpfs

NAME = "mount_200_tmpfs"
DESCRIPTION = "200 tmpfs posixfs targets from one batch acquire to all connected vs 200 raw mount calls"
TARGET = 1.5
COUNT = 200
ROUNDS = 5
# The agent is started with the default pool size; the limit uses as many threads.
POOL_SIZE = ReconcilerConfig().pool_size
COMMAND_TIMEOUT = 60.0


def run(work: Workspace) -> list[Row]:
    if os.geteuid() != 0:
        return [_skipped("needs root: it makes real mounts")]
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return [_skipped("mount(8) is not installed")]

    process = work.agent()
    agent_times: list[float] = []
    raw_times: list[float] = []
    with process.client() as client, ThreadPoolExecutor(POOL_SIZE) as pool:
        for number in range(ROUNDS):
            # Alternate which goes first, so neither always runs on a warmer machine.
            if number % 2 == 0:
                agent_times.append(_agent_round(client, process.mount_root, number))
                raw_times.append(_raw_round(work, pool, number))
            else:
                raw_times.append(_raw_round(work, pool, number))
                agent_times.append(_agent_round(client, process.mount_root, number))

    figure = statistics.median(agent_times)
    limit = statistics.median(raw_times)
    return [
        Row(
            NAME,
            figure,
            limit,
            "s",
            target=TARGET,
            note=(
                f"acquire of {COUNT} → wait says all connected, vs {COUNT} `mount -t tmpfs` "
                f"on {POOL_SIZE} threads; medians of {ROUNDS} "
                f"(ranges {min(agent_times):.3g}–{max(agent_times):.3g} vs "
                f"{min(raw_times):.3g}–{max(raw_times):.3g} s)"
            ),
        )
    ]


def _agent_round(client: AgentClient, mount_root: Path, number: int) -> float:
    prefix = f"round{number}:"
    ids = [f"{prefix}bench-{n}" for n in range(1, COUNT + 1)]
    batch = {ref_id: tmpfs(f"bench-{n}") for n, ref_id in enumerate(ids, start=1)}

    started = time.perf_counter()
    answer = client.acquire(batch)
    if any(code != 0 for code in answer.values()):
        raise RuntimeError(f"acquire refused: {sorted(set(answer.values()))}")
    statuses = client.wait(ids, timeout=120)
    seconds = time.perf_counter() - started

    failed = {ref_id: s["lastError"] for ref_id, s in statuses.items() if not s["connected"]}
    if failed:
        raise RuntimeError(f"{len(failed)} of {COUNT} not connected, e.g. {next(iter(failed.items()))}")

    # Untimed: release all, and wait for the agent to unmount (after its grace period).
    client.release(prefixes=[prefix])
    try:
        wait_until(
            lambda: not mounts_under(mount_root), timeout=60, what="agent unmounting", interval=0.1
        )
    except RuntimeError as exc:
        # Say what the agent saw: which mounts stayed and what it logged.
        left = sorted(mounts_under(mount_root))[:3]
        unmanaged = {i: s["lastError"] for i, s in client.statuses().items() if i.startswith("unmanaged:")}
        raise RuntimeError(f"{exc}; left {left}; unmanaged {list(unmanaged.items())[:3]}") from exc
    return seconds


def _raw_round(work: Workspace, pool: ThreadPoolExecutor, number: int) -> float:
    points = [work.dir("raw", str(number), f"bench-{n}") for n in range(1, COUNT + 1)]

    def mount(n: int) -> subprocess.CompletedProcess[bytes]:
        argv = ["mount", "-t", "tmpfs", "-o", "size=1m", f"bench-{n}", str(points[n - 1])]
        return subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT, check=False)

    started = time.perf_counter()
    results = list(pool.map(mount, range(1, COUNT + 1)))
    seconds = time.perf_counter() - started

    bad = [r for r in results if r.returncode != 0]
    for point in points:
        pool.submit(subprocess.run, ["umount", str(point)], capture_output=True, timeout=COMMAND_TIMEOUT)
    wait_until(
        lambda: not mounts_under(work.root / "raw"), timeout=60, what="raw unmounting", interval=0.1
    )
    if bad:
        raise RuntimeError(f"{len(bad)} raw mounts failed: {bad[0].stderr.decode(errors='replace')}")
    return seconds


def _skipped(reason: str) -> Row:
    return Row(NAME, None, None, "s", target=TARGET, skipped=reason)
