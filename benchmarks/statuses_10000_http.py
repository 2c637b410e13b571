"""statuses_10000_http: ``ConnectionRefs.statuses`` of 10,000 references over HTTP, payload included.

The answer has to be built, encoded, sent and decoded; the limit is encoding
the very same payload once with ``json.dumps``. Decoding on the client costs
about as much again and the server builds the dicts before it encodes
them, so 3× that single encoding leaves room for HTTP and nothing wasteful.

The references point at a handful of real directories, so the running agent
has 5 targets to keep connected; timing starts once all are connected, so
the payload is the steady one (``connected: true`` and a path in each).
"""

from __future__ import annotations

import json

from .report import Row
from .timing import interleave, wait_until
from .workspace import Workspace, populate

NAME = "statuses_10000_http"
DESCRIPTION = "AgentClient.statuses of 10,000 references over HTTP vs json.dumps of the same payload"
TARGET = 3.0
REFERENCES = 10_000
TARGETS = 5
ROUNDS = 15
WARMUP = 2


def run(work: Workspace) -> list[Row]:
    process = work.agent()
    ids = populate(process, REFERENCES, [work.dir("targets", str(n)) for n in range(TARGETS)])
    with process.client() as client:

        def all_connected() -> bool:
            answer = client.statuses(ids)
            return all(status["connected"] for status in answer.values())

        wait_until(all_connected, timeout=60, what=f"{REFERENCES} references connected", interval=0.2)

        payload: dict[str, object] = {}

        def statuses(n: int) -> None:
            answer = client.statuses()
            if sum(1 for status in answer.values() if status["managed"]) != REFERENCES:
                raise RuntimeError(f"statuses answered {len(answer)} entries, not {REFERENCES}")
            payload.clear()
            payload.update(answer)

        def dumps(n: int) -> None:
            json.dumps(payload)

        # The first warm-up round calls statuses first, so dumps always has its
        # payload; every answer is the same, whichever round it came from.
        samples = interleave(ROUNDS, {"statuses": statuses, "dumps": dumps}, warmup=WARMUP)

    got, limit = samples["statuses"], samples["dumps"]
    size_mb = len(json.dumps(payload)) / 1e6
    ms = 1000.0
    return [
        Row(
            NAME,
            got.median * ms,
            limit.median * ms,
            "ms",
            target=TARGET,
            note=(
                f"AgentClient.statuses() vs json.dumps of the dict it returned ({size_mb:.1f} MB), "
                f"medians of {ROUNDS}; "
                f"p99 {got.p99 * ms:.3g} vs {limit.p99 * ms:.3g} ms"
            ),
        )
    ]
