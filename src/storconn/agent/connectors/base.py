"""The contract every connector keeps, and what they share.

A connector knows one storage type: where its target appears on this host,
how to tell from the mount table whether it is there, how to connect,
disconnect and repair it, and which child process probes its health. It
holds no state: the reconciler owns all of it, so a connector call can be
retried or run again after a restart without surprises.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from storconn.connection import ConnectionInfo

from ..system.mountinfo import MountEntry

# Long enough for any sane identity, short enough to stay under NAME_MAX (255)
# with room for the hash suffix.
_MAX_NAME_BYTES = 200


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Budgets for the external commands, in seconds.

    mount: a local mount takes milliseconds and a network mount a few seconds
    when the server is up; past 30 s the server is not answering and waiting
    longer only holds a pool slot.
    """

    mount: float = 30.0
    umount: float = 15.0
    ping: float = 3.0  # an NFS NULL call: a live server answers in milliseconds
    # stat/statvfs of a local directory: milliseconds, unless it lies on a
    # hung mount, where it would block for as long as that server is away.
    stat: float = 5.0


class Connector(Protocol):
    """How to connect one storage type. Every method is idempotent."""

    confirmed_by_tick: bool
    """True: after ``connect`` returns, the reconciler's next tick checks ``present()`` against the
    mount table it reads anyway (one read for hundreds of mounts). False: the operation checks at once."""

    def path(self, info: ConnectionInfo) -> str | None:
        """Where the target appears on this host (mount point, link), or None if nowhere."""

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        """Whether the target is there now, judged from the mount table and lstat only (never blocks)."""

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        """Make the target present; raise StorconnError with a code saying why not."""

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        """Take the target away; a target still in use raises StorconnError(code=BUSY) and stays."""

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        """Replace a dead target (lazy unmount, then connect again)."""

    def probe_command(self, path: str) -> list[str] | None:
        """The argv of a child process that exits 0 while the target is healthy, or None for no probe."""


def mount_name(identity: tuple[str, ...]) -> str:
    """A file name that encodes the whole identity, unambiguously and reversibly.

    Components are joined with ':' after percent-encoding '%', '/' and ':'
    in each; a leading '.' is encoded so the name is never hidden or '..'.
    """
    name = ":".join(quote(part, safe="") for part in identity[1:]) or identity[0]
    if name.startswith("."):
        name = "%2E" + name[1:]
    encoded = name.encode()
    if len(encoded) > _MAX_NAME_BYTES:
        digest = hashlib.sha256(encoded).hexdigest()[:16]
        name = encoded[: _MAX_NAME_BYTES - 17].decode(errors="ignore") + "-" + digest
    return name


def target_path(mount_root: Path, info: ConnectionInfo) -> str:
    return os.path.join(mount_root, info.type, mount_name(info.identity))


def statfs_probe(path: str) -> list[str]:
    """statfs(2) and a directory read of the mount point, in a child process.

    A child because a hung server leaves the caller in uninterruptible sleep:
    the agent only polls the child and gives up on it at the deadline.
    """
    return ["stat", "--file-system", "--format=%T", "--", path]
