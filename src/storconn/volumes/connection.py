"""``Connection``: one volume exported to one host, and its attachment there.

Two halves, as in cinderlib: the controller's (``Volume.connect`` made it;
``disconnect`` ends it and may remove the export) and the host's
(``attach`` / ``detach``: the device on the host, made by that host's
agent in one call each). Unlike cinderlib, ``detach`` never touches the
export and the host's share or iSCSI session is shared with every other
volume through the agent's references, so one detach cuts nothing else.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

from storconn.agent.client import AgentClient, AgentRpcError, AgentUnavailable
from storconn.connection import InvalidParameter

from . import agent_link, faults
from .errors import AgentError, ConnectionNotFound, InvalidVolume
from .objects import Object
from .records import ConnectionRecord

if TYPE_CHECKING:
    from .volume import Volume

__all__ = ["Connection"]

log = logging.getLogger(__name__)

DEVICE_TYPES = ("file", "block")


class Connection(Object):
    def __init__(self, record: ConnectionRecord) -> None:
        self._record = record

    @classmethod
    def _wrap(cls, record: ConnectionRecord) -> Connection:
        return cls(record)

    @classmethod
    def connect(cls, volume: Volume, connector: dict[str, Any], **kwargs: Any) -> Connection:
        """cinderlib's spelling of ``volume.connect(connector, **kwargs)``."""
        return volume.connect(connector, **kwargs)

    @classmethod
    def get_by_id(cls, connection_id: str) -> Connection:
        found = cls._persistence().get_connections(connection_id=connection_id)
        if not found:
            raise ConnectionNotFound(connection_id)
        return cls._wrap(found[0])

    # -- fields ------------------------------------------------------------------

    volume_id = property(lambda self: self._record.volume_id)
    status = property(lambda self: self._record.status)
    attached_host = property(lambda self: self._record.attached_host)
    attach_mode = property(lambda self: self._record.attach_mode)
    created_at = property(lambda self: self._record.created_at)

    @property
    def volume(self) -> Volume:
        from .volume import Volume

        return Volume.get_by_id(self._record.volume_id)

    @property
    def conn_info(self) -> dict[str, Any]:
        """os-brick's ``{"driver_volume_type", "data"}``, secrets included: the host needs them."""
        conn_info: dict[str, Any] = self._record.conn_info
        return conn_info

    @conn_info.setter
    def conn_info(self, value: dict[str, Any]) -> None:
        self._record.conn_info = value

    @property
    def connector_info(self) -> dict[str, Any]:
        connector: dict[str, Any] = self._record.connector_info
        return connector

    @property
    def connection_info(self) -> dict[str, Any]:
        """What a host needs to attach without the persistence: ``{"conn", "connector", "device"}``."""
        info: dict[str, Any] = {"conn": self.conn_info, "connector": self.connector_info}
        if self._record.device:
            info["device"] = self._record.device
        return info

    @property
    def protocol(self) -> str | None:
        protocol = self._record.conn_info.get("driver_volume_type")
        return str(protocol) if protocol is not None else None

    @property
    def device(self) -> dict[str, Any] | None:
        device: dict[str, Any] | None = self._record.device
        return device

    @device.setter
    def device(self, value: dict[str, Any] | None) -> None:
        """Set by hand when a host attached without the library (seed 004's manual flow)."""
        self._record.device = value or None
        if value and self._record.status == "connected":
            self._record.status = "attached"
        elif not value and self._record.status == "attached":
            self._record.status = "connected"

    @property
    def path(self) -> str | None:
        return self._record.device["path"] if self._record.device else None

    @property
    def connected(self) -> bool:
        return bool(self._record.conn_info) and self._record.status not in ("connecting", "disconnecting")

    @property
    def attached(self) -> bool:
        return bool(self._record.device)

    @property
    def is_local(self) -> bool:
        """Made for this host: its connector names this host and the agent this process uses."""
        connector = self._record.connector_info
        same_host = connector.get("host") in (None, socket.gethostname())
        same_agent = connector.get("agent") in (None, agent_link.settings().url)
        return same_host and same_agent

    def save(self) -> None:
        self._persistence().set_connection(self._record)

    def refresh(self) -> None:
        self._record = self.get_by_id(self.id)._record

    # -- the host's half -----------------------------------------------------------

    def attach(self, device_type: str | None = None, *, agent: AgentClient | None = None) -> dict[str, Any]:
        """Make the device on this host (or on the host ``agent`` serves); returns ``device``.

        One call to the agent: it holds the share or session, waits for it,
        and makes the file path or the block device. Attaching again the same
        way returns the same device.
        """
        from .backend import Backend

        if device_type is None:
            backend = Backend.backends.get(self._record.backend)
            device_type = backend.device_type if backend is not None else None
        if device_type is None:
            device_type = "block" if self.protocol == "iscsi" else "file"
        if device_type not in DEVICE_TYPES:
            raise InvalidParameter("device_type", "must be 'file' or 'block'")
        if not self._record.conn_info:
            raise InvalidVolume(f"connection {self.id} is not connected")
        self._record.status = "attaching"
        self.save()
        faults.checkpoint("attach:recorded")
        client = agent or agent_link.local_agent()
        try:
            device = client.call(
                "Volumes.attach",
                {
                    "connectionID": self.id,
                    "connInfo": self._record.conn_info,
                    "mode": self._record.attach_mode,
                    "deviceType": device_type,
                },
                timeout=330.0,
            )
        except (AgentRpcError, AgentUnavailable) as exc:
            self._record.status = "connected"
            self.save()
            raise _agent_error("attach", exc) from exc
        faults.checkpoint("attach:attached")
        self._record.device = device
        self._record.status = "attached"
        self.save()
        return dict(device)

    def detach(
        self, force: bool = False, ignore_errors: bool = False, exc: object = None, *, agent: AgentClient | None = None
    ) -> None:
        """Remove this connection's device on its host; the export stays (``disconnect`` ends it).

        Detaching what is already detached succeeds.
        """
        self._record.status = "detaching"
        self.save()
        faults.checkpoint("detach:recorded")
        client = agent or agent_link.local_agent()
        try:
            client.call("Volumes.detach", {"connectionID": self.id})
        except (AgentRpcError, AgentUnavailable) as error:
            if not (force or ignore_errors):
                self._record.status = "attached" if self._record.device else "connected"
                self.save()
                raise _agent_error("detach", error) from error
            log.warning("detach of %s failed, continuing (force): %s", self.id, error)
        faults.checkpoint("detach:detached")
        self._record.device = None
        self._record.status = "connected"
        self.save()

    def extend(self) -> int:
        """Make this host's device see the volume's new size; returns it in bytes."""
        try:
            answer = agent_link.local_agent().call("Volumes.resize", {"connectionID": self.id})
        except (AgentRpcError, AgentUnavailable) as exc:
            raise _agent_error("resize", exc) from exc
        return int(answer.get("size", 0))

    # -- the controller's half -------------------------------------------------------

    def disconnect(self, force: bool = False) -> None:
        """End this connection; the volume's export goes with its last connection."""
        from .exports import disconnect

        disconnect(self, force=force)


def _agent_error(action: str, exc: AgentRpcError | AgentUnavailable) -> AgentError:
    if isinstance(exc, AgentRpcError):
        data = exc.data if isinstance(exc.data, dict) else {}
        code = data.get("code")
        field = data.get("field")
        where = f" ({field})" if field else ""
        return AgentError(f"the agent refused to {action}{where}: [{code}] {exc.message}")
    return AgentError(f"the agent cannot be reached to {action}: {exc.message}")
