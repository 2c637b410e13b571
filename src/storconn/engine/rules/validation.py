"""Validation of a storage connection's fields, per type (add and edit alike).

oVirt's checks come first, each with its own key, so that a client gets the
message oVirt would have sent. The last check builds the ConnectionInfo the
agents will get and lets ``storconn.connection`` judge it: nothing the
engine stores can be refused by every agent (DESIGN.md section 2).

Mount options are judged with the vocabulary's one list (``MANAGED_OPTIONS``,
``REFUSED_OPTIONS``, ``check_options``), not with oVirt's shorter lists, and
a POSIX connection's ``vfs_type`` with its allow-list of file-system types
(``vfs_type_problem``): oVirt passed any type to mount(8), ``fuse.<program>``
and ``none`` with ``bind`` included.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from storconn.connection import (
    MANAGED_OPTIONS,
    NFS_VERSIONS,
    InvalidParameter,
    check_options,
    refusal_reason,
    split_options,
    vfs_type_problem,
)
from storconn.connection.options import option_name
from storconn.engine.errors import BadRequest
from storconn.engine.model import ConnectionFields, StorageConnection, StorageType

from .fields import build_connection, clean_fields, require_fields
from .infos import to_info
from .messages import IncompleteParameters

__all__ = ["CONNECTION_TYPES", "checked_connection", "mount_option_kind", "validate_fields"]

# The types a storage connection can have; FCP has none (the fabric zones LUNs to HBAs).
CONNECTION_TYPES = frozenset(
    {
        StorageType.NFS,
        StorageType.ISCSI,
        StorageType.LOCALFS,
        StorageType.POSIXFS,
        StorageType.GLUSTERFS,
    }
)

# The names the vocabulary's InvalidParameter uses, as the API calls them.
# A spec is the address and path joined (nfs: address:path; posixfs: the
# path alone, so it is named ``path`` there).
_SPEC_NAMES = {
    StorageType.NFS: "address/path",
    StorageType.GLUSTERFS: "address/path",
    StorageType.POSIXFS: "path",
}
_FIELD_NAMES = {
    "params.export": "address/path",
    "params.path": "path",
    "params.vfsType": "vfs_type",
    "params.options": "mount_options",
    "params.version": "nfs_version",
    "params.timeout": "nfs_timeo",
    "params.retrans": "nfs_retrans",
    "params.target.iqn": "target",
    "params.target.tpgt": "portal",
    "params.target.portal.hostname": "address",
    "params.target.portal.port": "port",
    "params.credentials.params.username": "username",
    "params.credentials.params.password": "password",
}


def validate_fields(fields: ConnectionFields) -> None:
    """Raise BadRequest with oVirt's key for the first problem of cleaned, merged ``fields``."""
    storage_type = fields.type
    if storage_type not in CONNECTION_TYPES:
        raise BadRequest(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_STORAGE_TYPE",
            f"The action is not supported for storage type {storage_type or 'none'}.",
        )
    if storage_type is StorageType.NFS:
        _validate_nfs(fields)
    elif storage_type is StorageType.ISCSI:
        _validate_iscsi(fields)
    elif storage_type is StorageType.LOCALFS:
        _require(fields, "path")
    else:
        _validate_posix(fields)
    _validate_with_vocabulary(fields)


def checked_connection(
    fields: ConnectionFields,
    *,
    connection_id: str,
    entity: str = "StorageConnection",
    required: Sequence[str] | None = None,
) -> StorageConnection:
    """The connection an add is about to store: cleaned, complete, valid, built.

    ``required`` overrides the REST layer's per-type list (a LUN disk's
    connections default their port, for example).
    """
    fields = clean_fields(fields)
    if required is None:
        require_fields(fields, entity=entity)
    else:
        missing = [name for name in required if getattr(fields, name) is None]
        if missing:
            raise IncompleteParameters(entity, missing, "add")
    validate_fields(fields)
    return build_connection(fields, connection_id=connection_id)


def mount_option_kind(fields: ConnectionFields) -> str:
    """Whose option rules apply: NFS's, glusterfs's, or the POSIX connection's vfs_type's.

    A POSIX connection of type nfs or glusterfs never gets this far: its
    vfs_type is refused first, pointing to the proper connection type.
    """
    if fields.type is StorageType.NFS:
        return "nfs"
    if fields.type is StorageType.GLUSTERFS:
        return "glusterfs"
    return fields.vfs_type or ""


def _validate_nfs(fields: ConnectionFields) -> None:
    _require(fields, "address")
    _require(fields, "path")
    text = f"{fields.address}:{fields.path}"
    if not text.isascii() or any(char.isspace() for char in text):
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_INVALID",
            "Mount path is illegal, please use [IP:/path or FQDN:/path] convention.",
        )
    if fields.nfs_version is not None and fields.nfs_version not in NFS_VERSIONS:
        # storconn's own key: oVirt refuses an unknown enum value in its REST layer.
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_INVALID_NFS_VERSION",
            f"NFS version must be one of {', '.join(NFS_VERSIONS)}.",
        )
    if fields.nfs_timeo is not None and not 1 <= fields.nfs_timeo <= 6000:
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_NFS_TIMEO",
            "NFS Timeout should be between 1 and 6000",
        )
    if fields.nfs_retrans is not None and not 0 <= fields.nfs_retrans <= 32767:
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_NFS_RETRANS",
            "NFS Retransmissions should be between 0 and 32767",
        )
    _validate_mount_options(fields)


def _validate_posix(fields: ConnectionFields) -> None:
    _require(fields, "path")
    if fields.vfs_type is None:
        raise BadRequest("VALIDATION_STORAGE_CONNECTION_EMPTY_VFSTYPE", "VFS type cannot be empty.")
    if fields.type is StorageType.GLUSTERFS and fields.vfs_type != "glusterfs":
        raise _invalid("The VFS type of a GlusterFS connection must be glusterfs.")
    if fields.type is StorageType.POSIXFS:
        problem = vfs_type_problem(fields.vfs_type)
        if problem:
            # storconn's own check: oVirt handed any type to mount(8).
            raise _invalid(f"vfs_type: {problem}.")
    _validate_mount_options(fields)


def _validate_iscsi(fields: ConnectionFields) -> None:
    _require(fields, "address")
    if fields.target is None:
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_EMPTY_IQN", "Target details cannot be empty."
        )
    if fields.port is not None and not 0 < fields.port <= 65535:
        raise _invalid_port()
    if (fields.username is None) != (fields.password is None):
        # storconn's own key: the agent logs in with both or with neither.
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_INCOMPLETE_CREDENTIALS",
            "CHAP needs both a user name and a password.",
        )


def _validate_mount_options(fields: ConnectionFields) -> None:
    if fields.mount_options is None:
        return
    kind = mount_option_kind(fields)
    try:
        check_options(kind, fields.mount_options, field="mount_options")
    except InvalidParameter as exc:
        found = [option_name(option) for option in split_options(fields.mount_options)]
        refused = {name: why for name in found if (why := refusal_reason(name))}
        managed = [name for name in found if name in MANAGED_OPTIONS.get(kind, frozenset())]
        if refused:
            # storconn's own key: oVirt passed these through to the mount helper.
            # The reasons name options, never their values.
            reasons = "; ".join(sorted(set(refused.values())))
            raise BadRequest(
                "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_REFUSED_PROPERTY",
                "Custom mount options (mount_options) contain options storconn refuses: "
                + ", ".join(refused)
                + f" ({reasons}).",
            ) from None
        if managed:
            raise BadRequest(
                "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_MANAGED_PROPERTY",
                "Custom mount options contain the following duplicate managed options: "
                + ", ".join(managed)
                + ".",
            ) from None
        raise _invalid(f"mount_options: {exc.reason}.") from None


def _validate_with_vocabulary(fields: ConnectionFields) -> None:
    # The id is irrelevant to validity; a throwaway one builds the record.
    conn = build_connection(fields, connection_id=str(uuid.UUID(int=0)))
    try:
        to_info(conn, secrets=True)
    except InvalidParameter as exc:
        if exc.field == "params.spec":
            field = _SPEC_NAMES.get(conn.type, "path")
        else:
            field = _FIELD_NAMES.get(exc.field, exc.field)
        if field == "port":
            raise _invalid_port() from None
        # The reason never quotes the value, so a password cannot leak here.
        raise _invalid(f"{field}: {exc.reason}.") from None


def _require(fields: ConnectionFields, name: str) -> None:
    if getattr(fields, name) is None:
        raise BadRequest(
            "VALIDATION_STORAGE_CONNECTION_EMPTY_CONNECTION",
            f"{name} field cannot be empty.",
        )


def _invalid_port() -> BadRequest:
    # oVirt's text; storconn also refuses ports above 65535, which no TCP port is.
    return BadRequest(
        "VALIDATION_STORAGE_CONNECTION_INVALID_PORT",
        "Invalid value for port, should be an integer greater than 0.",
    )


def _invalid(why: str) -> BadRequest:
    return BadRequest(
        "VALIDATION_STORAGE_CONNECTION_INVALID", f"Storage connection is invalid. {why}"
    )
