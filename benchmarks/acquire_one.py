"""acquire_one: the durable acquire of one reference, against the commit it cannot do without.

An acquire answers only once its reference is committed with
``synchronous=FULL``, so one fsync'd SQLite transaction is the floor; what
the agent adds on top (validation, identity, canonical JSON, the registry)
should stay well under that fsync: target ≤ 1.5× a bare INSERT+COMMIT.

In process the Agent is built but not started: no reconciler thread, so the
figure is the acquire path alone. Over HTTP a real agent process runs with
its default timings, reconciler included; each reference points at a
directory of its own, which the agent then links (localfs mounts nothing).
"""

from __future__ import annotations

from storconn.agent import Agent, AgentConfig

from .report import Row
from .timing import interleave
from .workspace import BareStore, Workspace, as_row, localfs

NAME = "acquire_one"
DESCRIPTION = "durable acquire of 1 reference: in process and over HTTP, vs a bare SQLite INSERT+COMMIT"
TARGET = 1.5
ROUNDS = 200
WARMUP = 10
# Between two timed calls: lets the agent process's reconciler link the new
# target (its own durable commit) before the next acquire is timed, so each
# sample is one acquire on an idle agent, not a queue behind the last one.
PAUSE = 0.02


def run(work: Workspace) -> list[Row]:
    bare = BareStore(work.dir("bare") / "bare.sqlite")
    agent = Agent(AgentConfig(state_dir=work.dir("inproc", "state"), mount_root=work.dir("inproc", "mnt")))
    process = work.agent("http")
    # Distinct paths, so every acquire makes a new target. In process they need
    # not exist (nothing connects them); over HTTP they do, so the agent
    # connects them instead of retrying failures in the background.
    missing = work.root / "not-created"
    targets = [work.dir("targets", str(n)) for n in range(-WARMUP, ROUNDS)]
    burst_targets = [work.dir("burst", str(n)) for n in range(ROUNDS)]
    client = process.client()

    def bare_commit(n: int) -> None:
        bare.insert([as_row(f"one-{n}", localfs(missing / str(n)))])

    def in_process(n: int) -> None:
        _check(agent.acquire({f"one-{n}": localfs(missing / str(n))}))

    def over_http(n: int) -> None:
        _check(client.acquire({f"one-{n}": localfs(targets[n + WARMUP])}))

    def back_to_back(n: int) -> None:
        _check(client.acquire({f"burst-{n}": localfs(burst_targets[n])}))

    try:
        samples = interleave(
            ROUNDS,
            {"bare": bare_commit, "in_process": in_process, "http": over_http},
            warmup=WARMUP,
            pause=PAUSE,
        )
        # For the diagnosis only: the same calls with no pause. The agent's threads
        # are still awake (no wake-up cost), but its reconciler is still linking
        # the previous target, and its ownership commit shares the store's lock.
        burst = interleave(ROUNDS, {"http": back_to_back})["http"]
    finally:
        client.close()
        agent.stop()
        bare.close()

    bare_s, inproc_s, http_s = samples["bare"], samples["in_process"], samples["http"]
    ms = 1000.0
    return [
        Row(
            NAME,
            inproc_s.median * ms,
            bare_s.median * ms,
            "ms",
            target=TARGET,
            note=(
                f"in-process Agent.acquire (not started) vs bare INSERT+COMMIT, medians of {ROUNDS}; "
                f"p99 {inproc_s.p99 * ms:.3g} vs {bare_s.p99 * ms:.3g} ms"
            ),
        ),
        Row(
            f"{NAME} (HTTP)",
            http_s.median * ms,
            bare_s.median * ms,
            "ms",
            note=(
                f"AgentClient.acquire vs bare INSERT+COMMIT: "
                f"+{(http_s.median - inproc_s.median) * ms:.3g} ms over in-process "
                f"({http_s.median / inproc_s.median:.2f}× it); p99 {http_s.p99 * ms:.3g} ms; "
                f"back-to-back with no pause {burst.median * ms:.3g} ms"
            ),
        ),
    ]


def _check(answer: dict[str, int]) -> None:
    if any(code != 0 for code in answer.values()):
        raise RuntimeError(f"acquire refused: {answer}")
