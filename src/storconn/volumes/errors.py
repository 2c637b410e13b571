"""The volumes library's exceptions, with cinderlib's names.

The tree::

    StorconnError (storconn.connection)
     └── VolumeError
          ├── NotFound
          │    ├── VolumeNotFound
          │    ├── SnapshotNotFound
          │    └── ConnectionNotFound
          ├── InvalidVolume        the volume's state or kind forbids the request
          ├── InvalidSize          not a positive whole number of GiB, or shrinking
          ├── NotLocal             a local action on a connection of another host
          ├── ConcurrentUpdate     another controller changed the row first; retry
          ├── BackendError         the storage refused or failed (tgtd, the share)
          └── AgentError           the host's agent refused or failed an attach

``storconn.connection.InvalidParameter`` is raised for bad arguments and
names the field. Foreign exceptions (sqlalchemy, OSError, httpx) are
translated where they happen, with ``raise ... from exc``.
"""

from __future__ import annotations

from storconn.connection import ErrorCode, StorconnError

__all__ = [
    "AgentError",
    "BackendError",
    "ConcurrentUpdate",
    "ConnectionNotFound",
    "InvalidSize",
    "InvalidVolume",
    "NotFound",
    "NotLocal",
    "SnapshotNotFound",
    "VolumeError",
    "VolumeNotFound",
]


class VolumeError(StorconnError):
    """Base of every error the volumes library raises on its own."""


class NotFound(VolumeError):
    """A volume, snapshot, connection or key the persistence does not hold."""

    kind = "resource"

    def __init__(self, resource_id: str = "") -> None:
        super().__init__(f"{self.kind} {resource_id} could not be found".replace("  ", " "),
                         code=ErrorCode.GENERAL)
        self.resource_id = resource_id


class VolumeNotFound(NotFound):
    kind = "volume"


class SnapshotNotFound(NotFound):
    kind = "snapshot"


class ConnectionNotFound(NotFound):
    kind = "connection"


class InvalidVolume(VolumeError):
    """The volume's status or kind forbids the request (a second attach of a non-multiattach volume)."""


class InvalidSize(VolumeError):
    """A size that is not a positive whole number of GiB, or an extend that would shrink."""


class NotLocal(VolumeError):
    """A local attach or detach asked of a connection made for another host."""


class ConcurrentUpdate(VolumeError):
    """Another controller changed this row since it was read; read it again and retry."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.CONFLICT)


class BackendError(VolumeError):
    """The storage back end (tgtd, the share's file system) failed a request."""


class AgentError(VolumeError):
    """The host's agent refused or failed; ``code`` is the agent's."""
