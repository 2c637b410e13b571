"""rpc_throughput: 32 keep-alive clients doing acquire + release of their own ids on one target for 10 s.

The figure is the agent process's CPU time per request (utime + stime from
``/proc/PID/stat`` over the window, divided by the requests answered); the
limit is the same for a bare Starlette app on the same server stack (uvicorn,
same settings) that parses the same JSON bodies and answers, under the same
load. Requests/s and p99 are reported for both in the note.

The load comes from a separate process (``python -m benchmarks.rpc_throughput
load ...``) speaking HTTP/1.1 over raw asyncio streams, so the generator
costs little and does not share a core's time with the process measured
under the GIL; the bare app runs as ``... bare PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .report import Row
from .timing import wait_until
from .workspace import Workspace

NAME = "rpc_throughput"
DESCRIPTION = "32 keep-alive clients acquire + release for 10 s: agent CPU per request vs a bare Starlette app"
TARGET = 1.5
CLIENTS = 32
SECONDS = 10.0
WARMUP_SECONDS = 1.0


def run(work: Workspace) -> list[Row]:
    target = work.dir("target")
    process = work.agent()
    assert process.process is not None
    token = (process.state_dir / "token").read_text().strip()
    with process.client() as client:
        client.acquire({"anchor": {"type": "localfs", "params": {"path": str(target)}}})
        client.wait(["anchor"], timeout=30)
    agent_load = _measure(process.process.pid, process.port, token, str(target))

    bare_port = _free_port()
    bare = subprocess.Popen([sys.executable, "-m", "benchmarks.rpc_throughput", "bare", str(bare_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening(bare_port), timeout=20, what="the bare app listening")
        bare_load = _measure(bare.pid, bare_port, token, str(target))
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait(timeout=10)

    ms = 1000.0
    return [
        Row(
            NAME,
            agent_load["cpu_per_request"] * ms,
            bare_load["cpu_per_request"] * ms,
            "ms CPU/req",
            target=TARGET,
            note=(
                f"{CLIENTS} clients, {SECONDS:g} s; agent {agent_load['rate']:.0f} req/s, "
                f"p99 {agent_load['p99'] * ms:.1f} ms, CPU/req user {agent_load['user_per_request'] * ms:.2f} + "
                f"system {agent_load['system_per_request'] * ms:.2f} ms; bare app {bare_load['rate']:.0f} req/s, "
                f"p99 {bare_load['p99'] * ms:.1f} ms, user {bare_load['user_per_request'] * ms:.2f} + "
                f"system {bare_load['system_per_request'] * ms:.2f} ms"
            ),
        )
    ]


def _measure(pid: int, port: int, token: str, target: str) -> dict[str, float]:
    """Run the load generator against ``port`` and read ``pid``'s CPU time over its window."""
    argv = [sys.executable, "-m", "benchmarks.rpc_throughput", "load", str(port), token, target,
            "--clients", str(CLIENTS), "--seconds", str(SECONDS), "--warmup", str(WARMUP_SECONDS)]
    load = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    assert load.stdout is not None and load.stdin is not None
    # The generator says "start" after its warm-up and "stop" at the end of the window.
    if load.stdout.readline().strip() != "start":
        raise RuntimeError("the load generator did not start")
    user_before, system_before = _cpu_seconds(pid)
    if load.stdout.readline().strip() != "stop":
        raise RuntimeError("the load generator did not finish")
    user_after, system_after = _cpu_seconds(pid)
    result: dict[str, float] = json.loads(load.stdout.readline())
    load.wait(timeout=30)
    requests = max(1.0, result["requests"])
    result["user_per_request"] = (user_after - user_before) / requests
    result["system_per_request"] = (system_after - system_before) / requests
    result["cpu_per_request"] = result["user_per_request"] + result["system_per_request"]
    return result


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid``, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); here after the ")" they are 11 and 12.
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _free_port() -> int:
    from tests.peers.agent import free_port

    return free_port()


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- the load generator (a process of its own) --------------------------------


def _request(port: int, token: str, body: bytes) -> bytes:
    return (
        f"POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _client(number: int, port: int, token: str, target: str, stop_at: list[float],
                  latencies: list[float], counting: list[bool]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    info = {"type": "localfs", "params": {"path": target}}
    done = 0
    round_number = 0
    try:
        while time.monotonic() < stop_at[0]:
            ref_id = f"load-{number}-{round_number}"
            round_number += 1
            for method, params in (
                ("ConnectionRefs.acquire", {"conRefArgs": {ref_id: info}}),
                ("ConnectionRefs.release", {"refIDs": [ref_id]}),
            ):
                body = json.dumps({"jsonrpc": "2.0", "id": round_number, "method": method, "params": params})
                started = time.perf_counter()
                writer.write(_request(port, token, body.encode()))
                await _read_response(reader)
                if counting[0]:
                    latencies.append(time.perf_counter() - started)
                    done += 1
    finally:
        writer.close()
    return done


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    if status != b"200" or b'"error"' in body:
        raise RuntimeError(f"HTTP {status.decode()}: {body[:200]!r}")
    return body


async def _load(port: int, token: str, target: str, clients: int, seconds: float, warmup: float) -> None:
    stop_at = [time.monotonic() + warmup + seconds + 3600]
    latencies: list[float] = []
    counting = [False]
    tasks = [asyncio.ensure_future(_client(n, port, token, target, stop_at, latencies, counting))
             for n in range(clients)]
    await asyncio.sleep(warmup)
    counting[0] = True
    print("start", flush=True)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    counting[0] = False
    elapsed = time.monotonic() - started
    count = len(latencies)
    print("stop", flush=True)
    stop_at[0] = 0
    await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    p99 = ordered[max(0, int(0.99 * len(ordered)) - 1)] if ordered else 0.0
    print(json.dumps({"requests": count, "rate": count / elapsed, "p99": p99,
                      "median": statistics.median(ordered) if ordered else 0.0}), flush=True)


# -- the bare app: the same server stack, the same JSON parsed, no agent ------------


def _bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def jsonrpc(request: Request) -> Response:
        call = json.loads(await request.body())
        params = call["params"]
        ids = params.get("conRefArgs") or {ref: None for ref in params.get("refIDs", [])}
        answer = {"jsonrpc": "2.0", "id": call["id"], "result": {ref: 0 for ref in ids}}
        return Response(json.dumps(answer).encode(), media_type="application/json")

    return Starlette(routes=[Route("/jsonrpc", jsonrpc, methods=["POST"])])


def _serve_bare(port: int) -> None:
    import uvicorn

    from storconn.agent.server import uvicorn_settings

    uvicorn.run(_bare_app(), host="127.0.0.1", port=port, log_level="warning", **uvicorn_settings())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rpc_throughput")
    sub = parser.add_subparsers(dest="what", required=True)
    load = sub.add_parser("load")
    load.add_argument("port", type=int)
    load.add_argument("token")
    load.add_argument("target")
    load.add_argument("--clients", type=int, default=CLIENTS)
    load.add_argument("--seconds", type=float, default=SECONDS)
    load.add_argument("--warmup", type=float, default=WARMUP_SECONDS)
    bare = sub.add_parser("bare")
    bare.add_argument("port", type=int)
    args = parser.parse_args(argv)
    if args.what == "load":
        asyncio.run(_load(args.port, args.token, args.target, args.clients, args.seconds, args.warmup))
    else:
        _serve_bare(args.port)


if __name__ == "__main__":
    main()
