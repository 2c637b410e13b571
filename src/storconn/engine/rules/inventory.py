"""Rules for the rest of the inventory: names, hosts, users, LUN disks and VMs.

Pure: nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from storconn.connection import host_key
from storconn.engine.errors import BadRequest, Conflict
from storconn.engine.model import ConnectionFields, LunDisk, StorageType, Vm, VmStatus

from .messages import IncompleteParameters

__all__ = [
    "DEFAULT_USER_DOMAIN",
    "check_disk_removable",
    "check_host_address",
    "check_lun_disk",
    "check_name",
    "check_name_free",
    "check_password",
    "user_name",
]

DEFAULT_USER_DOMAIN = "internal"  # oVirt's built-in authorization profile
_MAX_NAME = 255


def check_name(name: str | None, *, entity: str, verb: str = "add") -> str:
    """A name must be given, printable, and at most 255 characters."""
    if name is None or not name.strip():
        raise IncompleteParameters(entity, ["name"], verb)
    if len(name) > _MAX_NAME or any(ord(char) < 0x20 or char == "\x7f" for char in name):
        raise BadRequest(
            "ACTION_TYPE_FAILED_NAME_MAY_NOT_CONTAIN_SPECIAL_CHARS",
            "The name must be at most 255 characters, without control characters.",
        )
    return name


# ${type} in oVirt's messages (VAR__TYPE__*), by the entity names the commands pass.
_OVIRT_TYPES = {"storage domain": "Storage", "data center": "Data Center", "host": "Host"}


def check_name_free(name: str, taken: bool, *, entity: str) -> None:
    if taken:
        kind = _OVIRT_TYPES.get(entity, entity)
        raise Conflict(
            "ACTION_TYPE_FAILED_NAME_ALREADY_USED",
            f"The {kind} name is already in use, please choose a unique name and try again.",
        )


def check_host_address(address: str | None, port: int | None) -> None:
    """An agent is reached at ``address:port``: a host name or an IP address, and a TCP port."""
    if not address:
        raise IncompleteParameters("Host", ["address"], "add")
    try:
        host_key(address)
    except ValueError as exc:
        raise BadRequest(
            "VALIDATION_VDS_ADDRESS_INVALID", f"The host address is invalid: {exc}."
        ) from None
    if port is None or not 0 < port <= 65535:
        raise BadRequest(
            "VALIDATION_VDS_PORT_RANGE", "The Port number must be between 1 and 65535."
        )


def user_name(name: str) -> str:
    """``admin`` means ``admin@internal``, as oVirt's login form assumes the internal profile."""
    return name if "@" in name else f"{name}@{DEFAULT_USER_DOMAIN}"


def check_password(password: str | None) -> str:
    if not password:
        raise IncompleteParameters("User", ["password"], "add")
    return password


def check_lun_disk(
    name: str | None, lun_id: str | None, connections: Sequence[ConnectionFields]
) -> None:
    """A direct LUN disk names its LUN and reaches it through at least one iSCSI connection."""
    check_name(name, entity="Disk")
    missing = [field for field, value in (("lun_storage.logical_units.id", lun_id),) if not value]
    if not connections:
        missing.append("lun_storage.logical_units.address")
    if missing:
        raise IncompleteParameters("Disk", missing, "add")
    for fields in connections:
        if fields.type is not None and StorageType(fields.type) is not StorageType.ISCSI:
            raise BadRequest(
                "ACTION_TYPE_FAILED_ACTION_IS_SUPPORTED_ONLY_FOR_ISCSI_DOMAINS",
                "Direct LUN disks are reached through iSCSI connections only.",
            )


def check_disk_removable(disk: LunDisk, vms: Sequence[Vm]) -> None:
    """A disk plugged into a running VM cannot be removed."""
    running = [
        vm
        for vm in vms
        if vm.status is VmStatus.UP
        and any(att.disk_id == disk.id and att.plugged for att in vm.disk_attachments)
    ]
    if running:
        raise Conflict(
            "ACTION_TYPE_FAILED_VM_IS_NOT_DOWN",
            "At least one of the VMs is not down.",
        )
