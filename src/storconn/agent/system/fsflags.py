"""The immutable flag of a directory (``chattr +i``), through the FS_IOC_SETFLAGS ioctl.

An empty mount point that is immutable cannot be written by anyone, root
included: while nothing is mounted on it, a client that writes to the path
gets EPERM instead of filling the root file system. Mounting over an
immutable directory works as over any other, and the flag is kept on disk
across restarts and reboots. ext4, xfs, btrfs and tmpfs (since Linux 6.0)
support it; on a file system that does not, :func:`set_immutable` says so
and the caller carries on without it.
"""

from __future__ import annotations

import array
import fcntl
import os

# From <linux/fs.h>; the argument is an int despite the ioctl's "long" name.
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


def _flags(fd: int) -> int:
    buffer = array.array("i", [0])
    fcntl.ioctl(fd, FS_IOC_GETFLAGS, buffer, True)
    return buffer[0]


def is_immutable(path: str) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        return bool(_flags(fd) & FS_IMMUTABLE_FL)
    finally:
        os.close(fd)


def set_immutable(path: str, immutable: bool) -> None:
    """Set or clear the flag on the directory ``path`` (never following a link); raise OSError if unsupported."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        flags = _flags(fd)
        wanted = flags | FS_IMMUTABLE_FL if immutable else flags & ~FS_IMMUTABLE_FL
        if wanted != flags:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, array.array("i", [wanted]), False)
    finally:
        os.close(fd)
