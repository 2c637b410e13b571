"""start_10000: a fresh agent process with 10,000 stored references, until ``statuses`` lists them all.

An agent restarts on upgrades and after crashes, and while it is down no
client can acquire or ask: 1 s is the budget for being back with every
reference, whole interpreter start included. Its resident memory right then
(VmRSS) has a budget of 120 MiB, so a host with many references does not
pay for them twice over.

The state is prepared once, through one agent run: 10,000 localfs
references over 5 real directories, all connected, then a clean stop. Each
timed start is a new process on that state (the reconciler adopts the 5
links it finds). The clock runs from spawning the process until the body of
the first ``statuses`` answer listing all 10,000 has arrived (polled every
5 ms over a kept-open connection; decoding it is the client's business and
not counted). An agent with an empty state is started in the same rounds to
show how much of the time is the interpreter and its imports.
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import time

from tests.peers.agent import AgentProcess

from .report import Row
from .timing import wait_until
from .workspace import Workspace, populate, rss_mib

NAME = "start_10000"
DESCRIPTION = "agent start with 10,000 stored references until statuses lists them (1 s), and its RSS (120 MiB)"
REFERENCES = 10_000
TARGETS = 5
ROUNDS = 5
LIMIT_SECONDS = 1.0
LIMIT_MIB = 120.0
POLL = 0.005
# The agent logs how long its own start (load + ownership + reconciler) took.
_STARTED = re.compile(r"agent started with (\d+) references in ([\d.]+) s")


def run(work: Workspace) -> list[Row]:
    prepare = work.agent("full")
    ids = populate(prepare, REFERENCES, [work.dir("targets", str(n)) for n in range(TARGETS)])
    with prepare.client() as client:
        wait_until(
            lambda: all(s["connected"] for s in client.statuses(ids).values()),
            timeout=60,
            what=f"{REFERENCES} references connected",
            interval=0.2,
        )
    prepare.stop()
    work.agent("empty").stop()  # creates the empty agent's state and token

    full: list[tuple[float, float, float]] = []
    empty: list[tuple[float, float, float]] = []
    for _ in range(ROUNDS):
        full.append(_start(work, "full", REFERENCES))
        empty.append(_start(work, "empty", 0))

    seconds, rss, load = (statistics.median(column) for column in zip(*full))
    empty_seconds, empty_rss, _ = (statistics.median(column) for column in zip(*empty))
    return [
        Row(
            NAME,
            seconds,
            LIMIT_SECONDS,
            "s",
            target=1.0,
            note=(
                f"spawn → statuses answer listing all {REFERENCES}, median of {ROUNDS} "
                f"(max {max(s for s, _, _ in full):.3g} s); Agent.start {load:.3g} s of it; "
                f"an empty agent: {empty_seconds:.3g} s"
            ),
        ),
        Row(
            f"{NAME} (RSS)",
            rss,
            LIMIT_MIB,
            "MiB",
            target=1.0,
            note=f"VmRSS of the agent right then, median of {ROUNDS}; an empty agent: {empty_rss:.3g} MiB",
        ),
    ]


def _start(work: Workspace, name: str, expected: int) -> tuple[float, float, float]:
    """(seconds from spawn to a statuses answer with ``expected`` references, VmRSS then, Agent.start's own s)."""
    started = time.perf_counter()
    process = work.spawn(name)
    body = _first_statuses(process, timeout=30)
    seconds = time.perf_counter() - started
    assert process.process is not None
    rss = rss_mib(process.process.pid)

    answer = json.loads(body)["result"]
    listed = sum(1 for status in answer.values() if status["managed"])
    if listed != expected:
        raise RuntimeError(f"the first statuses answer listed {listed} references, not {expected}")
    process.stop()
    found = _STARTED.findall(process.log.read_text())
    return seconds, rss, float(found[-1][1]) if found else float("nan")


def _first_statuses(process: AgentProcess, *, timeout: float) -> bytes:
    """The body of the first answer to ConnectionRefs.statuses, polling until the agent listens."""
    token = (process.state_dir / "token").read_text().strip()
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.statuses", "params": {}})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deadline = time.monotonic() + timeout
    while True:
        assert process.process is not None
        if process.process.poll() is not None:
            raise RuntimeError(f"agent exited with {process.process.returncode}: see {process.log}")
        connection = http.client.HTTPConnection("127.0.0.1", process.port, timeout=timeout)
        try:
            connection.request("POST", "/jsonrpc", body=request, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                return body
        except OSError:
            pass  # not listening yet
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"agent did not answer statuses within {timeout:g} s")
        time.sleep(POLL)
