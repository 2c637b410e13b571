"""engine_add_throughput: storage connections added per second over HTTP, 1 client and 16 at once.

The engine runs as its own process on SQLite and then on PostgreSQL
(``engine_process``). Each client is a thread of the benchmark with its own
``httpx.Client`` (its own keep-alive connection and the bearer token from one
SSO login) that POSTs JSON bodies for distinct NFS paths, no host, back to
back for a fixed time. Rounds of 1 client and of 16 clients alternate; the
figures are medians of the rounds' adds per second. The issue sets no target:
the ratio is what 16 concurrent clients get out of the engine compared with
one (above 1× means the engine overlaps requests; on SQLite every add's
commit is serialized and fsync'd).
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from .engine_process import JSON, EngineProcess, cpu_seconds, databases, engine, nfs, postgres
from .report import Row
from .workspace import Workspace

NAME = "engine_add_throughput"
DESCRIPTION = "storage connection adds per second over HTTP (JSON), 16 clients vs 1 client, SQLite and PostgreSQL"
CLIENTS = 16
ROUNDS = 3
SECONDS = 4.0
WARMUP = 32


def run(work: Workspace) -> list[Row]:
    rows: list[Row] = []
    with postgres() as server:
        for label, url, skipped in databases(server):
            if skipped:
                rows.append(Row(f"{NAME} ({label})", None, None, "adds/s", skipped=skipped))
                continue
            with engine(work, label.lower(), url) as process:
                rows.append(_measure(process, label))
    return rows


def _measure(process: EngineProcess, label: str) -> Row:
    paths = itertools.count()  # next() is atomic under the GIL: every add gets a path of its own
    statuses: Counter[int] = Counter()
    latencies: dict[int, list[float]] = {1: [], CLIENTS: []}
    lock = threading.Lock()

    # One SSO login; every client thread has its own connection and sends that token.
    token = process.token()
    http = [process.client(token) for _ in range(CLIENTS)]

    def client_loop(client: httpx.Client, clients: int, deadline: float | None, count: int | None) -> int:
        done = 0
        while (deadline is None or time.perf_counter() < deadline) and (count is None or done < count):
            started = time.perf_counter()
            answer = client.post("/storageconnections", json=nfs(next(paths)), headers=JSON)
            seconds = time.perf_counter() - started
            with lock:
                statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    latencies[clients].append(seconds)
            if answer.status_code == 201:
                done += 1
        return done

    cpu: dict[int, list[float]] = {1: [], CLIENTS: []}  # the engine's CPU seconds per add

    def round_of(pool: ThreadPoolExecutor, clients: int) -> float:
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        deadline = started + SECONDS
        added = sum(pool.map(lambda client: client_loop(client, clients, deadline, None), http[:clients]))
        elapsed = time.perf_counter() - started  # until the last request in flight answered
        cpu[clients].append((cpu_seconds(process.pid) - cpu_before) / max(added, 1))
        return added / elapsed

    try:
        # Warm-up: every client's connection opened, the engine's paths hot.
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda client: client_loop(client, 1, None, WARMUP // CLIENTS + 1), http))
        latencies[1].clear()
        rates: dict[int, list[float]] = {1: [], CLIENTS: []}
        for number in range(ROUNDS):
            order = (1, CLIENTS) if number % 2 == 0 else (CLIENTS, 1)
            with ThreadPoolExecutor(CLIENTS) as pool:
                for clients in order:
                    rates[clients].append(round_of(pool, clients))
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the engine on {label} failed: {exc}") from exc
    finally:
        for client in http:
            client.close()

    refused = {code: n for code, n in statuses.items() if code != 201}
    if statuses[201] == 0:
        raise RuntimeError(f"no add succeeded on {label}: {dict(statuses)}")
    one, many = statistics.median(rates[1]), statistics.median(rates[CLIENTS])
    ms = 1000.0
    return Row(
        f"{NAME} ({label})",
        many,
        one,
        "adds/s",
        note=(
            f"{CLIENTS} concurrent clients vs 1 client, POST of distinct NFS paths for {SECONDS:g} s a round, "
            f"medians of {ROUNDS} rounds (ranges {min(rates[CLIENTS]):.0f}–{max(rates[CLIENTS]):.0f} vs "
            f"{min(rates[1]):.0f}–{max(rates[1]):.0f}); latency per add median "
            f"{statistics.median(latencies[CLIENTS]) * ms:.0f} vs {statistics.median(latencies[1]) * ms:.1f} ms; "
            f"engine CPU per add {statistics.median(cpu[CLIENTS]) * ms:.1f} vs "
            f"{statistics.median(cpu[1]) * ms:.1f} ms; {statuses[201]:,} added in all"
            + (f"; refused: {', '.join(f'HTTP {c} ×{n}' for c, n in sorted(refused.items()))}" if refused else "")
        ),
    )
