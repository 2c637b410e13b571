"""``mount`` and ``umount``, with timeouts and their failures translated to error codes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from storconn.connection import ErrorCode, StorconnError

from .command import CommandNotFound, CommandTimeout, run

# mount(8) exit status 32 is "mount failure"; the words tell which kind.
_UNSUPPORTED_HINTS = ("no such device", "unknown filesystem type", "not supported by the kernel")
_BUSY_HINTS = ("target is busy", "device is busy", "resource busy")


def mount(
    spec: str,
    mountpoint: str,
    *,
    fstype: str,
    options: Sequence[str] = (),
    timeout: float,
    secrets: Iterable[str] = (),
) -> None:
    """Mount ``spec`` on ``mountpoint``; raise StorconnError with a code that says why not."""
    argv = ["mount", "-t", fstype]
    if options:
        argv += ["-o", ",".join(options)]
    argv += ["--", spec, mountpoint]
    try:
        result = run(argv, timeout=timeout, secrets=secrets)
    except CommandTimeout as exc:
        raise StorconnError(
            f"mount of {spec} did not finish within {timeout:g} s", code=ErrorCode.TIMEOUT
        ) from exc
    except CommandNotFound as exc:
        raise StorconnError(str(exc), code=ErrorCode.UNSUPPORTED) from exc
    if result.ok:
        return
    words = result.message()
    lowered = words.lower()
    if "unknown filesystem type" in lowered or not type_known(fstype):
        raise StorconnError(f"mount type {fstype!r} is not known here: {words}", code=ErrorCode.MOUNT_TYPE)
    if any(hint in lowered for hint in _UNSUPPORTED_HINTS):
        raise StorconnError(
            f"this kernel cannot mount {fstype} (no {fstype} support): {words}",
            code=ErrorCode.UNSUPPORTED,
        )
    if "permission denied" in lowered or "access denied" in lowered:
        raise StorconnError(f"mount of {spec} refused: {words}", code=ErrorCode.ACCESS_PERMISSION)
    raise StorconnError(f"mount of {spec} failed: {words}", code=ErrorCode.MOUNT_ERROR)


def type_known(fstype: str) -> bool:
    """Whether this host can mount ``fstype``: the kernel lists it, or a mount helper exists.

    Asked only after a mount failed, because mount(8) reports an unknown type
    as a missing device when the spec is not a block device.
    """
    if any(os.path.exists(f"{d}/mount.{fstype}") for d in ("/sbin", "/usr/sbin", "/bin", "/usr/bin")):
        return True
    base = fstype.split(".", 1)[0]
    try:
        with open("/proc/filesystems") as table:
            known = {line.split()[-1] for line in table if line.strip()}
    except OSError:
        return True
    if base in known:
        return True
    # Not loaded is not the same as not available: a module may exist.
    release = os.uname().release
    return any(
        os.path.exists(f"/lib/modules/{release}/kernel/fs/{base}/{base}.ko{ext}")
        for ext in ("", ".xz", ".zst", ".gz")
    )


def umount(mountpoint: str, *, timeout: float, lazy: bool = False) -> None:
    """Unmount ``mountpoint``; a busy mount raises StorconnError with code BUSY.

    ``lazy`` is for repairing a dead mount only: a release never detaches a
    mount that someone still uses.
    """
    argv = ["umount", "-l", "--", mountpoint] if lazy else ["umount", "--", mountpoint]
    try:
        result = run(argv, timeout=timeout)
    except CommandTimeout as exc:
        raise StorconnError(
            f"umount of {mountpoint} did not finish within {timeout:g} s", code=ErrorCode.TIMEOUT
        ) from exc
    if result.ok:
        return
    words = result.message()
    if any(hint in words.lower() for hint in _BUSY_HINTS):
        raise StorconnError(f"{mountpoint} is busy: {words}", code=ErrorCode.BUSY)
    raise StorconnError(f"umount of {mountpoint} failed: {words}", code=ErrorCode.DISCONNECTION)
