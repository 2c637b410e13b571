"""outage_sshfs: a real sshd killed and started again, as a client of the agent sees it.

One agent process with its default timings (probe interval 2 s, probe
timeout 2 s, backoff 0.25 s up to 1.5 s, period 1 s) holds one ``posixfs``
``fuse.sshfs`` reference to a directory served by a real OpenSSH server on
127.0.0.1 (tests/peers/sshd.py). Each round:

- **detection**: SIGKILL the sshd and every session it serves, then poll
  ``statuses`` over HTTP every 20 ms; the time until it says
  ``connected: false``. Budget: probe interval + probe timeout (4 s, as
  docs/agent.md promises); the issue's target is 5 s.
- **recovery**: start sshd again; ``SshServer.start`` returns once a real ssh
  login works, and the clock starts then (the server's own start-up is not
  the agent's); the time until ``statuses`` says ``connected: true``.
  Budget: the backoff cap, 1.5 s.

Between rounds the server is left up for a random 0.5–2.5 s, so the kills
fall at every phase of the probe interval rather than always right after a
probe.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from tests.peers import sshd

from . import outages
from .outages import Outages
from .report import Row
from .workspace import Workspace

NAME = "outage_sshfs"
DESCRIPTION = (
    "sshd killed → connected: false (4 s), sshd back → connected: true (1.5 s); default timings, 10 rounds"
)
ROUNDS = 10
REF = "ssh"


def run(work: Workspace) -> list[Row]:
    if os.geteuid() != 0:
        return outages.skipped(NAME, "needs root: sshd and FUSE mounts")
    reason = sshd.available()
    if reason:
        return outages.skipped(NAME, reason)

    server = sshd.SshServer(work.dir("sshd"))
    remote = work.dir("remote")
    server.start()
    process = work.agent()  # default timings
    result = Outages()
    rng = random.Random(20261122)
    try:
        with process.client() as client:
            assert client.acquire({REF: _info(server, str(remote))}) == {REF: 0}
            first = client.wait([REF], timeout=30)[REF]
            if not first["connected"]:
                raise RuntimeError(f"sshfs reference did not connect: {first['lastError']}")
            path = str(first["path"])
            for _ in range(ROUNDS):
                time.sleep(rng.uniform(0.5, 2.5))
                before = outages.fuse_daemons(path, b"sshfs")

                killed = time.perf_counter()
                server.kill()
                seconds, status = outages.watch(client, REF, connected=False, since=killed, timeout=30)
                result.detection.append(seconds)
                result.errors[status["lastError"][0]] += 1

                starting = time.perf_counter()
                server.start()  # returns once an ssh login works
                back = time.perf_counter()
                result.server_back.append(back - starting)
                seconds, _ = outages.watch(client, REF, connected=True, since=back, timeout=30)
                result.recovery.append(seconds)
                if outages.fuse_daemons(path, b"sshfs") != before:
                    result.remounted += 1
            outages.release_and_unmount(client, [REF], process.mount_root)
    finally:
        process.stop()
        server.stop()
        outages.kill_leftover_daemons(work.root, b"sshfs")
    return outages.rows(NAME, result, what_down="sshd SIGKILLed", what_up="sshd answering ssh logins again")


def _info(server: sshd.SshServer, remote: str) -> dict[str, Any]:
    return {
        "type": "posixfs",
        "params": {"spec": f"root@127.0.0.1:{remote}", "vfsType": "fuse.sshfs", "options": server.sshfs_options()},
    }
