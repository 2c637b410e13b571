"""Storage domains: their connections (iSCSI multipath) and their status in a data center.

Status moves (a domain is in at most one data center)::

    unattached ──attach (and activate, as oVirt's attach)──▶ active
        ▲                                                    │
        │                  maintenance ◀────deactivate───────┘
        └────detach──────────┘  └──────activate──────▶ active

Connections can be attached to or detached from a domain only while it is
in maintenance or unattached, only for iSCSI domains, and detaching removes
that one mapping and nothing else (oVirt once removed the LUN and all its
other connections).

Pure: each function checks and returns the new state; the caller stores it.
"""

from __future__ import annotations

from collections.abc import Sequence

from storconn.engine.errors import BadRequest, Conflict, NotFound
from storconn.engine.model import (
    FILE_TYPES,
    DataCenter,
    DomainStatus,
    StorageConnection,
    StorageDomain,
    StorageType,
)

from .messages import listed

__all__ = [
    "activate",
    "attach_to_data_center",
    "check_attach_connection",
    "check_detach_connection",
    "check_domain_connection",
    "check_remove_domain",
    "deactivate",
    "detach_from_data_center",
]

_EDITABLE = (DomainStatus.MAINTENANCE, DomainStatus.UNATTACHED)


def _status(domain: StorageDomain) -> str:
    """A status as oVirt's messages name it (its enum's name: "Maintenance")."""
    return domain.status.value.capitalize()


def _not_same_type() -> BadRequest:
    # oVirt's NOT_SUPPORTED error type: 400.
    return BadRequest(
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_NOT_SAME_STORAGE_TYPE",
        "Storage connection and domain type don't match.",
    )


def check_attach_connection(domain: StorageDomain, conn: StorageConnection) -> None:
    """May ``conn`` be added to ``domain``'s connections?"""
    _check_multipath(domain, conn)
    if conn.id in domain.connection_ids:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_ALREADY_EXISTS",
            "Storage connection is already attached to the specified domain.",
        )


def check_detach_connection(domain: StorageDomain, conn: StorageConnection) -> None:
    """May ``conn`` be removed from ``domain``'s connections? Only that mapping goes."""
    _check_multipath(domain, conn)
    if conn.id not in domain.connection_ids:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_NOT_EXIST",
            "Storage connection is not attached to the specified domain.",
        )


def check_domain_connection(
    storage_type: StorageType, conn: StorageConnection, *, used_by: Sequence[StorageDomain]
) -> None:
    """May a new domain of ``storage_type`` use the existing ``conn``? (``used_by``: domains using it.)"""
    if conn.type is not storage_type:
        raise _not_same_type()
    if conn.type in FILE_TYPES and used_by:
        # A file connection is its domain's one mount: two domains on it would be one storage.
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
            "Storage connection parameters are used by the following storage domains : "
            f"{listed(domain.name for domain in used_by)}.",
        )


def attach_to_data_center(domain: StorageDomain, dc: DataCenter) -> DomainStatus:
    """May an unattached domain join ``dc``? It lands in maintenance; the attach command activates it."""
    if domain.status is not DomainStatus.UNATTACHED:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
            f"The relevant Storage Domain's status is {_status(domain)}.",
        )
    local_domain = domain.storage_type is StorageType.LOCALFS
    if local_domain != dc.local:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_TYPE_ILLEGAL",
            "Storage Domain type is illegal.",
        )
    return DomainStatus.MAINTENANCE


def activate(domain: StorageDomain, dc_id: str) -> DomainStatus:
    """maintenance → active."""
    _check_in(domain, dc_id)
    _check_status(domain, DomainStatus.MAINTENANCE)
    return DomainStatus.ACTIVE


def deactivate(domain: StorageDomain, dc_id: str) -> DomainStatus:
    """active → maintenance."""
    _check_in(domain, dc_id)
    _check_status(domain, DomainStatus.ACTIVE)
    return DomainStatus.MAINTENANCE


def detach_from_data_center(domain: StorageDomain, dc_id: str) -> DomainStatus:
    """maintenance → unattached; an active domain must be deactivated first."""
    _check_in(domain, dc_id)
    _check_status(domain, DomainStatus.MAINTENANCE)
    return DomainStatus.UNATTACHED


def check_remove_domain(domain: StorageDomain) -> None:
    """Only an unattached domain can be removed."""
    if domain.status is not DomainStatus.UNATTACHED:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
            f"The relevant Storage Domain's status is {_status(domain)}.",
        )


def _check_multipath(domain: StorageDomain, conn: StorageConnection) -> None:
    if domain.storage_type is not StorageType.ISCSI:
        raise BadRequest(
            "ACTION_TYPE_FAILED_ACTION_IS_SUPPORTED_ONLY_FOR_ISCSI_DOMAINS",
            "Action is supported only for iSCSI storage domains.",
        )
    if conn.type is not domain.storage_type:
        raise _not_same_type()
    if domain.status not in _EDITABLE:
        raise BadRequest(
            "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED",
            f"The data domains {domain.name} should be in maintenance or unattached.",
        )


def _check_in(domain: StorageDomain, dc_id: str) -> None:
    # The URL names the domain inside the data center: one that is not there is not found.
    if domain.data_center_id != dc_id:
        raise NotFound(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_IN_STORAGE_POOL",
            "The selected Storage Domain is not part of the Data Center.",
        )


def _check_status(domain: StorageDomain, wanted: DomainStatus) -> None:
    if domain.status is not wanted:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
            f"The relevant Storage Domain's status is {_status(domain)}.",
        )
