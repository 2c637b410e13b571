"""Editing and removing a connection that storage domains, LUN disks and VMs may be using.

Edit (engine-rules.md, "Edit"):
- only file types and iSCSI; the type cannot change;
- a file connection used by more than one domain cannot be edited (409);
- every domain using it must be in maintenance or unattached, unless forced;
- iSCSI: every VM with a plugged direct-LUN disk on it must be down, forced or not.

Remove (engine-rules.md, "Remove"): refused while any domain or any direct
LUN disk uses the connection (409), naming them.

Pure: the caller passes the domains, disks and VMs it looked up.
"""

from __future__ import annotations

from collections.abc import Sequence

from storconn.engine.errors import BadRequest, Conflict
from storconn.engine.model import (
    FILE_TYPES,
    ConnectionFields,
    DomainStatus,
    LunDisk,
    StorageConnection,
    StorageDomain,
    StorageType,
    Vm,
    VmStatus,
)

from .messages import names

__all__ = ["EDITABLE_TYPES", "check_edit", "check_remove", "check_same_id", "running_vms"]

EDITABLE_TYPES = FILE_TYPES | {StorageType.ISCSI}


def check_same_id(path_id: str, body_id: str | None) -> None:
    """The id in a PUT's body, if any, must be the one in the URL: ids are immutable."""
    if body_id is not None and body_id != path_id:
        raise Conflict("ACTION_TYPE_FAILED_IMMUTABLE_ID", "Broken immutability constraint: id.")


def running_vms(connection_id: str, disks: Sequence[LunDisk], vms: Sequence[Vm]) -> list[Vm]:
    """The VMs that are up with a plugged disk reached through ``connection_id``."""
    disk_ids = {disk.id for disk in disks if connection_id in disk.connection_ids}
    return [
        vm
        for vm in vms
        if vm.status is VmStatus.UP
        and any(att.plugged and att.disk_id in disk_ids for att in vm.disk_attachments)
    ]


def check_edit(
    stored: StorageConnection,
    given: ConnectionFields,
    *,
    domains: Sequence[StorageDomain],
    disks: Sequence[LunDisk] = (),
    vms: Sequence[Vm] = (),
    force: bool = False,
) -> None:
    """Raise for the first rule an edit of ``stored`` breaks; ``domains`` are those using it."""
    if stored.type not in EDITABLE_TYPES:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_STORAGE_TYPE",
            f"Editing connections of storage type {stored.type} is not supported.",
        )
    if given.type is not None and StorageType(given.type) is not stored.type:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_CHANGE_STORAGE_TYPE",
            f"The storage type of a connection cannot be changed (from {stored.type} to {given.type}).",
        )
    if stored.type in FILE_TYPES and len(domains) > 1:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
            "Storage connection belongs to several storage domains: "
            + names([(domain.name, domain.id) for domain in domains])
            + ".",
        )
    active = [domain for domain in domains if domain.status is DomainStatus.ACTIVE]
    if active and not force:
        raise BadRequest(
            "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED",
            "The storage domains using the connection must be in maintenance or unattached: "
            + names([(domain.name, domain.id) for domain in active])
            + " is active.",
        )
    if stored.type is StorageType.ISCSI:
        running = running_vms(stored.id, disks, vms)
        if running:
            raise BadRequest(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_RUNNING_VMS",
                "VMs using disks on the connection must be down: "
                + names([(vm.name, vm.id) for vm in running])
                + " is running.",
            )


def check_remove(
    conn: StorageConnection, *, domains: Sequence[StorageDomain], disks: Sequence[LunDisk]
) -> None:
    """Refuse to remove a connection that a domain or a direct LUN disk still uses."""
    using = [disk for disk in disks if conn.id in disk.connection_ids]
    domain_names = names([(domain.name, domain.id) for domain in domains])
    disk_names = names([(disk.name, disk.id) for disk in using])
    if domains and using:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS_AND_DISKS",
            f"Storage connection is in use by storage domains {domain_names} and disks {disk_names}.",
        )
    if domains:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
            f"Storage connection is in use by storage domains {domain_names}.",
        )
    if using:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_DISKS",
            f"Storage connection is in use by disks {disk_names}.",
        )
