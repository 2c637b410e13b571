"""The export lifecycle: what cinderlib and os-brick get wrong, in one place.

- A volume's export exists while it has at least one connection; it is
  created with the first and removed with the last (cinderlib removed it on
  *every* disconnect, cutting the other hosts).
- An initiator's ACL goes with that initiator's last connection to what the
  ACL covers (the shared target: every volume of the backend; a per-volume
  target: that volume).
- A volume that is not ``multiattach`` takes one connection.

Decisions that read several rows and then act on the storage run under
persistence locks: ``volume:<id>`` first, then ``acl:<backend>`` — always in
that order, so two controllers never deadlock. Each step is recorded before
it is taken (``connecting``, ``disconnecting``) so that ``cleanup()`` can
finish or undo what a crash interrupted.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from storconn.connection import InvalidParameter

from . import faults
from .errors import InvalidVolume
from .records import ConnectionRecord, VolumeRecord

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from .backend import Backend
    from .connection import Connection
    from .drivers.base import Driver
    from .persistence.base import Persistence
    from .volume import Volume

__all__ = ["connect", "disconnect", "finish_disconnect", "undo_connect"]

log = logging.getLogger(__name__)

_CONNECTABLE = ("available", "in-use")


def connect(volume: Volume, connector: dict[str, Any], **fields: Any) -> Connection:
    from .connection import Connection

    if not isinstance(connector, dict):
        raise InvalidParameter("connector_info", "must be a dict (get_connector_properties())")
    attach_mode = fields.pop("attach_mode", fields.pop("access_mode", "rw"))
    if attach_mode not in ("rw", "ro"):
        raise InvalidParameter("attach_mode", "must be 'rw' or 'ro'")
    attached_host = fields.pop("attached_host", connector.get("host"))
    local_attach = bool(fields.pop("_local_attach", False))
    if fields:
        raise InvalidParameter(sorted(fields)[0], "is not a connection field")
    backend = volume._backend()
    backend.validate_connector(connector)
    driver = backend.driver_ready()
    persistence = backend.persistence
    with persistence.lock(f"volume:{volume.id}"):
        record = _fresh_volume(persistence, volume.id)
        if record.status not in _CONNECTABLE:
            raise InvalidVolume(f"volume {volume.id} is {record.status}; it must be available or in-use")
        existing = persistence.get_connections(volume_id=volume.id)
        if existing and not record.multiattach:
            raise InvalidVolume(
                f"volume {volume.id} is not multiattach and already has a connection "
                f"({existing[0].id}); create it with multiattach=True to connect it more than once"
            )
        connection = ConnectionRecord(
            backend=record.backend,
            volume_id=record.id,
            connector_info=dict(connector),
            attached_host=attached_host,
            attach_mode=attach_mode,
            local_attach=local_attach,
        )
        persistence.set_connection(connection)
        faults.checkpoint("connect:recorded")
        try:
            driver.create_export(record)
            persistence.set_volume(record)  # the export's LUN, target and CHAP account
            faults.checkpoint("connect:exported")
            with _acl_lock(persistence, driver, record):
                connection.conn_info = driver.initialize_connection(
                    record, connection.connector_info, access_mode=attach_mode
                )
            faults.checkpoint("connect:initialized")
            connection.status = "connected"
            persistence.set_connection(connection)
            record.status = "in-use"
            persistence.set_volume(record)
        except Exception:
            _undo_locked(persistence, driver, record, connection)
            raise
    volume._record = record
    return Connection._wrap(connection)


def disconnect(connection: Connection, *, force: bool = False) -> None:
    backend = connection.volume._backend()
    driver = backend.driver_ready()
    persistence = backend.persistence
    with persistence.lock(f"volume:{connection.volume_id}"):
        found = persistence.get_connections(connection_id=connection.id)
        if not found:
            return  # already gone: disconnecting is idempotent
        record = found[0]
        if record.device and not force:
            raise InvalidVolume(
                f"connection {record.id} is attached on {record.attached_host or 'its host'}; "
                "detach it there first (or disconnect with force=True)"
            )
        finish_disconnect_locked(persistence, driver, record)
    connection._record.status = "disconnected"
    connection._record.conn_info = {}


def finish_disconnect(backend: Backend, record: ConnectionRecord) -> None:
    """Complete a disconnect (``cleanup()`` after a crash in ``disconnecting``)."""
    persistence = backend.persistence
    with persistence.lock(f"volume:{record.volume_id}"):
        found = persistence.get_connections(connection_id=record.id)
        if found:
            finish_disconnect_locked(persistence, backend.driver_ready(), found[0])


def undo_connect(backend: Backend, record: ConnectionRecord) -> None:
    """Roll back a connect a crash interrupted (``connecting``)."""
    persistence = backend.persistence
    with persistence.lock(f"volume:{record.volume_id}"):
        found = persistence.get_connections(connection_id=record.id)
        if found:
            volume = _fresh_volume(persistence, record.volume_id)
            _undo_locked(persistence, backend.driver_ready(), volume, found[0])


def finish_disconnect_locked(persistence: Persistence, driver: Driver, record: ConnectionRecord) -> None:
    record.status = "disconnecting"
    persistence.set_connection(record)
    faults.checkpoint("disconnect:recorded")
    volume = _fresh_volume(persistence, record.volume_id)
    with _acl_lock(persistence, driver, volume):
        driver.terminate_connection(
            volume, record.connector_info,
            initiator_done=_initiator_done(persistence, driver, volume, record),
        )
    faults.checkpoint("disconnect:terminated")
    others = [c for c in persistence.get_connections(volume_id=volume.id) if c.id != record.id]
    if not others:
        driver.remove_export(volume)
        faults.checkpoint("disconnect:unexported")
        volume.status = "available"
    persistence.delete_connection(record)
    persistence.set_volume(volume)


def _undo_locked(persistence: Persistence, driver: Driver, volume: VolumeRecord, record: ConnectionRecord) -> None:
    """Undo a partial connect: ACL, export (if no other connection), the row."""
    try:
        with _acl_lock(persistence, driver, volume):
            driver.terminate_connection(
                volume, record.connector_info,
                initiator_done=_initiator_done(persistence, driver, volume, record),
            )
        others = [c for c in persistence.get_connections(volume_id=volume.id) if c.id != record.id]
        if not others:
            driver.remove_export(volume)
            volume.status = "available"
            persistence.set_volume(volume)
    except Exception:
        log.exception("undoing connection %s of volume %s failed; cleanup() will retry", record.id, volume.id)
        return
    persistence.delete_connection(record)


def _initiator_done(persistence: Persistence, driver: Driver, volume: VolumeRecord, record: ConnectionRecord) -> bool:
    """Whether no other connection keeps this record's initiator in the ACL."""
    initiator = record.connector_info.get("initiator")
    scope = getattr(driver, "acl_scope", "none")
    if scope == "none" or not initiator:
        return True
    if scope == "volume":
        candidates = persistence.get_connections(volume_id=volume.id)
    else:
        candidates = [c for c in persistence.get_connections() if c.backend == volume.backend]
    return not any(
        c.id != record.id and c.connector_info.get("initiator") == initiator for c in candidates
    )


def _acl_lock(persistence: Persistence, driver: Driver, volume: VolumeRecord) -> AbstractContextManager[None]:
    if getattr(driver, "acl_scope", "none") == "backend":
        return persistence.lock(f"acl:{volume.backend}")
    return nullcontext()


def _fresh_volume(persistence: Persistence, volume_id: str) -> VolumeRecord:
    from .errors import VolumeNotFound

    found = persistence.get_volumes(volume_id=volume_id)
    if not found:
        raise VolumeNotFound(volume_id)
    return found[0]
