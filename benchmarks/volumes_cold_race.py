"""volumes_cold_race: 16 threads attaching to a GlusterFS share that is not mounted yet, storconn vs os-brick.

os-brick's ``RemoteFsClient.mount`` reads /proc/mounts, then runs ``mount``
when the share is not there: 16 threads doing this at once run several
``mount -t glusterfs`` on one mount point. Some stack on each other, the
rest fail with mount.glusterfs's "according to mtab, GlusterFS is already
mounted" (os-brick then looks for the *share* among the mount *points* and
re-raises). storconn's agent merges the 16 references into one target and
mounts it once, so every attach must succeed, with exactly one mount.

Each round: the 16 threads are released together by a barrier, storconn's
attaching 16 different volumes through the node's agent
(``Connection.attach``, already connected by the controller), os-brick's
calling ``connect_volume`` for the same 16 files. A watcher samples the
mount table through the round. Between rounds, storconn's attachments are
detached and the node agent's grace unmount waited for; os-brick's mount
point is unmounted as many times as it was stacked.

Rows: the share of attaches that failed (storconn must be 0 %: target 0×
os-brick's), and the most mounts of the share seen at once (storconn must
be 1).
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .osbrick_venv import OsBrick, venv_problem
from .report import Row
from .volumes_rig import (
    MountWatch,
    agent_volumes_problem,
    gluster_problem,
    gluster_share,
    library_problem,
    reset_library,
    run_threads,
    skipped,
    unmount_stacked,
    use_library,
    wait_unmounted,
)
from .workspace import Workspace

NAME = "volumes_cold_race"
DESCRIPTION = "16 threads attaching on a GlusterFS share not mounted yet: failures and mounts, storconn vs os-brick"
THREADS = 16
ROUNDS = 10
FUSE = ("fuse.glusterfs",)


def run(work: Workspace) -> list[Row]:
    problem = library_problem() or gluster_problem() or venv_problem()
    if problem:
        return _skipped(problem)
    import storconn.volumes as cl

    sc_ok = ob_ok = 0
    sc_peak = ob_peak = 0
    sc_errors: Counter[str] = Counter()
    ob_errors: Counter[str] = Counter()
    sc_stacked_rounds = ob_stacked_rounds = 0
    with gluster_share(work, "storconn-bench-race") as server:
        controller = work.agent("controller")
        node = work.agent("node")
        node_client = node.client()
        try:
            problem = agent_volumes_problem(node_client)
            if problem:
                return _skipped(problem)
            use_library(controller.url, controller.state_dir / "token")
            share = {"type": "glusterfs", "params": {"spec": server.spec}}
            backend = cl.Backend("bench-race", volume_driver="file", share=share)
            volumes = [backend.create_volume(size=1) for _ in range(THREADS)]
            connector = cl.get_connector_properties(agent_url=node.url)
            connections = [v.connect(connector) for v in volumes]
            names = [str(v.provider_location) for v in volumes]
            with OsBrick(work.root / "osbrick.log") as brick:
                base = work.dir("osbrick")
                point = brick.call("mount_point", base=str(base), mount_type="glusterfs", export=server.spec)["path"]
                for number in range(ROUNDS):
                    def storconn_round() -> None:
                        nonlocal sc_ok, sc_peak, sc_stacked_rounds
                        wait_unmounted(node.mount_root, FUSE)

                        def attach(index: int) -> dict[str, Any]:
                            device: dict[str, Any] = connections[index].attach(device_type="file", agent=node_client)
                            if not os.path.exists(device["path"]):
                                raise RuntimeError(f"attached path {device['path']} does not exist")
                            return device

                        with MountWatch(node.mount_root, FUSE) as watch:
                            results = run_threads(THREADS, attach)
                        sc_peak = max(sc_peak, watch.peak)
                        sc_stacked_rounds += watch.peak > 1
                        for result in results:
                            if isinstance(result, Exception):
                                sc_errors[f"{type(result).__name__}: {result}"[:100]] += 1
                            else:
                                sc_ok += 1
                        with ThreadPoolExecutor(THREADS) as pool:
                            list(pool.map(lambda c: c.detach(agent=node_client, force=True), connections))

                    def brick_round() -> None:
                        nonlocal ob_ok, ob_peak, ob_stacked_rounds
                        unmount_stacked(point)
                        with MountWatch(base, FUSE) as watch:
                            result = brick.call(
                                "race", base=str(base), mount_type="glusterfs", export=server.spec, names=names
                            )
                        ob_peak = max(ob_peak, watch.peak)
                        ob_stacked_rounds += watch.peak > 1
                        ob_ok += result["ok"]
                        ob_errors.update(
                            "already mounted" if "already mounted" in e else e[:100] for e in result["errors"]
                        )

                    if number % 2 == 0:
                        storconn_round()
                        brick_round()
                    else:
                        brick_round()
                        storconn_round()
                unmount_stacked(point)
            for connection in connections:
                connection.disconnect(force=True)
            for volume in volumes:
                volume.delete()
            backend.destroy()
        finally:
            node_client.close()
            reset_library()
            controller.stop()
            node.stop()

    total = THREADS * ROUNDS
    sc_failed = 100.0 * (total - sc_ok) / total
    ob_failed = 100.0 * (total - ob_ok) / total
    return [
        Row(
            NAME,
            sc_failed,
            ob_failed,
            "% failed",
            target=0.0,
            note=(
                f"{ROUNDS} rounds of {THREADS} threads released together: storconn attached {sc_ok}/{total}"
                f"{_errors(sc_errors)}; os-brick connect_volume succeeded {ob_ok}/{total}{_errors(ob_errors)}"
            ),
        ),
        Row(
            f"{NAME} (mounts)",
            float(sc_peak),
            1.0,
            "mounts",
            target=1.0,
            note=(
                f"most mounts of the share seen at once on the node, vs exactly one; "
                f"os-brick stacked up to {ob_peak} on its one mount point "
                f"(more than one in {ob_stacked_rounds} of {ROUNDS} rounds; storconn in {sc_stacked_rounds})"
            ),
        ),
    ]


def _errors(errors: Counter[str]) -> str:
    if not errors:
        return ""
    return " (" + ", ".join(f"{kind} ×{count}" for kind, count in errors.most_common(3)) + ")"


def _skipped(reason: str) -> list[Row]:
    return [
        skipped(NAME, "% failed", 0.0, reason),
        Row(f"{NAME} (mounts)", None, None, "mounts", target=1.0, skipped=reason),
    ]
