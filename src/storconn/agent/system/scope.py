"""Transient systemd scopes for the FUSE daemons the agent's mounts start.

A FUSE mount (sshfs, glusterfs) is served by a daemon that ``mount``
forks and leaves behind. Started from the agent, it lands in the agent's
cgroup, and systemd's default ``KillMode=control-group`` kills every
process in that cgroup when the agent's unit stops or restarts: each
restart of the agent would cut every FUSE mount. ``start_new_session``
(see :func:`command.run`) protects the daemons from signals sent to the
agent's process group, not from that.

So under systemd the mount command runs through ``systemd-run --scope``:
systemd moves it into a transient scope unit of its own before it starts,
and the daemon it forks stays there, outside the agent's unit. The scope
ends by itself when its last process exits and is then garbage-collected
(``--collect``, also after a failure). Without systemd (containers, other
init systems, this test host) the argv is left as it is.

What could not be run here: PID 1 on the test host is not systemd, so the
scope itself is exercised only by unit tests of the argv; the detection
follows ``sd_booted(3)``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

from .command import CommandResult

SYSTEMD_RUN = "systemd-run"
# sd_booted(3): the system runs systemd as its init iff this directory exists.
SYSTEMD_RUNTIME = Path("/run/systemd/system")

# Characters a unit name may hold besides these are dropped from the readable
# part; the digest keeps the name unique per mount point.
_UNIT_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_READABLE_MAX = 60


def fuse_daemon_type(fstype: str) -> bool:
    """Whether mounting ``fstype`` leaves a daemon behind (a FUSE file system)."""
    return fstype.startswith("fuse") or fstype == "glusterfs"


def systemd_available(
    runtime_dir: Path = SYSTEMD_RUNTIME, *, which: str | None = None
) -> bool:
    """Whether systemd is the init system and ``systemd-run`` is installed."""
    program = which if which is not None else shutil.which(SYSTEMD_RUN)
    return runtime_dir.is_dir() and bool(program)


def unit_name(mountpoint: str, *, token: str | None = None) -> str:
    """``storconn-mount-<readable>-<digest>-<token>.scope`` for a mount of ``mountpoint``.

    The token differs on every mount: a repair mounts again while the old
    daemon's scope may still be winding down, and two units cannot share a
    name.
    """
    readable = _UNIT_UNSAFE.sub("_", Path(mountpoint).name)[:_READABLE_MAX].strip("_.-")
    digest = hashlib.sha256(mountpoint.encode(errors="surrogateescape")).hexdigest()[:12]
    token = token or secrets.token_hex(4)
    return f"storconn-mount-{readable or 'root'}-{digest}-{token}.scope"


def not_started(result: CommandResult) -> bool:
    """Whether ``systemd-run`` itself failed (no scope, the command never ran), by its own words.

    Its errors start "Failed to" (to connect to the bus, to start the
    transient scope unit); mount's start with "mount:" and its exit status is
    32 or more.
    """
    if result.ok or result.returncode >= 32 or result.argv[:1] != (SYSTEMD_RUN,):
        return False
    return any(line.strip().startswith("Failed to") for line in result.stderr.splitlines())


def in_own_scope(
    argv: Sequence[str], *, mountpoint: str, fstype: str, systemd: bool | None = None
) -> list[str]:
    """``argv`` run in a transient scope when it starts a FUSE daemon under systemd; else unchanged.

    ``systemd`` overrides the detection (tests). ``--scope`` runs the
    command in the caller's process after systemd created the scope, so the
    caller's timeout and process-group kill still apply to it.
    """
    if not fuse_daemon_type(fstype):
        return list(argv)
    if systemd is None:
        systemd = systemd_available()
    if not systemd:
        return list(argv)
    return [
        SYSTEMD_RUN,
        "--scope",
        "--collect",
        "--quiet",
        f"--unit={unit_name(mountpoint)}",
        # Not the mount point: its percent-encoded name would be read as
        # systemd specifiers.
        f"--description=storconn: the daemon of a {fstype} mount",
        "--",
        *argv,
    ]
