"""engine_activate_50_hosts: activating a storage domain in a data center of 50 hosts vs one of 1 host.

51 real agents (``storconn agent serve`` with their default timings, each
with its own state directory, mount root and port) are started by the
benchmark; 50 are registered as the hosts of one data center, the 51st as
the only host of another. Each data center gets one attached ``posixfs``
tmpfs domain (``size=1m``). The engine runs as its own process on SQLite
(``engine_process``); everything is set up through its REST API with JSON
bodies, as a client would.

Timed, from the ``activate`` POST: until the engine answers (it has synced
every Up host of the data center: each agent holds the new reference), and
until every agent's ``wait`` says the reference is connected (mounted). The
limit is the same activation in the data center of one host; rounds
alternate between the two. Between rounds the domains are deactivated and
the agents unmount (after their 2 s grace), untimed. The issue sets no
target: the ratio says how well the engine's parallel dispatch hides 50
hosts (1× would be perfectly parallel).

At the end the domains are deactivated; the workspace stops the agents and
unmounts anything left under its root.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from storconn.agent import AgentClient

from .engine_process import JSON, cpu_seconds, engine
from .report import Row
from .timing import wait_until
from .workspace import Workspace, mounts_under

NAME = "engine_activate_50_hosts"
DESCRIPTION = "activate a tmpfs domain on 50 hosts (real agents) vs on 1 host: until the engine answers, until connected"
HOSTS = 50
ROUNDS = 5
# The engine's periodic sync of all hosts (every 30 s by default) would land
# inside some rounds; it is pushed out of the benchmark's minutes.
ENGINE_ENV = {"STORCONN_ENGINE_SYNC_INTERVAL": "3600"}


def run(work: Workspace) -> list[Row]:
    if os.geteuid() != 0:
        return _skipped("needs root: the agents make real mounts")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return _skipped("mount(8) is not installed")

    names = [f"host-{n:02d}" for n in range(HOSTS)] + ["single"]
    started = time.perf_counter()
    agents = [work.spawn(name) for name in names]  # all at once: they start in parallel
    try:
        for agent in agents:
            wait_until(lambda: _healthy(agent), timeout=300, what=f"agent {agent.url} answering", interval=0.1)
    except RuntimeError as exc:
        log = agents[0].log.read_text(errors="replace")[-2000:] if agents[0].log.exists() else ""
        raise RuntimeError(f"{exc}\n{log}") from exc
    agents_up = time.perf_counter() - started

    with engine(work, "engine", env=ENGINE_ENV) as process, process.client() as api:
        big = _data_center(api, "dc-50", agents[:HOSTS], "bench-50")
        one = _data_center(api, "dc-1", agents[HOSTS:], "bench-1")
        big_times: dict[str, list[float]] = {"answer": [], "connected": [], "engine_cpu": [], "agents_cpu": []}
        one_times: dict[str, list[float]] = {"answer": [], "connected": [], "engine_cpu": [], "agents_cpu": []}
        try:
            for number in range(ROUNDS):
                order = [(big, big_times), (one, one_times)]
                if number % 2:
                    order.reverse()
                for setup, times in order:
                    for what, seconds in _activate(api, setup, process.pid).items():
                        times[what].append(seconds)
                    _deactivate(api, setup)
        finally:
            for setup in (big, one):
                _deactivate(api, setup, wait=False)
                setup.close()

    rows = []
    for what, label in (("answer", "engine answered"), ("connected", "all connected")):
        got, limit = big_times[what], one_times[what]
        rows.append(
            Row(
                f"{NAME} ({label})",
                statistics.median(got),
                statistics.median(limit),
                "s",
                note=(
                    f"activate POST → {'the engine answers' if what == 'answer' else 'every agent says connected'}, "
                    f"{HOSTS} hosts vs 1 host, medians of {ROUNDS} (ranges {min(got):.3g}–{max(got):.3g} vs "
                    f"{min(limit):.3g}–{max(limit):.3g} s)"
                    + (
                        f"; engine CPU until it answered {statistics.median(big_times['engine_cpu']):.2f} vs "
                        f"{statistics.median(one_times['engine_cpu']):.2f} s; "
                        f"{HOSTS + 1} agents up {agents_up:.0f} s after spawning"
                        if what == "answer"
                        else f"; the agents' CPU until all connected {statistics.median(big_times['agents_cpu']):.2f} "
                        f"vs {statistics.median(one_times['agents_cpu']):.2f} s (summed, 10 ms ticks; {os.cpu_count()} cores)"
                    )
                ),
            )
        )
    return rows


class _Setup:
    def __init__(self, dc_id: str, sd_id: str, ref_id: str, agents: list[Any]) -> None:
        self.dc_id = dc_id
        self.sd_id = sd_id
        self.ref_id = ref_id
        self.agents = agents
        self.clients: list[AgentClient] = [agent.client() for agent in agents]

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _healthy(agent: Any) -> bool:
    if agent.process.poll() is not None:
        raise RuntimeError(f"agent {agent.url} exited with {agent.process.returncode}")
    try:
        return httpx.get(f"{agent.url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _ok(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"{what}: HTTP {answer.status_code}: {answer.text[:500]}")
    body: dict[str, Any] = answer.json() if answer.content else {}
    return body


def _data_center(api: httpx.Client, name: str, agents: list[Any], spec: str) -> _Setup:
    """A data center with ``agents`` as its hosts and one attached tmpfs domain, in maintenance."""
    dc = _ok(api.post("/datacenters", json={"name": name, "local": False}, headers=JSON), f"add {name}")
    for number, agent in enumerate(agents):
        token = (agent.state_dir / "token").read_text().strip()
        host = _ok(
            api.post(
                "/hosts",
                json={
                    "name": f"{name}-h{number:02d}", "address": "127.0.0.1", "port": agent.port,
                    "root_password": token, "cluster": {"data_center": {"id": dc["id"]}},
                },
                headers=JSON,
            ),
            f"add host {number} of {name}",
        )
        if host.get("status") != "up":
            raise RuntimeError(f"host {host.get('name')} is {host.get('status')}, not up")
    domain = _ok(
        api.post(
            "/storagedomains",
            json={
                "name": f"sd-{name}", "type": "data",
                "storage": {"type": "posixfs", "path": spec, "vfs_type": "tmpfs", "mount_options": "size=1m"},
            },
            headers=JSON,
        ),
        f"add the domain of {name}",
    )
    _ok(api.post(f"/datacenters/{dc['id']}/storagedomains", json={"id": domain["id"]}, headers=JSON),
        f"attach the domain to {name}")
    connection_id = domain["storage"]["id"] if "id" in domain["storage"] else _connection_id(api, domain["id"])
    return _Setup(dc["id"], domain["id"], f"engine:{domain['id']}:{connection_id}:1", agents)


def _connection_id(api: httpx.Client, sd_id: str) -> str:
    listed = _ok(api.get(f"/storagedomains/{sd_id}/storageconnections", headers=JSON), "domain connections")
    return str(listed["storage_connection"][0]["id"])


def _activate(api: httpx.Client, setup: _Setup, engine_pid: int) -> dict[str, float]:
    """Seconds until the engine answered and until all connected; CPU seconds of the engine and the agents."""
    url = f"/datacenters/{setup.dc_id}/storagedomains/{setup.sd_id}/activate"
    agent_pids = [agent.process.pid for agent in setup.agents]
    with ThreadPoolExecutor(len(setup.clients)) as pool:
        engine_cpu = cpu_seconds(engine_pid)
        agents_cpu = sum(cpu_seconds(pid) for pid in agent_pids)
        started = time.perf_counter()
        body = _ok(api.post(url, json={}, headers=JSON), "activate")
        answered = time.perf_counter() - started
        engine_cpu = cpu_seconds(engine_pid) - engine_cpu
        if body.get("description"):
            raise RuntimeError(f"activate: {body['description']}")

        def connected(client: AgentClient) -> float:
            status = client.wait([setup.ref_id], timeout=60).get(setup.ref_id, {})
            if not status.get("connected"):
                raise RuntimeError(f"{client} did not connect {setup.ref_id}: {status}")
            return time.perf_counter() - started

        all_connected = max(pool.map(connected, setup.clients))
        agents_cpu = sum(cpu_seconds(pid) for pid in agent_pids) - agents_cpu
    return {"answer": answered, "connected": all_connected, "engine_cpu": engine_cpu, "agents_cpu": agents_cpu}


def _deactivate(api: httpx.Client, setup: _Setup, *, wait: bool = True) -> None:
    url = f"/datacenters/{setup.dc_id}/storagedomains/{setup.sd_id}/deactivate"
    answer = api.post(url, json={}, headers=JSON)
    if not wait:
        return  # the last clean-up: already in maintenance is fine
    _ok(answer, "deactivate")
    roots: list[Path] = [agent.mount_root for agent in setup.agents]
    wait_until(lambda: not any(mounts_under(root) for root in roots), timeout=60,
               what="agents unmounting after deactivate", interval=0.1)


def _skipped(reason: str) -> list[Row]:
    return [
        Row(f"{NAME} (engine answered)", None, None, "s", skipped=reason),
        Row(f"{NAME} (all connected)", None, None, "s", skipped=reason),
    ]
