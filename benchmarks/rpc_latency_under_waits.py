"""rpc_latency_under_waits: an acquire with 500 ``ConnectionRefs.wait`` calls in flight, vs the same acquire idle.

A wait holds no worker thread (it awaits a change in the event loop), so
500 of them must leave the short calls as fast as on an idle agent: target
≤ 2× the idle median. The waits hang on references whose target failed its
first attempt and retries only a minute later, so every wait stays in
flight until its own timeout; they come from a separate process (one
keep-alive connection each) so their client does not share this process's
GIL with the timed calls. Idle and busy rounds alternate, so noise from
neighbours hits both.
"""

from __future__ import annotations

import subprocess
import sys

from .report import Row
from .timing import Samples, timed, wait_until
from .workspace import Workspace, localfs

NAME = "rpc_latency_under_waits"
DESCRIPTION = "acquire latency over HTTP with 500 waits in flight vs idle"
TARGET = 2.0
WAITS = 500
PENDING = 10
ROUNDS = 5  # alternating idle and busy phases
CALLS = 20  # timed acquires per phase
WAIT_TIMEOUT = 120.0
# The agent's defaults, except that a failed target retries only after a minute.
TIMINGS = ["--period", "1", "--backoff-base", "60", "--backoff-cap", "120"]

_WAITER = """
import asyncio, json, sys
import httpx

url, token, count, timeout, ids = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]

async def one(client, n):
    request = {"jsonrpc": "2.0", "id": n, "method": "ConnectionRefs.wait",
               "params": {"refIDs": [ids[n % len(ids)]], "timeout": timeout}}
    await client.post("/jsonrpc", json=request)

async def main():
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=timeout + 30) as client:
        tasks = [asyncio.ensure_future(one(client, n)) for n in range(count)]
        await asyncio.sleep(0)
        print("sent", flush=True)
        await asyncio.gather(*tasks)

asyncio.run(main())
"""


def run(work: Workspace) -> list[Row]:
    process = work.agent(extra=TIMINGS)
    target = work.dir("target")
    pending = [f"pending-{n}" for n in range(PENDING)]
    token = (process.state_dir / "token").read_text().strip()
    with process.client() as client:
        infos = {ref_id: localfs(work.root / "missing" / ref_id) for ref_id in pending}
        client.acquire({"anchor": localfs(target), **infos})
        client.wait(["anchor"], timeout=30)
        wait_until(lambda: all(s["lastError"][0] for s in client.statuses(pending).values()),
                   timeout=30, what="the pending targets' first failure")

        counter = [0]

        def acquire() -> None:
            counter[0] += 1
            answer = client.acquire({f"timed-{counter[0]}": localfs(target)})
            if set(answer.values()) != {0}:
                raise RuntimeError(f"acquire answered {answer}")

        for _ in range(10):
            acquire()  # warm-up
        idle, busy = Samples(), Samples()
        for _ in range(ROUNDS):
            for _ in range(CALLS):
                idle.add(timed(acquire)[0])
            waiters = subprocess.Popen(
                [sys.executable, "-c", _WAITER, process.url, token, str(WAITS), str(WAIT_TIMEOUT), *pending],
                stdout=subprocess.PIPE, text=True,
            )
            try:
                assert waiters.stdout is not None
                waiters.stdout.readline()
                wait_until(lambda: _waits_in_flight(process.url) >= WAITS, timeout=60,
                           what=f"{WAITS} waits in flight", interval=0.1)
                for _ in range(CALLS):
                    busy.add(timed(acquire)[0])
                if _waits_in_flight(process.url) < WAITS:
                    raise RuntimeError("some waits ended before the timed calls did")
            finally:
                waiters.kill()
                waiters.wait(timeout=10)
            wait_until(lambda: _waits_in_flight(process.url) == 0, timeout=30,
                       what="the waits of a closed client dropped", interval=0.1)
    ms = 1000.0
    return [
        Row(
            NAME,
            busy.median * ms,
            idle.median * ms,
            "ms",
            target=TARGET,
            note=(
                f"median of {len(busy)} acquires with {WAITS} waits in flight vs {len(idle)} idle, "
                f"in {ROUNDS} alternating phases; p99 {busy.p99 * ms:.3g} vs {idle.p99 * ms:.3g} ms"
            ),
        )
    ]


def _waits_in_flight(url: str) -> int:
    import httpx

    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("storconn_rpc_waits "):
            return int(float(line.split()[1]))
    raise RuntimeError("the agent's /metrics has no storconn_rpc_waits")

