"""``Snapshot``: a point-in-time copy of a volume (a reflink where the share can)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storconn.connection import InvalidParameter

from .errors import SnapshotNotFound
from .objects import Object
from .records import SnapshotRecord

if TYPE_CHECKING:
    from .volume import Volume

__all__ = ["Snapshot"]


class Snapshot(Object):
    def __init__(self, volume: Volume, **kwargs: Any) -> None:
        """A snapshot object of ``volume``, not yet created (call ``create()``)."""
        record = SnapshotRecord(
            backend=volume._record.backend, volume_id=volume.id, volume_size=volume.size
        )
        record.name = str(kwargs.pop("name", "") or "")
        record.description = str(kwargs.pop("description", "") or "")
        if kwargs:
            raise InvalidParameter(sorted(kwargs)[0], "is not a snapshot field")
        self._record = record

    @classmethod
    def _wrap(cls, record: SnapshotRecord) -> Snapshot:
        snapshot = cls.__new__(cls)
        snapshot._record = record
        return snapshot

    name = property(lambda self: self._record.name)
    description = property(lambda self: self._record.description)
    status = property(lambda self: self._record.status)
    volume_id = property(lambda self: self._record.volume_id)
    volume_size = property(lambda self: self._record.volume_size)
    created_at = property(lambda self: self._record.created_at)

    @property
    def volume(self) -> Volume:
        from .volume import Volume

        return Volume.get_by_id(self._record.volume_id)

    @classmethod
    def get_by_id(cls, snapshot_id: str) -> Snapshot:
        found = cls._persistence().get_snapshots(snapshot_id=snapshot_id)
        if not found:
            raise SnapshotNotFound(snapshot_id)
        return cls._wrap(found[0])

    @classmethod
    def get_by_name(cls, snapshot_name: str) -> list[Snapshot]:
        return [cls._wrap(r) for r in cls._persistence().get_snapshots(snapshot_name=snapshot_name)]

    def refresh(self) -> None:
        self._record = self.get_by_id(self.id)._record

    def save(self) -> None:
        self._persistence().set_snapshot(self._record)

    def create(self) -> None:
        from .backend import require_backend

        backend = require_backend(self._record.backend)
        volume = self.volume
        driver = backend.driver_ready()
        self._persistence().set_snapshot(self._record)
        try:
            driver.create_snapshot(self._record, volume._record)
        except Exception:
            self._record.status = "error"
            self.save()
            raise
        self._record.status = "available"
        self.save()

    def delete(self) -> None:
        from .backend import require_backend

        backend = require_backend(self._record.backend)
        self._record.status = "deleting"
        self.save()
        backend.driver_ready().delete_snapshot(self._record)
        self._persistence().delete_snapshot(self._record)

    def create_volume(self, **new_vol_params: Any) -> Volume:
        """A new volume with this snapshot's data."""
        from .backend import require_backend
        from .volume import Volume

        backend = require_backend(self._record.backend)
        source = self.volume
        params = {"size": self._record.volume_size, "multiattach": source.multiattach, **new_vol_params}
        volume = Volume(backend, snapshot_id=self.id, **params)
        volume._record.format = source.format
        driver = backend.driver_ready()
        self._persistence().set_volume(volume._record)
        try:
            driver.create_volume_from_snapshot(volume._record, self._record)
        except Exception:
            volume._record.status = "error"
            volume.save()
            raise
        volume._record.status = "available"
        volume.save()
        return volume
