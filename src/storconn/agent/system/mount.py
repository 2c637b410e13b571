"""``mount`` and ``umount``, with timeouts and their failures translated to error codes."""

from __future__ import annotations

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
    if "unknown filesystem type" in lowered:
        raise StorconnError(f"mount type {fstype!r} is not known here: {words}", code=ErrorCode.MOUNT_TYPE)
    if any(hint in lowered for hint in _UNSUPPORTED_HINTS):
        raise StorconnError(
            f"this kernel cannot mount {fstype} (no {fstype} support): {words}",
            code=ErrorCode.UNSUPPORTED,
        )
    if "permission denied" in lowered or "access denied" in lowered:
        raise StorconnError(f"mount of {spec} refused: {words}", code=ErrorCode.ACCESS_PERMISSION)
    raise StorconnError(f"mount of {spec} failed: {words}", code=ErrorCode.MOUNT_ERROR)


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
