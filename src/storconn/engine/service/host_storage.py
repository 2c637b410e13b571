"""A host's storage actions through its agent: iSCSI discovery, iSCSI login, and the LUNs it sees.

oVirt runs these on the host's VDSM (``DiscoverSendTargetsQuery``,
``ConnectStorageToVdsCommand``, ``GetDeviceListQuery``); here the host's
agent does: ``Iscsi.discover``, a flow reference for the login, and
``Iscsi.devices``. None of them stores anything in the engine.

The login holds the target through a flow reference until the agent reports
it connected or failed, then releases it (as the connectivity test does):
the agent logs out after its grace period. oVirt keeps the session after a
login, but every client follows the login with adding a domain or a disk,
and the engine connects that again through the domain's own references, so
nothing is lost by letting the session go; the engine never leaves a host
holding something no domain accounts for.
"""

from __future__ import annotations

import logging
from typing import Any

from storconn.agent.client import AgentRpcError, AgentUnavailable
from storconn.connection import ErrorCode, StorconnError
from storconn.engine.errors import BadRequest, Conflict, EngineError
from storconn.engine.model import (
    ConnectionFields,
    DiscoveredTarget,
    Host,
    HostLun,
    HostStatus,
    IscsiDetails,
    StorageType,
)
from storconn.engine.service.base import CONNECT_TIMEOUT, EngineBase, command

__all__ = ["DISCOVER_TIMEOUT", "HostStorageCommands"]

log = logging.getLogger(__name__)

# The agent gives a discovery its mount budget (30 s) for iscsiadm and again for
# the user-space fallback; a little more so that the agent's error, which says
# why, arrives before ours.
DISCOVER_TIMEOUT = 70.0
DEFAULT_ISCSI_PORT = 3260

ISCSI_LOGIN = "Cannot log in to the iSCSI target."  # storconn's prefix: oVirt's command has none
ISCSI_DISCOVER = "Cannot discover iSCSI targets."  # likewise
# Which request element each of the agent's Iscsi.discover params came from.
_DISCOVER_FIELDS = {"params.hostname": "iscsi/address", "params.port": "iscsi/port"}


class HostStorageCommands(EngineBase):
    @command(ISCSI_DISCOVER)
    def iscsi_discover(self, host_id: str, iscsi: IscsiDetails) -> list[DiscoveredTarget]:
        """SendTargets discovery at ``iscsi.address`` run by the host; the targets the portal offers.

        No CHAP here: the agent's discovery is unauthenticated (the targets
        tested here need none for discovery); a password sent is accepted,
        never used, never echoed.
        """
        host = self._host(host_id)
        address, port = _portal_of(iscsi)
        try:
            found = self._hosts.discover(host, address, port, timeout=DISCOVER_TIMEOUT)
        except AgentRpcError as exc:
            raise _discovery_error(host, exc) from None
        except StorconnError as exc:
            raise self._network_error(host, exc) from None
        return [_target(item) for item in found if isinstance(item, dict)]

    @command(ISCSI_LOGIN)
    def iscsi_login(self, host_id: str, iscsi: IscsiDetails, *, timeout: float = CONNECT_TIMEOUT) -> None:
        """Log the host in to ``iscsi.target`` at ``iscsi.address`` through a flow reference.

        Answered with the agent's error when the login fails: 409 where the
        host cannot log in at all (no initiator in its kernel), 400 when the
        target refused or did not answer.
        """
        host = self._host(host_id)
        if host.status is HostStatus.MAINTENANCE:
            # A host in maintenance holds nothing for the engine, not even for a moment.
            raise Conflict("ACTION_TYPE_FAILED_VDS_STATUS_ILLEGAL",
                           "Operation can be performed only when Host status is Up.")
        fields = ConnectionFields(
            type=StorageType.ISCSI,
            address=iscsi.address,
            port=iscsi.port if iscsi.port is not None else DEFAULT_ISCSI_PORT,
            target=iscsi.target,
            portal=_tpgt(iscsi.portal),
            username=iscsi.username,
            password=iscsi.password,
        )
        conn = self._checked(fields)
        status = self._try_on_host(host, conn, timeout=timeout)
        if status.get("connected"):
            log.info("host %s logged in to %s at %s:%s", host.name, conn.iqn, conn.connection, conn.port)
            return
        code, message = (status.get("lastError") or [0, ""])[:2]
        why = f"{message or 'no answer in time'} (code {code})"
        text = f"Failed to login to iSCSI node: host {host.name}: {why}."
        if code == int(ErrorCode.UNSUPPORTED):
            raise Conflict("iSCSILoginError", text)
        raise BadRequest("iSCSILoginError", text)

    def host_storage(self, host_id: str) -> list[HostLun]:
        """The LUNs the host sees through its iSCSI sessions, as its agent reads them from sysfs."""
        host = self._host(host_id)
        try:
            found = self._hosts.iscsi_devices(host)
        except StorconnError as exc:
            raise self._network_error(host, exc) from None
        return [_lun(item) for item in found if isinstance(item, dict)]

    def _network_error(self, host: Host, exc: StorconnError) -> BadRequest:
        if isinstance(exc, AgentUnavailable):
            self._record_contact([host], {host.id})
        return BadRequest("VDS_NETWORK_ERROR",
                          f"Network error during communication with host {host.name}: {exc.message}")


def _portal_of(iscsi: IscsiDetails) -> tuple[str, int]:
    if not iscsi.address or not iscsi.address.strip():
        raise BadRequest("VALIDATION_STORAGE_CONNECTION_EMPTY_CONNECTION",
                         "iscsi/address: the iSCSI portal's address is required.")
    port = iscsi.port if iscsi.port is not None else DEFAULT_ISCSI_PORT
    if not 1 <= port <= 65535:
        raise BadRequest("VALIDATION_STORAGE_CONNECTION_INVALID_PORT",
                         f"iscsi/port: {port} is not a valid port (1-65535).")
    return iscsi.address.strip(), port


def _tpgt(portal: str | None) -> str | None:
    """The portal group tag of oVirt's ``portal`` (``10.0.0.1:3260,1`` → ``1``); a bare tag stays."""
    if portal is None or not portal.strip():
        return None
    text = portal.strip()
    if "," in text:
        return text.rsplit(",", 1)[1].strip() or None
    return None if ":" in text else text


def _discovery_error(host: Host, exc: AgentRpcError) -> EngineError:
    data = exc.data if isinstance(exc.data, dict) else {}
    field = data.get("field")
    if exc.rpc_code == -32602 and isinstance(field, str):
        # The agent refused a value before running anything: name the element the client sent.
        element = _DISCOVER_FIELDS.get(field, "iscsi")
        reason = exc.message.split(": ", 1)[-1]
        return BadRequest("VALIDATION_STORAGE_CONNECTION_INVALID", f"{element}: {reason}.")
    code = data.get("code")
    suffix = f" (code {code})" if isinstance(code, int) else ""
    error: type[EngineError] = Conflict if code == int(ErrorCode.UNSUPPORTED) else BadRequest
    return error("iSCSIDiscoveryError",
                 f"Failed discovery of iSCSI targets: host {host.name}: {exc.message}{suffix}.")


def _target(item: dict[str, Any]) -> DiscoveredTarget:
    portal = _dict(item.get("portal"))
    tpgt = item.get("tpgt")
    return DiscoveredTarget(
        address=str(portal.get("hostname", "")),
        port=int(portal.get("port", DEFAULT_ISCSI_PORT)),
        target=str(item.get("iqn", "")),
        tpgt=tpgt if isinstance(tpgt, int) else None,
    )


def _lun(item: dict[str, Any]) -> HostLun:
    target = _dict(item.get("target"))
    portal = _dict(target.get("portal"))
    found = DiscoveredTarget(
        address=str(portal.get("hostname", "")),
        port=int(portal.get("port", DEFAULT_ISCSI_PORT)),
        target=str(target.get("iqn", "")),
        tpgt=target.get("tpgt") if isinstance(target.get("tpgt"), int) else None,
    )
    return HostLun(
        id=str(item.get("lunID", "")),
        address=found.address,
        port=found.port,
        target=found.target,
        portal=found.portal,
        lun_mapping=int(item.get("lun", 0)),
        size=int(item.get("size", 0)),
        vendor_id=str(item.get("vendor", "")),
        product_id=str(item.get("product", "")),
        serial=str(item.get("serial", "")),
        device=str(item.get("device", "")),
        status=str(item.get("state", "")),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
