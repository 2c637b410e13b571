"""Reading and cleaning real mounts."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from storconn.agent.system import mountinfo


def mounts_under(root: Path) -> dict[str, mountinfo.MountEntry]:
    prefix = str(root).rstrip("/") + "/"
    return {p: e for p, e in mountinfo.read().items() if p.startswith(prefix)}


def unmount_all_under(root: Path) -> None:
    """Tear down whatever a test left, deepest first, lazily (a test may have died mid-way)."""
    for path in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", path], timeout=15, check=False, capture_output=True)


def eventually(condition: Callable[[], object], *, timeout: float = 10.0, interval: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
