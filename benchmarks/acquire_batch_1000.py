"""acquire_batch_1000: one acquire of 1,000 references, against the work it cannot avoid.

A batch needs each entry validated (``parse_info``) and all rows committed
in one fsync'd transaction; that is the limit. Its one fsync is shared by
1,000 rows, so here the per-entry work shows: identity, conflict checks,
canonical JSON and the registry may cost up to 3× the bare minimum.

The Agent is built in process and not started (no reconciler), as in
acquire_one; every batch has fresh ids and paths, so all 1,000 are new.
"""

from __future__ import annotations

from typing import Any

from storconn.agent import Agent, AgentConfig
from storconn.connection import parse_info

from .report import Row
from .timing import interleave
from .workspace import BareStore, Workspace, as_row, localfs

NAME = "acquire_batch_1000"
DESCRIPTION = "one acquire of 1,000 references vs one bare commit of 1,000 rows + parse_info of each entry"
TARGET = 3.0
BATCH = 1000
ROUNDS = 30
WARMUP = 3


def run(work: Workspace) -> list[Row]:
    bare = BareStore(work.dir("bare") / "bare.sqlite")
    agent = Agent(AgentConfig(state_dir=work.dir("inproc", "state"), mount_root=work.dir("inproc", "mnt")))
    missing = work.root / "not-created"

    # Batches are built before timing: the caller pays for building them, not the agent.
    def batch(n: int) -> dict[str, dict[str, Any]]:
        return {f"b{n}-{i}": localfs(missing / f"{n}-{i}") for i in range(BATCH)}

    agent_batches = {n: batch(n) for n in range(-WARMUP, ROUNDS)}
    bare_batches = {n: batch(n) for n in range(-WARMUP, ROUNDS)}
    # The limit writes the same rows, serialized in advance: only the commit is timed.
    bare_rows = {n: [as_row(k, v) for k, v in b.items()] for n, b in bare_batches.items()}

    def bare_work(n: int) -> None:
        for info in bare_batches[n].values():
            parse_info(info)
        bare.insert(bare_rows[n])

    def acquire(n: int) -> None:
        answer = agent.acquire(agent_batches[n])
        refused = [code for code in answer.values() if code != 0]
        if len(answer) != BATCH or refused:
            raise RuntimeError(f"batch acquire: {len(refused)} refused, e.g. code {refused[:1]}")

    try:
        samples = interleave(ROUNDS, {"bare": bare_work, "agent": acquire}, warmup=WARMUP)
    finally:
        agent.stop()
        bare.close()

    agent_s, bare_s = samples["agent"], samples["bare"]
    ms = 1000.0
    return [
        Row(
            NAME,
            agent_s.median * ms,
            bare_s.median * ms,
            "ms",
            target=TARGET,
            note=(
                f"Agent.acquire of {BATCH} vs parse_info ×{BATCH} + one bare commit of {BATCH} rows, "
                f"medians of {ROUNDS}; p99 {agent_s.p99 * ms:.3g} vs {bare_s.p99 * ms:.3g} ms"
            ),
        )
    ]
