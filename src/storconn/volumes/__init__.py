"""cinderlib's volume API on storconn: volumes, snapshots and Connections whose
exports and host connections live exactly as long as their last user.

A program written against cinderlib runs after changing its import::

    import storconn.volumes as cl
    cl.setup(persistence_config={"storage": "db", "connection": "sqlite:////var/lib/storconn/volumes.db"})
    shared = cl.Backend(volume_backend_name="gl1", volume_driver="file", share="glusterfs://gl1/vol0")
    vol = shared.create_volume(size=1)
    attach = vol.attach()
    ...
    vol.detach()

See docs/volumes.md for the flows, the ``conn_info`` shapes and the lifecycle.
"""

from __future__ import annotations

from .backend import Backend, setup
from .cleanup import CleanupReport, cleanup
from .connection import Connection
from .connector import get_connector_properties
from .errors import (
    AgentError,
    BackendError,
    ConcurrentUpdate,
    ConnectionNotFound,
    InvalidSize,
    InvalidVolume,
    NotFound,
    NotLocal,
    SnapshotNotFound,
    VolumeError,
    VolumeNotFound,
)
from .records import KeyValue
from .serialization import dump, dumps, json, jsons, load
from .snapshot import Snapshot
from .volume import Volume

__all__ = [
    "AgentError",
    "Backend",
    "BackendError",
    "CleanupReport",
    "ConcurrentUpdate",
    "Connection",
    "ConnectionNotFound",
    "InvalidSize",
    "InvalidVolume",
    "KeyValue",
    "NotFound",
    "NotLocal",
    "Snapshot",
    "SnapshotNotFound",
    "Volume",
    "VolumeError",
    "VolumeNotFound",
    "cleanup",
    "dump",
    "dumps",
    "get_connector_properties",
    "json",
    "jsons",
    "load",
    "setup",
]
