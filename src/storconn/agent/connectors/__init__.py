"""One connector per storage type: how to connect, disconnect, observe and probe it."""

from __future__ import annotations

from pathlib import Path

from storconn.connection import ConnectionInfo, ErrorCode, StorconnError

from ..system.mountinfo import MountEntry
from .base import Connector, Timeouts, mount_name
from .iscsi import IscsiConnector
from .localfs import LocalfsConnector
from .mounted import GlusterfsConnector, NfsConnector, PosixfsConnector

__all__ = ["Connector", "Timeouts", "mount_name", "build_connectors", "FcpConnector", "Unavailable"]


class FcpConnector:
    """Fibre Channel needs no connect step: the HBA logs in by itself, as in VDSM."""

    confirmed_by_tick = False  # no mount table to read: the operation checks at once

    def path(self, info: ConnectionInfo) -> str | None:
        return None

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        return True

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        return None

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        return None

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        return None

    def probe_command(self, path: str) -> list[str] | None:
        return None


class Unavailable:
    """A type whose connector this agent does not have yet: every connect says so."""

    def __init__(self, type_name: str) -> None:
        self._type = type_name

    def path(self, info: ConnectionInfo) -> str | None:
        return None

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        return False

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        raise StorconnError(
            f"this agent cannot connect {self._type} targets yet", code=ErrorCode.UNSUPPORTED
        )

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        return None

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        self.connect(info, path)

    def probe_command(self, path: str) -> list[str] | None:
        return None


def build_connectors(
    mount_root: Path,
    *,
    timeouts: Timeouts = Timeouts(),
    localfs_user: tuple[int, int] | None = None,
    log_dir: Path | None = None,
) -> dict[str, Connector]:
    return {
        "posixfs": PosixfsConnector(mount_root, timeouts),
        "nfs": NfsConnector(mount_root, timeouts),
        "glusterfs": GlusterfsConnector(mount_root, timeouts, log_dir=log_dir or mount_root.parent / "log"),
        "localfs": LocalfsConnector(mount_root, user=localfs_user, timeout=timeouts.stat),
        "iscsi": IscsiConnector(timeouts),
        "fcp": FcpConnector(),
    }
