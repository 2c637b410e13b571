"""Connectors for every storage type that appears as a mount: posixfs, nfs, glusterfs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from storconn.connection import (
    ConnectionInfo,
    GlusterfsInfo,
    NfsInfo,
    PosixfsInfo,
    split_options,
)

from ..system import mount as mount_cmd
from ..system.mountinfo import MountEntry
from .base import Timeouts, statfs_probe, target_path

log = logging.getLogger(__name__)


class MountConnector:
    """A file system mounted at ``<mount-root>/<type>/<name>``."""

    def __init__(self, mount_root: Path, timeouts: Timeouts) -> None:
        self._mount_root = mount_root
        self._timeouts = timeouts

    def path(self, info: ConnectionInfo) -> str:
        return target_path(self._mount_root, info)

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        return path is not None and path in mounts

    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        """(spec, fstype, options) for mount(8)."""
        raise NotImplementedError

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        spec, fstype, options = self.mount_args(info)
        os.makedirs(path, mode=0o755, exist_ok=True)
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
        _remove_empty_dir(path)

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        # A dead FUSE or stale NFS mount cannot be unmounted normally; detaching
        # it lazily is safe here because the agent mounts it again at once.
        mount_cmd.umount(path, timeout=self._timeouts.umount, lazy=True)
        self.connect(info, path)

    def probe_command(self, path: str) -> list[str] | None:
        return statfs_probe(path)


class PosixfsConnector(MountConnector):
    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        assert isinstance(info, PosixfsInfo)
        return info.params.spec, info.params.vfs_type, split_options(info.params.options)


class NfsConnector(MountConnector):
    """NFS with the options the agent manages.

    timeo=100 (10 s) and retrans=3 with ``soft``: a dead server surfaces as EIO
    after about timeo * (retrans + 1) = 40 s instead of hanging forever.
    """

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
    def mount_args(self, info: ConnectionInfo) -> tuple[str, str, list[str]]:
        assert isinstance(info, GlusterfsInfo)
        options = split_options(info.params.options)
        if info.params.backup_servers:
            options.append("backup-volfile-servers=" + ":".join(info.params.backup_servers))
        return info.params.spec, "glusterfs", options


def _remove_empty_dir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError as exc:
        log.debug("left mount point %s in place: %s", path, exc.strerror)
