"""What the outage benchmarks share: watching one reference through ``statuses``, and their rows.

A client sees an outage only through ``ConnectionRefs.statuses``, so that is
what is timed: the reference is polled over HTTP every 20 ms, and an
instant is when the first answer saying so arrived (an upper bound by up to
one poll and one request).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storconn.agent import AgentClient, ReconcilerConfig

from .report import Row
from .timing import wait_until
from .workspace import mounts_under

POLL = 0.02  # seconds between statuses calls while an outage is watched

# The agent as it ships (benchmarks run it with its defaults).
DEFAULTS = ReconcilerConfig()
DETECTION_LIMIT = DEFAULTS.probe_interval + DEFAULTS.probe_timeout  # 4 s: docs/agent.md's budget
DETECTION_TARGET = 1.25  # the budget: 5 s, i.e. 1.25 × 4 s
RECOVERY_LIMIT = DEFAULTS.backoff_cap  # 1.5 s
RECOVERY_TARGET = 1.0


def watch(
    client: AgentClient, ref_id: str, *, connected: bool, since: float, timeout: float
) -> tuple[float, dict[str, Any]]:
    """Poll until the reference's ``connected`` is ``connected``; (seconds from ``since``, that status).

    ``since`` is a ``time.perf_counter()`` reading.
    """
    deadline = since + timeout
    while True:
        status = client.statuses([ref_id])[ref_id]
        arrived = time.perf_counter()
        if status["connected"] is connected:
            return arrived - since, status
        if arrived > deadline:
            state = "connected" if connected else "disconnected"
            raise RuntimeError(f"{ref_id} not {state} within {timeout:g} s; last status {status}")
        time.sleep(POLL)


@dataclass(slots=True)
class Outages:
    """Detections and recoveries of one benchmark's rounds, with what the agent said."""

    detection: list[float] = field(default_factory=list)
    recovery: list[float] = field(default_factory=list)
    errors: Counter[int] = field(default_factory=Counter)  # lastError code at detection
    remounted: int = 0  # recoveries through a new FUSE daemon (the agent mounted again)
    server_back: list[float] = field(default_factory=list)  # seconds the server took to come back


def rows(name: str, outages: Outages, *, what_down: str, what_up: str) -> list[Row]:
    """Median and worst of detection and recovery, each against its budget."""
    rounds = len(outages.detection)
    codes = ", ".join(f"{code} ×{n}" for code, n in sorted(outages.errors.items()))
    detect_note = (
        f"{what_down} → statuses says connected: false, {rounds} rounds; limit = probe interval "
        f"{DEFAULTS.probe_interval:g} s + probe timeout {DEFAULTS.probe_timeout:g} s, target = the issue's 5 s; "
        f"lastError at detection: {codes}"
    )
    recover_note = (
        f"{what_up} → connected: true, {rounds} rounds; limit = backoff cap {DEFAULTS.backoff_cap:g} s; "
        f"{outages.remounted} of {rounds} through a new mount, {rounds - outages.remounted} reconnected in place; "
        f"the server took {statistics.median(outages.server_back):.3g} s (median) to come back, not counted"
    )
    detection, recovery = outages.detection, outages.recovery
    return [
        Row(f"{name} (detection, median)", statistics.median(detection), DETECTION_LIMIT, "s",
            target=DETECTION_TARGET, note=detect_note + f"; range {min(detection):.3g}–{max(detection):.3g} s"),
        Row(f"{name} (detection, worst)", max(detection), DETECTION_LIMIT, "s", target=DETECTION_TARGET,
            note=f"the slowest of the {rounds} detections"),
        Row(f"{name} (recovery, median)", statistics.median(recovery), RECOVERY_LIMIT, "s",
            target=RECOVERY_TARGET, note=recover_note + f"; range {min(recovery):.3g}–{max(recovery):.3g} s"),
        Row(f"{name} (recovery, worst)", max(recovery), RECOVERY_LIMIT, "s", target=RECOVERY_TARGET,
            note=f"the slowest of the {rounds} recoveries"),
    ]


def skipped(name: str, reason: str) -> list[Row]:
    return [Row(name, None, None, "s", target=DETECTION_TARGET, skipped=reason)]


def fuse_daemons(marker: str, program: bytes) -> list[int]:
    """Pids of ``program`` (sshfs, glusterfs) whose command line mentions ``marker`` (a mount point)."""
    found: list[int] = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(program) and any(needle in arg for arg in argv):
            found.append(int(entry.name))
    return found


def release_and_unmount(client: AgentClient, ref_ids: list[str], mount_root: Path) -> None:
    """Release the references and wait (up to 30 s) for the agent to unmount after its grace period."""
    client.release(ref_ids)
    try:
        wait_until(lambda: not mounts_under(mount_root), timeout=30, what="agent unmounting", interval=0.1)
    except RuntimeError:
        pass  # the workspace unmounts lazily whatever is left


def kill_leftover_daemons(root: Path, program: bytes) -> None:
    """SIGKILL FUSE daemons this benchmark's agent started (their mount point is under ``root``)."""
    for pid in fuse_daemons(str(root) + "/", program):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
