"""This boot's identity, to tell the agent's own mounts from those of an earlier boot."""

from __future__ import annotations

import functools
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@functools.cache
def boot_id() -> str:
    """The kernel's random id of this boot; it changes at every reboot and never within one."""
    return BOOT_ID.read_text().strip()
