"""volumes_glusterfs_100: 100 volumes on one GlusterFS share attached and detached, 16 at a time, vs os-brick.

A real glusterd and one-brick volume on loopback (tests/peers/gluster.py).
Two agents with their default timings play two hosts: the *controller*'s
holds the backend's share (it creates the 100 volume files, untimed), the
*node*'s attaches. One storconn round, on 16 threads:

- attach phase, per volume: ``Volume.connect(connector)`` (controller) then
  ``Connection.attach(device_type="file")`` on the node's agent;
- detach phase, per volume: ``Connection.detach()`` then ``disconnect()``.

One os-brick 7.1.1 round (``RemoteFsConnector``, ``mount_type="glusterfs"``,
in a subprocess of its own venv, see osbrick_venv.py) does
``connect_volume`` for the same 100 files on 16 threads, then
``disconnect_volume`` for each. A round's figure is its wall time, attach
phase plus detach phase; rounds of the two alternate, which goes first
alternating too.

- **cold**: nothing mounted when a round starts. Between rounds the node
  agent's grace unmount is waited for (untimed), and os-brick's mount point
  is unmounted (os-brick never unmounts; its races may stack several
  mounts there, all removed). Target ≤ 1×.
- **warm**: the share is mounted when a round starts: the node holds one
  reference of its own on it (os-brick's mount is simply left from the
  round before). Target ≤ 3×; the node's mounts of the share are sampled
  during the storconn rounds and must be exactly one.

The notes give the per-call medians (connect / attach / detach /
disconnect for storconn, connect_volume / disconnect_volume for os-brick)
and how many os-brick calls failed (its cold race, "already mounted").
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storconn.agent.client import AgentClient

from .osbrick_venv import OsBrick, venv_problem
from .report import Row
from .volumes_rig import (
    MountWatch,
    agent_volumes_problem,
    gluster_problem,
    gluster_share,
    library_problem,
    reset_library,
    skipped,
    unmount_stacked,
    use_library,
    wait_unmounted,
)
from .workspace import Workspace

NAME = "volumes_glusterfs_100"
DESCRIPTION = (
    "100 volumes on one GlusterFS share attached + detached on 16 threads vs os-brick 7.1.1 "
    "RemoteFsConnector, cold and warm"
)
COLD_TARGET = 1.0
WARM_TARGET = 3.0
COUNT = 100
THREADS = 16
COLD_ROUNDS = 5
WARM_ROUNDS = 7
FUSE = ("fuse.glusterfs",)
WARM_REF = "bench-warm-hold"
CALLS = ("connect", "attach", "detach", "disconnect")


@dataclass
class Split:
    """Per-call durations of one side, over all its rounds."""

    calls: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in CALLS})
    rounds: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    peak_mounts: int = 0

    def median_ms(self, name: str) -> float:
        values = self.calls.get(name) or []
        return statistics.median(values) * 1000 if values else float("nan")


def run(work: Workspace) -> list[Row]:
    problem = library_problem() or gluster_problem() or venv_problem()
    if problem:
        return _skipped(problem)
    import storconn.volumes as cl

    with gluster_share(work, "storconn-bench-100") as server:
        controller = work.agent("controller")
        node = work.agent("node")
        node_client = node.client()
        try:
            problem = agent_volumes_problem(node_client)
            if problem:
                return _skipped(problem)
            use_library(controller.url, controller.state_dir / "token")
            share = {"type": "glusterfs", "params": {"spec": server.spec}}
            backend = cl.Backend("bench-gl100", volume_driver="file", share=share)
            volumes = [backend.create_volume(size=1) for _ in range(COUNT)]
            names = [str(v.provider_location) for v in volumes]
            connector = cl.get_connector_properties(agent_url=node.url)
            rig = _Rig(volumes, connector, node_client)
            with OsBrick(work.root / "osbrick.log") as brick:
                base = work.dir("osbrick")
                brick_point = brick.call("mount_point", base=str(base), mount_type="glusterfs", export=server.spec)["path"]
                brick_round = _BrickRound(brick, base, server.spec, names)

                # Cold: nothing mounted at the start of either side's round.
                cold_sc, cold_ob = Split(), Split()
                for number in range(COLD_ROUNDS):
                    def storconn_cold() -> None:
                        wait_unmounted(node.mount_root, FUSE)
                        rig.round(cold_sc, node.mount_root)

                    def brick_cold() -> None:
                        unmount_stacked(brick_point)
                        brick_round(cold_ob)

                    _alternate(number, storconn_cold, brick_cold)
                unmount_stacked(brick_point)

                # Warm: the node holds the share; os-brick's mount stays from its first round.
                answer = node_client.acquire({WARM_REF: share})
                if answer != {WARM_REF: 0}:
                    raise RuntimeError(f"the node agent refused the warm hold: {answer}")
                status = node_client.wait([WARM_REF], 60)[WARM_REF]
                if not status["connected"]:
                    raise RuntimeError(f"the share did not connect on the node: {status['lastError']}")
                warm_sc, warm_ob = Split(), Split()
                brick_round(Split())  # mounts os-brick's share; not counted
                for number in range(WARM_ROUNDS):
                    _alternate(number, lambda: rig.round(warm_sc, node.mount_root), lambda: brick_round(warm_ob))
                node_client.release([WARM_REF])
                unmount_stacked(brick_point)
            for volume in volumes:
                volume.delete()
            backend.destroy()
        finally:
            node_client.close()
            reset_library()
            controller.stop()
            node.stop()

    return [
        _row(f"{NAME} (cold)", cold_sc, cold_ob, COLD_TARGET, COLD_ROUNDS, warm=False),
        _row(f"{NAME} (warm)", warm_sc, warm_ob, WARM_TARGET, WARM_ROUNDS, warm=True),
    ]


class _Rig:
    """One storconn round: 100 × (connect, attach) on 16 threads, then 100 × (detach, disconnect)."""

    def __init__(self, volumes: list[Any], connector: dict[str, Any], node: AgentClient) -> None:
        self.volumes = volumes
        self.connector = connector
        self.node = node
        self.lock = threading.Lock()

    def round(self, split: Split, node_root: Path) -> None:
        connections: list[Any] = [None] * len(self.volumes)

        def attach(index: int) -> None:
            t0 = time.perf_counter()
            connection = self.volumes[index].connect(self.connector)
            t1 = time.perf_counter()
            device = connection.attach(device_type="file", agent=self.node)
            t2 = time.perf_counter()
            if not os.path.exists(device["path"]):
                raise RuntimeError(f"attached path {device['path']} does not exist")
            connections[index] = connection
            with self.lock:
                split.calls["connect"].append(t1 - t0)
                split.calls["attach"].append(t2 - t1)

        def detach(index: int) -> None:
            connection = connections[index]
            if connection is None:
                return
            t0 = time.perf_counter()
            connection.detach(agent=self.node)
            t1 = time.perf_counter()
            connection.disconnect()
            t2 = time.perf_counter()
            with self.lock:
                split.calls["detach"].append(t1 - t0)
                split.calls["disconnect"].append(t2 - t1)

        with MountWatch(node_root, FUSE) as watch, ThreadPoolExecutor(THREADS) as pool:
            started = time.perf_counter()
            attach_errors = _collect(pool, attach, len(self.volumes))
            detach_errors = _collect(pool, detach, len(self.volumes))
            split.rounds.append(time.perf_counter() - started)
        split.peak_mounts = max(split.peak_mounts, watch.peak)
        errors = attach_errors + detach_errors
        split.errors.update(_kind(e) for e in errors)
        if errors:
            # storconn must not fail here: a failure is a bug, not a figure.
            raise RuntimeError(f"{len(errors)} storconn calls failed, e.g. {errors[0]}")


class _BrickRound:
    def __init__(self, brick: OsBrick, base: Path, export: str, names: list[str]) -> None:
        self.brick, self.base, self.export, self.names = brick, base, export, names

    def __call__(self, split: Split) -> None:
        with MountWatch(self.base, FUSE) as watch:
            result = self.brick.call(
                "cycle", base=str(self.base), mount_type="glusterfs", export=self.export,
                names=self.names, threads=THREADS,
            )
        split.rounds.append(result["seconds"])
        split.calls["connect"].extend(result["connect"])
        split.calls["disconnect"].extend(result["disconnect"])
        split.errors.update(_kind(e) for e in result["errors"])
        split.peak_mounts = max(split.peak_mounts, watch.peak)


def _collect(pool: ThreadPoolExecutor, action: Callable[[int], None], count: int) -> list[str]:
    errors = []
    for future in [pool.submit(action, i) for i in range(count)]:
        exc = future.exception()
        if exc is not None:
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


def _kind(error: str) -> str:
    return "already mounted" if "already mounted" in error else error[:80]


def _alternate(number: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    if number % 2 == 0:
        first()
        second()
    else:
        second()
        first()


def _row(name: str, sc: Split, ob: Split, target: float, rounds: int, *, warm: bool) -> Row:
    figure = statistics.median(sc.rounds)
    limit = statistics.median(ob.rounds)
    brick_calls = sum(len(ob.calls[c]) for c in ("connect", "disconnect"))
    failed = sum(ob.errors.values())
    kinds = f" ({', '.join(f'{k} ×{v}' for k, v in ob.errors.items())})" if failed else ""
    stacked = f"up to {ob.peak_mounts} mounts stacked" if ob.peak_mounts > 1 else f"{ob.peak_mounts} mount"
    failures = f"os-brick: {failed} of {brick_calls} calls failed{kinds}, {stacked}"
    note = (
        f"medians of {rounds} interleaved rounds of {COUNT} volumes on {THREADS} threads, memory persistence; "
        f"storconn ms per call: connect {sc.median_ms('connect'):.3g}, attach {sc.median_ms('attach'):.3g}, "
        f"detach {sc.median_ms('detach'):.3g}, disconnect {sc.median_ms('disconnect'):.3g}; "
        f"os-brick ms: connect_volume {ob.median_ms('connect'):.3g}, "
        f"disconnect_volume {ob.median_ms('disconnect'):.3g}; "
        f"storconn mounts on the node: at most {sc.peak_mounts}; {failures}"
    )
    if warm and sc.peak_mounts != 1:
        return Row(
            name, figure, limit, "s", target=target,
            crashed=f"expected exactly one mount of the share on the node during the warm rounds, saw {sc.peak_mounts}; {note}",
        )
    if not warm and sc.peak_mounts > 1:
        return Row(
            name, figure, limit, "s", target=target,
            crashed=f"expected at most one mount of the share on the node, saw {sc.peak_mounts}; {note}",
        )
    return Row(name, figure, limit, "s", target=target, note=note)


def _skipped(reason: str) -> list[Row]:
    return [
        skipped(f"{NAME} (cold)", "s", COLD_TARGET, reason),
        Row(f"{NAME} (warm)", None, None, "s", target=WARM_TARGET, skipped=reason),
    ]
