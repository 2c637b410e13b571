"""outage_glusterfs: the brick of a real one-brick GlusterFS volume killed and started again.

The same measurement as outage_sshfs, against glusterd and one brick on
loopback (tests/peers/gluster.py, the server the integration tests use),
with one ``glusterfs`` reference held by an agent process with its default
timings. Each round:

- **detection**: SIGKILL the brick daemon (glusterfsd; glusterd stays up),
  then poll ``statuses`` every 20 ms until it says ``connected: false``.
  Budget: probe interval + probe timeout (4 s); the issue's target is 5 s.
- **recovery**: once PID 1 has reaped the killed brick (glusterd refuses to
  start a brick whose old pid still exists), ``gluster volume start VOL
  force``; the clock starts when that command returns, and stops when
  ``statuses`` says ``connected: true``. Budget: the backoff cap, 1.5 s.

A random 0.5–2.5 s with everything up separates the rounds, so the kills
fall at every phase of the probe interval. At the end the reference is
released, and the volume is stopped and deleted and glusterd stopped, as the
test fixture does.
"""

from __future__ import annotations

import os
import random
import time

from tests.peers import gluster

from . import outages
from .outages import Outages
from .report import Row
from .workspace import Workspace

NAME = "outage_glusterfs"
DESCRIPTION = (
    "brick killed → connected: false (4 s), volume start force → connected: true (1.5 s); "
    "default timings, 10 rounds"
)
ROUNDS = 10
REF = "gluster"


def run(work: Workspace) -> list[Row]:
    if os.geteuid() != 0:
        return outages.skipped(NAME, "needs root: glusterd and FUSE mounts")
    reason = gluster.available()
    if reason:
        return outages.skipped(NAME, reason)

    server = gluster.GlusterServer(work.dir("gluster"), volume="storconn-bench")
    result = Outages()
    rng = random.Random(20261123)
    process = None
    try:
        server.start()
        process = work.agent()  # default timings
        with process.client() as client:
            info = {"type": "glusterfs", "params": {"spec": server.spec}}
            assert client.acquire({REF: info}) == {REF: 0}
            first = client.wait([REF], timeout=60)[REF]
            if not first["connected"]:
                raise RuntimeError(f"glusterfs reference did not connect: {first['lastError']}")
            path = str(first["path"])
            for _ in range(ROUNDS):
                time.sleep(rng.uniform(0.5, 2.5))
                before = outages.fuse_daemons(path, b"glusterfs")

                killed = time.perf_counter()
                server.kill_brick()
                seconds, status = outages.watch(client, REF, connected=False, since=killed, timeout=30)
                result.detection.append(seconds)
                result.errors[status["lastError"][0]] += 1

                starting = time.perf_counter()
                server.start_brick(ready=False)  # waits for the old brick to be reaped, then start force
                back = time.perf_counter()
                result.server_back.append(back - starting)
                seconds, _ = outages.watch(client, REF, connected=True, since=back, timeout=60)
                result.recovery.append(seconds)
                if outages.fuse_daemons(path, b"glusterfs") != before:
                    result.remounted += 1
            outages.release_and_unmount(client, [REF], process.mount_root)
    finally:
        if process is not None:
            process.stop()
        server.stop()
        outages.kill_leftover_daemons(work.root, b"glusterfs")
    return outages.rows(
        NAME, result, what_down="brick SIGKILLed", what_up="`volume start force` returned"
    )
