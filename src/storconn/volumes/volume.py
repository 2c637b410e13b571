"""``Volume``: one volume of a backend, with cinderlib's methods.

Status: ``creating → available ⇄ in-use``, ``extending``, ``deleting``,
``error``. Every change is written to the persistence before the storage is
touched (so ``cleanup()`` knows what a crash left) and again after.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from storconn.connection import InvalidParameter

from . import faults
from .errors import ConcurrentUpdate, InvalidSize, InvalidVolume, NotLocal, VolumeNotFound
from .objects import Object
from .records import VolumeRecord

if TYPE_CHECKING:
    from .backend import Backend
    from .connection import Connection
    from .snapshot import Snapshot

__all__ = ["Volume", "check_size"]

log = logging.getLogger(__name__)

_NAME_LIMIT = 255


def check_size(size: object, field: str = "size") -> int:
    """A size in GiB: a whole number from 1 to 1 PiB's worth."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidSize(f"{field}: must be a whole number of GiB")
    if not 1 <= size <= 1024 * 1024:
        raise InvalidSize(f"{field}: must be between 1 and 1048576 GiB")
    return size


def _check_text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(field, "must be text")
    if len(value) > _NAME_LIMIT:
        raise InvalidParameter(field, f"must be at most {_NAME_LIMIT} characters")
    return value


class Volume(Object):
    LAZY_PROPERTIES: ClassVar[tuple[str, ...]] = ("snapshots", "connections")

    def __init__(self, backend_or_vol: Backend | str | Volume, pool_name: str | None = None, **kwargs: Any) -> None:
        """A volume object not yet created (call ``create()``), as cinderlib has it.

        ``backend_or_vol`` is a Backend, a backend name, or a Volume whose
        backend and fields are copied (with a new id).
        """
        if isinstance(backend_or_vol, Volume):
            source = backend_or_vol._record
            fields = {"size": source.size, "multiattach": source.multiattach, "format": source.format}
            fields.update(kwargs)
            kwargs = fields
            backend_name = source.backend
        else:
            backend_name = backend_or_vol if isinstance(backend_or_vol, str) else backend_or_vol.id
        record = VolumeRecord(
            backend=backend_name,
            size=check_size(kwargs.pop("size", 1)),
            name=_check_text(kwargs.pop("name", "") or "", "name"),
            description=_check_text(kwargs.pop("description", "") or "", "description"),
            multiattach=bool(kwargs.pop("multiattach", False)),
        )
        if "id" in kwargs:
            from storconn.connection.volume_shapes import check_volume_id

            record.id = check_volume_id(kwargs.pop("id"), "id")
        volume_format = kwargs.pop("format", kwargs.pop("volume_format", None))
        if volume_format is not None:
            if volume_format not in ("raw", "qcow2"):
                raise InvalidParameter("format", "must be 'raw' or 'qcow2'")
            record.format = volume_format
        elif not isinstance(backend_or_vol, (str, Volume)):
            record.format = getattr(backend_or_vol.driver, "volume_format", "raw")
        # cinderlib accepts Cinder's other volume fields; keep them as metadata.
        kwargs.pop("bootable", None)
        record.source_volid = kwargs.pop("source_volid", None)
        record.snapshot_id = kwargs.pop("snapshot_id", None)
        if kwargs:
            raise InvalidParameter(sorted(kwargs)[0], "is not a volume field")
        self._record = record

    @classmethod
    def _wrap(cls, record: VolumeRecord) -> Volume:
        volume = cls.__new__(cls)
        volume._record = record
        return volume

    # -- fields ----------------------------------------------------------------

    name = property(lambda self: self._record.name)
    description = property(lambda self: self._record.description)
    size = property(lambda self: self._record.size)
    status = property(lambda self: self._record.status)
    multiattach = property(lambda self: self._record.multiattach)
    format = property(lambda self: self._record.format)
    created_at = property(lambda self: self._record.created_at)
    provider_location = property(lambda self: self._record.provider_location)
    source_volid = property(lambda self: self._record.source_volid)
    snapshot_id = property(lambda self: self._record.snapshot_id)
    name_in_storage = property(lambda self: self._record.provider_location)

    @property
    def snapshots(self) -> list[Snapshot]:
        from .snapshot import Snapshot

        return [Snapshot._wrap(r) for r in self._persistence().get_snapshots(volume_id=self.id)]

    @property
    def connections(self) -> list[Connection]:
        from .connection import Connection

        return [Connection._wrap(r) for r in self._persistence().get_connections(volume_id=self.id)]

    @property
    def local_attach(self) -> Connection | None:
        """The newest connection of this volume attached on this host, if any."""
        local = [c for c in self.connections if c.attached and c.is_local]
        return local[-1] if local else None

    # -- lookups -------------------------------------------------------------

    @classmethod
    def get_by_id(cls, volume_id: str) -> Volume:
        found = cls._persistence().get_volumes(volume_id=volume_id)
        if not found:
            raise VolumeNotFound(volume_id)
        return cls._wrap(found[0])

    @classmethod
    def get_by_name(cls, volume_name: str) -> list[Volume]:
        return [cls._wrap(r) for r in cls._persistence().get_volumes(volume_name=volume_name)]

    def refresh(self) -> None:
        self._record = self.get_by_id(self.id)._record

    def save(self) -> None:
        self._persistence().set_volume(self._record)

    # -- lifecycle -------------------------------------------------------------

    def _backend(self) -> Backend:
        from .backend import require_backend

        return require_backend(self._record.backend)

    def create(self) -> None:
        """Create the storage. The record is stored first (``creating``), then ``available``."""
        backend = self._backend()
        driver = backend.driver_ready()  # an unreachable share fails here, before any record exists
        persistence = self._persistence()
        persistence.set_volume(self._record)
        faults.checkpoint("create:recorded")
        try:
            driver.create_volume(self._record)
        except Exception:
            self._record.status = "error"
            self.save()
            raise
        faults.checkpoint("create:created")
        self._record.status = "available"
        self.save()

    def delete(self) -> None:
        """Delete the storage and the record; refused while connected or with snapshots."""
        backend = self._backend()
        with self._persistence().lock(f"volume:{self.id}"):
            self.refresh()
            if self._persistence().get_connections(volume_id=self.id):
                raise InvalidVolume(f"volume {self.id} has connections: disconnect them first")
            if self._persistence().get_snapshots(volume_id=self.id):
                raise InvalidVolume(f"volume {self.id} has snapshots: delete them first")
            self._record.status = "deleting"
            self.save()
            faults.checkpoint("delete:recorded")
            backend.driver_ready().delete_volume(self._record)
            self._persistence().delete_volume(self._record)

    def extend(self, size: int) -> None:
        """Grow to ``size`` GiB; attached devices on this host see the new size at once."""
        new_size = check_size(size)
        backend = self._backend()
        with self._persistence().lock(f"volume:{self.id}"):
            self.refresh()
            if new_size <= self._record.size:
                raise InvalidSize(
                    f"size: {new_size} GiB is not larger than the volume's {self._record.size} GiB"
                )
            if self._record.status not in ("available", "in-use"):
                raise InvalidVolume(f"volume {self.id} is {self._record.status}, cannot extend")
            previous = self._record.status
            self._record.status = "extending"
            self.save()
            try:
                backend.driver_ready().extend_volume(self._record, new_size)
            except Exception:
                self._record.status = previous
                self.save()
                raise
            self._record.size = new_size
            self._record.status = previous
            self.save()
        for connection in self.connections:
            if connection.attached and connection.is_local:
                connection.extend()

    def clone(self, **new_vol_attrs: Any) -> Volume:
        """A new volume with this one's data (reflink where the share can)."""
        backend = self._backend()
        attrs = {"size": self._record.size, "multiattach": self._record.multiattach, **new_vol_attrs}
        clone = Volume(backend, source_volid=self.id, **attrs)
        clone._record.format = self._record.format
        if clone.size < self.size:
            raise InvalidSize(f"size: a clone cannot be smaller than its source ({self.size} GiB)")
        driver = backend.driver_ready()
        self._persistence().set_volume(clone._record)
        try:
            driver.create_cloned_volume(clone._record, self._record)
        except Exception:
            clone._record.status = "error"
            clone.save()
            raise
        clone._record.status = "available"
        clone.save()
        return clone

    def create_snapshot(self, name: str = "", description: str = "", **kwargs: Any) -> Snapshot:
        from .snapshot import Snapshot

        snapshot = Snapshot(self, name=name, description=description, **kwargs)
        snapshot.create()
        return snapshot

    # -- connections -----------------------------------------------------------

    def connect(self, connector_dict: dict[str, Any], **ovo_fields: Any) -> Connection:
        """Export the volume to the host ``connector_dict`` describes; returns the Connection."""
        from .exports import connect

        return connect(self, connector_dict, **ovo_fields)

    def disconnect(self, connection: Connection, force: bool = False) -> None:
        """Terminate ``connection``; the export goes with the volume's last connection."""
        connection.disconnect(force=force)

    def attach(self, device_type: str | None = None) -> Connection:
        """Connect to this host and attach through the local agent; returns the Connection."""
        from .connector import get_connector_properties

        backend = self._backend()
        connector = get_connector_properties(
            multipath=backend.use_multipath, enforce_multipath=backend.enforce_multipath
        )
        connection = self.connect(connector, attached_host=connector["host"], _local_attach=True)
        try:
            connection.attach(device_type=device_type)
        except Exception:
            try:
                connection.disconnect()
            except Exception:  # the first error is the one to report
                log.exception("disconnecting %s after a failed attach failed", connection.id)
            raise
        self.refresh()
        return connection

    def detach(self, force: bool = False, ignore_errors: bool = False) -> None:
        """Detach this volume's local attachment, then disconnect it (cinderlib's order)."""
        connection = self.local_attach
        if connection is None:
            raise NotLocal(f"volume {self.id} is not attached on this host")
        try:
            connection.detach(force=force, ignore_errors=ignore_errors)
        except Exception:
            if not force:
                raise
        try:
            connection.disconnect(force=force)
        except ConcurrentUpdate:
            raise
        except Exception:
            if not ignore_errors:
                raise
        self.refresh()

    def cleanup(self) -> None:
        """Detach and disconnect every connection of this volume that is on this host."""
        for connection in self.connections:
            if connection.attached and connection.is_local:
                connection.detach(force=True, ignore_errors=True)
            connection.disconnect(force=True)
