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

from .messages import listed

__all__ = [
    "EDITABLE_TYPES",
    "check_edit",
    "check_edit_type",
    "check_edit_usage",
    "check_remove",
    "check_same_id",
    "check_type_change",
    "running_vms",
]

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
    check_edit_type(stored, given)
    check_type_change(stored, given)
    check_edit_usage(stored, domains=domains, disks=disks, vms=vms, force=force)


def check_edit_type(stored: StorageConnection, given: ConnectionFields) -> None:
    """Only file connections and iSCSI ones can be edited (the type the edit asks for, as oVirt)."""
    wanted = StorageType(given.type) if given.type is not None else stored.type
    if stored.type not in EDITABLE_TYPES or wanted not in EDITABLE_TYPES:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_STORAGE_TYPE",
            "Storage connection parameters can be edited only for NFS, Posix, local or iSCSI"
            " data domains.",
        )


def check_type_change(stored: StorageConnection, given: ConnectionFields) -> None:
    if given.type is not None and StorageType(given.type) is not stored.type:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_CHANGE_STORAGE_TYPE",
            "Storage type cannot be edited.",
        )


def check_edit_usage(
    stored: StorageConnection,
    *,
    domains: Sequence[StorageDomain],
    disks: Sequence[LunDisk] = (),
    vms: Sequence[Vm] = (),
    force: bool = False,
) -> None:
    """May the connection be edited while these domains, disks and VMs use it?"""
    if stored.type in FILE_TYPES and len(domains) > 1:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
            "Storage connection parameters are used by the following storage domains : "
            f"{listed(domain.name for domain in domains)}.",
        )
    active = [domain for domain in domains if domain.status is DomainStatus.ACTIVE]
    if active and not force:
        raise BadRequest(
            "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED",
            f"The data domains {listed(domain.name for domain in active)} should be in"
            " maintenance or unattached.",
        )
    if stored.type is StorageType.ISCSI:
        running = running_vms(stored.id, disks, vms)
        if running:
            raise BadRequest(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_RUNNING_VMS",
                f"VMs {listed(vm.name for vm in running)} should be down.",
            )


def check_remove(
    conn: StorageConnection, *, domains: Sequence[StorageDomain], disks: Sequence[LunDisk]
) -> None:
    """Refuse to remove a connection that a domain or a direct LUN disk still uses."""
    using = [disk for disk in disks if conn.id in disk.connection_ids]
    domain_names = listed(domain.name for domain in domains)
    disk_names = listed(disk.name for disk in using)
    if domains and using:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS_AND_DISKS",
            "Storage connection parameters are used by the following storage domains : "
            f"{domain_names} and disks: {disk_names}.",
        )
    if domains:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
            "Storage connection parameters are used by the following storage domains : "
            f"{domain_names}.",
        )
    if using:
        raise Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_DISKS",
            f"Storage connection parameters are used by the following disks : {disk_names}.",
        )
