"""Connectors for every storage type that appears as a mount: posixfs, nfs, glusterfs."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from storconn.connection import (
    ConnectionInfo,
    ErrorCode,
    StorconnError,
    GlusterfsInfo,
    NfsInfo,
    PosixfsInfo,
    split_options,
)
from storconn.connection.fstypes import BLOCK_FS_TYPES

from ..system import fsflags, mountinfo, nfs_ping
from ..system import mount as mount_cmd
from ..system.mountinfo import MountEntry
from .base import Timeouts, statfs_probe, target_path

log = logging.getLogger(__name__)


class MountConnector:
    """A file system mounted at ``<mount-root>/<type>/<name>``.

    The mount point is made immutable while nothing is mounted on it: when the
    mount goes away behind the agent's back (a FUSE daemon killed, a lazy
    unmount during a repair whose reconnect failed), writes to the path fail
    with EPERM instead of landing on the root file system.
    """

    # Operations leave the check that a mount is really there to the next
    # tick, which reads the whole mount table anyway (Operations.confirm_mount_locked).
    confirmed_by_tick = True

    def __init__(self, mount_root: Path, timeouts: Timeouts) -> None:
        self._mount_root = mount_root
        self._timeouts = timeouts
        self._expected_cache: dict[ConnectionInfo, tuple[str, frozenset[str]]] = {}

    def path(self, info: ConnectionInfo) -> str:
        return target_path(self._mount_root, info)

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        entry = mounts.get(path) if path is not None else None
        return entry is not None and self.matches(info, entry)

    def matches(self, info: ConnectionInfo, entry: MountEntry) -> bool:
        """Whether ``entry`` is this target: the expected file-system type and source, not merely the path."""
        spec, types = self._expected(info)
        if types and entry.fstype not in types:
            return False
        return same_source(spec, entry.source)

    def fstypes(self, info: ConnectionInfo) -> frozenset[str]:
        """The types the mount table may show for this target; empty for "any"."""
        return self._expected(info)[1]

    def _expected(self, info: ConnectionInfo) -> tuple[str, frozenset[str]]:
        """(spec, types) a mount of ``info`` shows; remembered, since every tick asks for every target."""
        cache = self._expected_cache
        found = cache.get(info)
        if found is None:
            spec, fstype, _ = self.mount_args(info)
            if len(cache) > 10_000:
                cache.clear()
            found = cache[info] = (spec, _shown_types(fstype))
        return found

    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        """(spec, fstype, options) for mount(8)."""
        raise NotImplementedError

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        spec, fstype, options = self.mount_args(info)
        prepare_mount_point(path)
        mount_cmd.mount(
            spec,
            path,
            fstype=fstype,
            options=options,
            timeout=self._timeouts.mount,
            secrets=info.secrets(),
        )

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        mount_cmd.umount(path, timeout=self._timeouts.umount)
        remove_mount_point(path)

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        # A dead FUSE or stale NFS mount cannot be unmounted normally; detaching
        # it lazily is safe here because the agent mounts it again at once,
        # and the sealed mount point underneath takes no writes meanwhile.
        mount_cmd.umount(path, timeout=self._timeouts.umount, lazy=True)
        self.connect(info, path)

    def probe_command(self, path: str) -> list[str] | None:
        return statfs_probe(path)


def _shown_types(fstype: str) -> frozenset[str]:
    """What mountinfo calls a mount made with ``-t fstype``."""
    if fstype in ("nfs", "nfs4"):
        return frozenset({"nfs", "nfs4"})  # the kernel names the version it negotiated
    if fstype in ("glusterfs", "fuse.glusterfs"):
        return frozenset({"fuse.glusterfs"})
    if fstype == "auto":
        return frozenset()
    return frozenset({fstype})


def _normal_source(source: str) -> str:
    """``host:/a//b/`` and ``host:a/b`` alike; other sources unchanged but for a trailing slash."""
    head, sep, tail = source.rpartition(":") if not source.startswith("/") else ("", "", source)
    if sep and "/" not in head and head:
        tail = "/" + "/".join(part for part in tail.split("/") if part)
        return f"{head.lower()}:{tail}"
    return source.rstrip("/") or source


def same_source(spec: str, shown: str) -> bool:
    """Whether mountinfo's source ``shown`` is what mounting ``spec`` gives.

    A device or image path may appear resolved (``/dev/sdb1`` for a link to
    it, ``/dev/loopN`` for an image mounted with ``loop``); ``UUID=``/``LABEL=``
    specs name no path, so only the type is checked for them.
    """
    if _normal_source(spec) == _normal_source(shown):
        return True
    if spec.startswith(("UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=")):
        return True
    if not spec.startswith("/"):
        return False
    if mountinfo.loop_backing_file(shown) == spec:
        return True  # an image mounted with ``loop`` (sysfs: never blocks)
    if spec.startswith("/dev/"):
        # A link to a device (/dev/disk/by-uuid/...): resolving it reads
        # devtmpfs only. Paths elsewhere are never resolved here, since this
        # runs on every tick and an image may lie on a hung mount.
        return shown == os.path.realpath(spec)
    return False


def prepare_mount_point(path: str) -> None:
    """Create the mount point and seal it (immutable) while nothing is mounted on it."""
    os.makedirs(path, mode=0o755, exist_ok=True)
    if _mounted_on(path):
        return  # the flag would land on what is mounted there, not on the directory
    try:
        fsflags.set_immutable(path, True)
    except OSError as exc:
        log.warning("cannot make mount point %s immutable (%s): while it is not mounted, "
                    "writes to it land on the local file system", path, exc.strerror)


def _mounted_on(path: str) -> bool:
    """Whether a file system is mounted on ``path``: its device differs from its parent's.

    Two lstat calls instead of a read of a mount table hundreds of entries
    long, for every connect. A dead mount (ENOTCONN, EIO) counts as mounted.
    """
    try:
        return os.lstat(path).st_dev != os.lstat(os.path.dirname(path)).st_dev
    except OSError:
        return True


def remove_mount_point(path: str) -> None:
    """Unseal and remove the mount point once nothing is mounted on it; leave it if anything is."""
    if mountinfo.read(path):
        return
    try:
        fsflags.set_immutable(path, False)
    except OSError as exc:
        log.debug("cannot clear the immutable flag of %s: %s", path, exc.strerror)
    _remove_empty_dir(path)


# sshfs without these hangs file operations for minutes on a stopped server
# (in D state, deaf to signals), and exits for good when its session dies,
# leaving writes to land on the local directory underneath. With them: a dead
# session is retried (reconnect), a silent server is noticed after
# 2 s × 2 keep-alives, and each new connection gives up after 3 s, so the
# agent's statfs probe gets EIO within about 5 s instead of hanging.
SSHFS_DEFAULTS: dict[str, str | None] = {
    "reconnect": None,
    "ServerAliveInterval": "2",
    "ServerAliveCountMax": "2",
    "ConnectTimeout": "3",
    "BatchMode": "yes",
}


def with_defaults(options: list[str], defaults: dict[str, str | None]) -> list[str]:
    """``options`` plus each default the user did not set; the user's own values win."""
    given = {option.split("=", 1)[0].strip().lower() for option in options}
    extra = [name if value is None else f"{name}={value}"
             for name, value in defaults.items() if name.lower() not in given]
    return options + extra


# Storage is data, not programs or device nodes: a set-uid binary or a device
# node on a mounted share must not give its author root on the host. Users
# cannot turn these off (``suid`` and ``dev`` are refused options).
HARDENED_DEFAULTS = ["nosuid", "nodev"]


class PosixfsConnector(MountConnector):
    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        assert isinstance(info, PosixfsInfo)
        options = split_options(info.params.options)
        if info.params.vfs_type == "fuse.sshfs":
            options = with_defaults(options, SSHFS_DEFAULTS)
        return info.params.spec, info.params.vfs_type, with_defaults(options, dict.fromkeys(HARDENED_DEFAULTS))

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        assert isinstance(info, PosixfsInfo)
        if info.params.vfs_type in BLOCK_FS_TYPES:
            self._refuse_host_device(info)
        super().connect(info, path)

    def _refuse_host_device(self, info: PosixfsInfo) -> None:
        """Never mount a device the host has mounted elsewhere: that would be a second view of a host file system.

        ``/dev/vda1`` or ``LABEL=root`` would otherwise show the host's own
        root under the mount root, to whoever can acquire a reference.
        Images (``loop``) are files, not the host's devices; resolving them
        could hang on a dead mount, so they are not looked at here.
        """
        device = _device_number(info.params.spec)
        if device is None:
            return
        root = str(self._mount_root).rstrip("/") + "/"
        for entry in mountinfo.read(None).values():
            if entry.device == device and not entry.mountpoint.startswith(root):
                raise StorconnError(
                    f"{info.params.spec} is the device of the host's file system at {entry.mountpoint}; "
                    "the agent does not mount host file systems",
                    code=ErrorCode.ACCESS_PERMISSION,
                )


class NfsConnector(MountConnector):
    """NFS with the options the agent manages.

    Timing budget: ``soft,timeo=100,retrans=3`` over TCP. The client backs off
    linearly (10, 20, 30, 40 s), so an application's request to a dead server
    fails with EIO after about 100 s instead of hanging forever, as it would
    with ``hard``; VDSM's values, long enough to ride out a server fail-over.
    The agent itself does not wait that long: its statfs probe runs in a child
    and reports the target hung after probe_timeout (2 s).
    ``nosharecache`` keeps two mounts of one server with different options
    from silently sharing the first one's; ``nolock`` for v3, since lockd
    needs rpcbind and storage domains use sanlock, not NFS locks.
    """

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        assert isinstance(info, NfsInfo)
        # Asking the server first separates "server down" from "this host
        # cannot mount NFS", which mount(8) reports alike.
        server = info.identity[1]
        answer = nfs_ping.ping(server, port=_nfs_port(info), timeout=self._timeouts.ping)
        if not answer.reachable:
            raise StorconnError(f"NFS server not reachable: {answer.detail}", code=ErrorCode.CONNECTION)
        super().connect(info, path)

    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        assert isinstance(info, NfsInfo)
        params = info.params
        options = ["soft", "nosharecache"]
        options.append(f"timeo={params.timeout or 100}")
        options.append(f"retrans={params.retrans if params.retrans is not None else 3}")
        if params.version and params.version != "auto":
            options.append(f"vers={params.version}")
        if params.version == "3":
            options.append("nolock")
        options += split_options(params.options)
        return params.export, "nfs", options


class GlusterfsConnector(MountConnector):
    """GlusterFS through its FUSE client, with a log of its own per target.

    mount.glusterfs reports every failure as "Mount failed. Check the log
    file for more details"; the reason (brick not running, volume not
    started) is only in the client's log, so the agent names that log and
    quotes its last error line.
    """

    def __init__(self, mount_root: Path, timeouts: Timeouts, *, log_dir: Path) -> None:
        super().__init__(mount_root, timeouts)
        self._log_dir = log_dir

    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        assert isinstance(info, GlusterfsInfo)
        options = split_options(info.params.options)
        if info.params.backup_servers:
            options.append("backup-volfile-servers=" + ":".join(info.params.backup_servers))
        options = with_defaults(options, {"log-file": str(self._log_path(info))})
        return info.params.spec, "glusterfs", options

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            super().connect(info, path)
        except StorconnError as exc:
            reason = _last_error_line(self._log_path(info))
            if reason is None:
                raise
            raise StorconnError(f"{exc.message}; the client log says: {reason}", code=exc.code) from exc

    def _log_path(self, info: ConnectionInfo) -> Path:
        return self._log_dir / f"glusterfs-{os.path.basename(self.path(info))}.log"


def _last_error_line(log: Path) -> str | None:
    """The message of the log's last error line (``... E [file:line:function] name: message``)."""
    try:
        with log.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 16384))
            lines = file.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if "] E [" in line:
            return line.split("] ", 2)[-1].strip()[:300]
    return None


def _nfs_port(info: NfsInfo) -> int:
    """The server port: the ``port=`` mount option when the user gave one, else 2049."""
    for option in split_options(info.params.options):
        name, _, value = option.partition("=")
        if name.strip().lower() == "port" and value.strip().isdigit() and int(value) > 0:
            return int(value)
    return nfs_ping.NFS_PORT


def _remove_empty_dir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError as exc:
        log.debug("left mount point %s in place: %s", path, exc.strerror)


_DEVICE_TAG_DIRS = {"UUID": "by-uuid", "PARTUUID": "by-partuuid", "LABEL": "by-label", "PARTLABEL": "by-partlabel"}


def _device_number(spec: str) -> str | None:
    """``"major:minor"`` of the block device ``spec`` names (a /dev path or a tag), or None.

    Only ``/dev`` is looked at (devtmpfs never hangs); a spec naming no
    block device gives None and the mount itself reports why.
    """
    tag, sep, value = spec.partition("=")
    if sep and tag in _DEVICE_TAG_DIRS:
        spec = f"/dev/disk/{_DEVICE_TAG_DIRS[tag]}/{value}"
    if not spec.startswith("/dev/"):
        return None
    try:
        status = os.stat(spec)
    except OSError:
        return None
    if not stat.S_ISBLK(status.st_mode):
        return None
    return f"{os.major(status.st_rdev)}:{os.minor(status.st_rdev)}"
