"""``mount`` and ``umount``, with timeouts and their failures translated to error codes.

Two things about how mount(8) is run:

- Options holding a secret (cifs-style ``password=``) never go on a command
  line, which every local user can read in ``/proc/PID/cmdline``. They go
  in a private fstab (a 0600 file in a 0700 directory) that ``mount -T``
  reads, with ``--internal-only`` so libmount makes the mount(2) call itself
  and no helper program gets them in its argv. Types that only mount
  through a helper (FUSE, GlusterFS, NFS) would put them back on a command
  line, so secret options are refused for those.
- FUSE mounts run in a transient systemd scope where systemd runs (see
  :mod:`scope`), so their daemons outlive a restart of the agent's unit.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from storconn.connection import ErrorCode, StorconnError

from . import scope
from .command import CommandNotFound, CommandResult, CommandTimeout, run

log = logging.getLogger(__name__)

# mount(8) exit status 32 is "mount failure"; the words tell which kind.
_UNSUPPORTED_HINTS = ("no such device", "unknown filesystem type", "not supported by the kernel")
_BUSY_HINTS = ("target is busy", "device is busy", "resource busy")
_HELPER_DIRS = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")
# Mounted only through a helper program: libmount cannot do these alone.
_HELPER_ONLY = ("nfs", "nfs4", "glusterfs")


def mount(
    spec: str,
    mountpoint: str,
    *,
    fstype: str,
    options: Sequence[str] = (),
    timeout: float,
    secrets: Iterable[str] = (),
    systemd: bool | None = None,
) -> None:
    """Mount ``spec`` on ``mountpoint``; raise StorconnError with a code that says why not.

    ``secrets`` are the secret values among ``options``: with any, the
    options travel in a private fstab, never in an argv (a type that needs a
    helper program refuses them: INVALID_PARAMETER). ``systemd`` overrides
    the detection of systemd for the FUSE scope (tests).
    """
    hidden = [secret for secret in secrets if secret]
    if hidden and needs_helper(fstype):
        raise StorconnError(
            f"params.options: options holding a secret cannot be given to {fstype}: its mount "
            "helper would show them to every local user on its command line",
            code=ErrorCode.INVALID_PARAMETER,
        )
    with ExitStack() as stack:
        if hidden:
            target = os.path.realpath(mountpoint)
            fstab = stack.enter_context(_private_fstab(spec, target, fstype, options))
            argv = ["mount", "--internal-only", "--fstab", str(fstab), "--target", target]
        else:
            argv = ["mount", "-t", fstype]
            if options:
                argv += ["-o", ",".join(options)]
            argv += ["--", spec, mountpoint]
        scoped = scope.in_own_scope(argv, mountpoint=mountpoint, fstype=fstype, systemd=systemd)
        result = _run_mount(scoped, spec, timeout=timeout, secrets=hidden)
        if scoped != argv and scope.not_started(result):
            # systemd is there but will not make the scope (no bus in a
            # container, a policy): a mount without one beats no mount.
            log.warning("no systemd scope for the %s mount on %s (%s); mounting without one, so "
                        "its daemon stops with the agent's unit", fstype, mountpoint, result.message())
            result = _run_mount(argv, spec, timeout=timeout, secrets=hidden)
        _raise_for(result, spec, fstype)


def needs_helper(fstype: str) -> bool:
    """Whether mount(8) hands ``fstype`` to a helper program (``mount.<type>``, FUSE)."""
    return scope.fuse_daemon_type(fstype) or fstype in _HELPER_ONLY or _helper(fstype) is not None


def fstab_field(text: str) -> str:
    """``text`` as one fstab field: whitespace, ``\\`` and ``#`` as octal escapes, as libmount reads them."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\r\\#" else c for c in text)


@contextmanager
def _private_fstab(spec: str, target: str, fstype: str, options: Sequence[str]) -> Iterator[Path]:
    # mkdtemp makes the directory 0700 and mkstemp the file 0600, both before
    # a byte of the options is written; both go when the mount has run.
    with tempfile.TemporaryDirectory(prefix="storconn-mount-") as directory:
        fd, name = tempfile.mkstemp(dir=directory, suffix=".fstab")
        with os.fdopen(fd, "w") as fstab:
            fields = (spec, target, fstype, ",".join(options) or "defaults", "0", "0")
            fstab.write(" ".join(fstab_field(field) for field in fields) + "\n")
        yield Path(name)


def _run_mount(argv: list[str], spec: str, *, timeout: float, secrets: list[str]) -> CommandResult:
    try:
        return run(argv, timeout=timeout, secrets=secrets)
    except CommandTimeout as exc:
        raise StorconnError(
            f"mount of {spec} did not finish within {timeout:g} s", code=ErrorCode.TIMEOUT
        ) from exc
    except CommandNotFound as exc:
        raise StorconnError(str(exc), code=ErrorCode.UNSUPPORTED) from exc


def _raise_for(result: CommandResult, spec: str, fstype: str) -> None:
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
    if _helper(fstype) is not None:
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


def _helper(fstype: str) -> str | None:
    for directory in _HELPER_DIRS:
        path = f"{directory}/mount.{fstype}"
        if os.path.exists(path):
            return path
    return None


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
