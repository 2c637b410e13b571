"""Module-level ``load``, ``json``, ``jsons``, ``dump``, ``dumps`` (cinderlib's names).

``json()``/``dump()`` serialize every backend of the process; ``load``
takes any serialized object (or a list of them) back. ``load(..., save=True)``
also writes the records into this process's persistence: that is how a
volume moves between two controllers that share nothing.
"""

from __future__ import annotations

import json as json_lib
from typing import Any

from storconn.connection import InvalidParameter

from .records import ConnectionRecord, SnapshotRecord, VolumeRecord

__all__ = ["dump", "dumps", "json", "jsons", "load"]


def load(json_src: dict[str, Any] | list[Any] | str, save: bool = False) -> Any:
    from .backend import Backend
    from .connection import Connection
    from .snapshot import Snapshot
    from .volume import Volume

    if isinstance(json_src, str):
        json_src = json_lib.loads(json_src)
    if isinstance(json_src, list):
        return [load(item, save) for item in json_src]
    if not isinstance(json_src, dict):
        raise InvalidParameter("json_src", "must be a serialized storconn.volumes object")
    kind = json_src.get("class")
    if kind == "Backend":
        name = json_src.get("backend", {}).get("volume_backend_name")
        volumes = [load(v, save) for v in json_src.get("volumes", [])]
        return Backend.backends.get(name, volumes)
    data = json_src.get("data")
    if not isinstance(data, dict):
        raise InvalidParameter("json_src.data", "field required")
    persistence = Backend.persistence
    if kind == "Volume":
        volume_record = VolumeRecord.from_dict(data)
        if save:
            _store(persistence.set_volume, persistence.get_volumes(volume_id=volume_record.id), volume_record)
        for related in json_src.get("snapshots", []) + json_src.get("connections", []):
            load(related, save)
        return Volume._wrap(volume_record)
    if kind == "Snapshot":
        snapshot_record = SnapshotRecord.from_dict(data)
        if save:
            _store(persistence.set_snapshot, persistence.get_snapshots(snapshot_id=snapshot_record.id), snapshot_record)
        return Snapshot._wrap(snapshot_record)
    if kind == "Connection":
        connection_record = ConnectionRecord.from_dict(data)
        if save:
            existing = persistence.get_connections(connection_id=connection_record.id)
            _store(persistence.set_connection, existing, connection_record)
        return Connection._wrap(connection_record)
    raise InvalidParameter("json_src.class", "must be Backend, Volume, Snapshot or Connection")


def _store(setter: Any, existing: list[Any], record: Any) -> None:
    """Insert, or update over the stored row's version (a load wins over what was stored)."""
    record.version = existing[0].version if existing else 0
    setter(record)


def json() -> list[dict[str, Any]]:
    from .backend import Backend

    return [backend.json for backend in Backend.backends.values()]


def jsons() -> str:
    return json_lib.dumps(json(), separators=(",", ":"))


def dump() -> list[dict[str, Any]]:
    from .backend import Backend

    return [backend.dump for backend in Backend.backends.values()]


def dumps() -> str:
    return json_lib.dumps(dump(), separators=(",", ":"))
