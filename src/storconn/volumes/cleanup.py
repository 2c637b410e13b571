"""``cleanup()``: finish or undo whatever a crash interrupted, from the records and the agent.

Every lifecycle step is recorded before it is taken, so a record in a
transitional status says exactly what may be half done:

- volume ``creating`` → the file may exist: delete it and the record;
  ``deleting`` → finish the delete; ``extending`` → back to its status
  (a file already grown is harmless; the size stays the recorded one);
- connection ``connecting`` → undo (ACL, export if it was the only one, row);
  ``disconnecting`` → finish; ``attaching``/``detaching`` on this host →
  detach through the agent (idempotent) and go back to ``connected`` — or,
  for a connection ``Volume.attach()`` made, disconnect it too, since the
  attach was its only purpose;
- on this host's agent: attachments whose connection no longer exists are
  detached, and ``volumes:`` references no attachment holds are released.

The host-side sweep treats every ``volumes:`` attachment of the local agent
as this persistence's: run it with ``host_side=False`` when several
independent controllers share one host.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from storconn.agent.client import AgentRpcError, AgentUnavailable

from . import agent_link
from .backend import Backend
from .connection import Connection
from .exports import finish_disconnect, undo_connect

__all__ = ["CleanupReport", "cleanup"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CleanupReport:
    volumes_removed: list[str] = field(default_factory=list)
    volumes_repaired: list[str] = field(default_factory=list)
    connections_undone: list[str] = field(default_factory=list)
    connections_finished: list[str] = field(default_factory=list)
    attachments_detached: list[str] = field(default_factory=list)
    references_released: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def cleanup(*, host_side: bool = True) -> CleanupReport:
    """Repair what crashes left; returns what was done. Safe to run at any time, twice."""
    report = CleanupReport()
    persistence = Backend.persistence
    for record in persistence.get_connections():
        backend = Backend.backends.get(record.backend)
        if backend is None:
            continue
        try:
            if record.status == "connecting":
                undo_connect(backend, record)
                report.connections_undone.append(record.id)
            elif record.status == "disconnecting":
                finish_disconnect(backend, record)
                report.connections_finished.append(record.id)
            elif record.status in ("attaching", "detaching"):
                connection = Connection._wrap(record)
                if connection.is_local:
                    connection.detach(force=True)
                    report.attachments_detached.append(record.id)
                    if record.local_attach:
                        finish_disconnect(backend, connection._record)
                        report.connections_finished.append(record.id)
        except Exception as exc:  # one stuck record must not stop the others
            log.exception("cleanup of connection %s failed", record.id)
            report.errors.append(f"connection {record.id}: {exc}")
    for volume in persistence.get_volumes():
        backend = Backend.backends.get(volume.backend)
        if backend is None or volume.status not in ("creating", "deleting", "extending"):
            continue
        try:
            if volume.status == "extending":
                volume.status = "in-use" if persistence.get_connections(volume_id=volume.id) else "available"
                persistence.set_volume(volume)
                report.volumes_repaired.append(volume.id)
            elif not persistence.get_connections(volume_id=volume.id):
                backend.driver_ready().delete_volume(volume)
                persistence.delete_volume(volume)
                report.volumes_removed.append(volume.id)
        except Exception as exc:
            log.exception("cleanup of volume %s failed", volume.id)
            report.errors.append(f"volume {volume.id}: {exc}")
    if host_side:
        _sweep_agent(report)
    return report


def _sweep_agent(report: CleanupReport) -> None:
    known = {c.id for c in Backend.persistence.get_connections()}
    try:
        agent = agent_link.local_agent()
        attachments = agent.call("Volumes.list", {})
        for connection_id in attachments:
            if connection_id not in known:
                agent.call("Volumes.detach", {"connectionID": connection_id})
                report.attachments_detached.append(connection_id)
        held = {ref for a in attachments.values() for ref in a.get("refIDs", [])}
        stale = [
            ref_id
            for ref_id in agent.statuses()
            if ref_id.startswith("volumes:") and ref_id not in held
        ]
        if stale:
            agent.release(stale)
            report.references_released.extend(stale)
    except (AgentRpcError, AgentUnavailable) as exc:
        report.errors.append(f"agent: {exc}")
