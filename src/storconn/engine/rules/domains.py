"""Storage domains: their connections (iSCSI multipath) and their status in a data center.

Status moves (a domain is in at most one data center)::

    unattached ──attach──▶ maintenance ──activate──▶ active
        ▲                      │  ▲                    │
        └───────detach─────────┘  └─────deactivate─────┘

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


def check_attach_connection(domain: StorageDomain, conn: StorageConnection) -> None:
    """May ``conn`` be added to ``domain``'s connections?"""
    _check_multipath(domain, conn)
    if conn.id in domain.connection_ids:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_ALREADY_EXISTS",
            f"Storage connection {conn.id} is already attached to storage domain {domain.name}.",
        )


def check_detach_connection(domain: StorageDomain, conn: StorageConnection) -> None:
    """May ``conn`` be removed from ``domain``'s connections? Only that mapping goes."""
    _check_multipath(domain, conn)
    if conn.id not in domain.connection_ids:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_NOT_EXIST",
            f"Storage connection {conn.id} is not attached to storage domain {domain.name}.",
        )


def check_domain_connection(
    storage_type: StorageType, conn: StorageConnection, *, used_by: Sequence[StorageDomain]
) -> None:
    """May a new domain of ``storage_type`` use the existing ``conn``? (``used_by``: domains using it.)"""
    if conn.type is not storage_type:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_TYPE_MISMATCH",
            f"Storage connection {conn.id} is of type {conn.type}, the domain of type {storage_type}.",
        )
    if conn.type in FILE_TYPES and used_by:
        # A file connection is its domain's one mount: two domains on it would be one storage.
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
            f"Storage connection {conn.id} is already used by storage domain {used_by[0].name}.",
        )


def attach_to_data_center(domain: StorageDomain, dc: DataCenter) -> DomainStatus:
    """Attach an unattached domain; it lands in maintenance."""
    if domain.status is not DomainStatus.UNATTACHED:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_ALREADY_ATTACHED",
            f"Storage domain {domain.name} is already attached to a data center.",
        )
    local_domain = domain.storage_type is StorageType.LOCALFS
    if local_domain != dc.local:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_TYPE_ILLEGAL",
            "Local storage domains go in local data centers, and only there"
            f" (domain {domain.name} is {domain.storage_type}, data center {dc.name} is"
            f" {'local' if dc.local else 'shared'}).",
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
            f"The storage domain's status is {domain.status}: detach it from its data center first.",
        )


def _check_multipath(domain: StorageDomain, conn: StorageConnection) -> None:
    if domain.storage_type is not StorageType.ISCSI:
        raise BadRequest(
            "ACTION_TYPE_FAILED_ACTION_IS_SUPPORTED_ONLY_FOR_ISCSI_DOMAINS",
            "The action is supported only for iSCSI storage domains.",
        )
    if conn.type is not domain.storage_type:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_TYPE_MISMATCH",
            f"Storage connection {conn.id} is of type {conn.type}, the domain of type"
            f" {domain.storage_type}.",
        )
    if domain.status not in _EDITABLE:
        raise BadRequest(
            "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED",
            f"Storage domain {domain.name} must be in maintenance or unattached; it is {domain.status}.",
        )


def _check_in(domain: StorageDomain, dc_id: str) -> None:
    # The URL names the domain inside the data center: one that is not there is not found.
    if domain.data_center_id != dc_id:
        raise NotFound(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_IN_STORAGE_POOL",
            f"Storage domain {domain.name} is not attached to data center {dc_id}.",
        )


def _check_status(domain: StorageDomain, wanted: DomainStatus) -> None:
    if domain.status is not wanted:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
            f"The storage domain's status is {domain.status}; it must be {wanted}.",
        )
