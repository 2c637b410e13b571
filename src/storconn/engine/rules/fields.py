"""From what a client sends (ConnectionFields) to what is stored (StorageConnection), and back.

oVirt keeps one ``connection`` string per stored connection: ``address:path``
for NFS, ``address:path`` or ``path`` for POSIX and Gluster, the path for
local storage and the portal address for iSCSI (the iqn, port, portal and
credentials have columns of their own). The API shows it split again into
``address`` and ``path`` (on the first ``:``, or after ``]:`` for an IPv6
address), which ``stored_fields`` does.

Pure: nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Protocol, TypedDict

from storconn.connection import DEFAULT_ISCSI_PORT
from storconn.engine.model import ConnectionFields, StorageConnection, StorageType

from storconn.engine.errors import BadRequest

from .messages import IncompleteParameters

__all__ = [
    "DEFAULT_PORTAL",
    "REQUIRED_ON_ADD",
    "MountFields",
    "build_connection",
    "clean_fields",
    "connection_string",
    "merge_fields",
    "mount_fields",
    "output_fields",
    "require_fields",
    "split_connection",
    "storage_type",
    "stored_fields",
    "without_password",
]

DEFAULT_PORTAL = "1"  # oVirt's default target portal group tag

# What oVirt's REST layer requires on add, per type (engine-rules.md, "Fields").
REQUIRED_ON_ADD: dict[StorageType, tuple[str, ...]] = {
    StorageType.ISCSI: ("address", "target", "port"),
    StorageType.NFS: ("address", "path"),
    StorageType.LOCALFS: ("path",),
    StorageType.POSIXFS: ("path", "vfs_type"),
    StorageType.GLUSTERFS: ("path", "vfs_type"),
}

# Fields each type keeps; the others are dropped when a connection is built,
# so that a stray ``vfs_type`` on an NFS connection is neither stored nor shown.
_KEPT: dict[StorageType, frozenset[str]] = {
    StorageType.ISCSI: frozenset({"address", "port", "target", "portal", "username", "password"}),
    StorageType.NFS: frozenset(
        {"address", "path", "nfs_version", "nfs_timeo", "nfs_retrans", "mount_options"}
    ),
    StorageType.LOCALFS: frozenset({"path"}),
    StorageType.POSIXFS: frozenset({"address", "path", "vfs_type", "mount_options"}),
    StorageType.GLUSTERFS: frozenset(
        {"address", "path", "vfs_type", "mount_options", "gluster_volume"}
    ),
}

# oVirt's API enum spellings of the NFS versions, and the stored ones.
_NFS_VERSION_ALIASES = {
    "v3": "3",
    "v4": "4",
    "v4_0": "4.0",
    "v4_1": "4.1",
    "v4_2": "4.2",
    "auto": "auto",
}


class MountFields(TypedDict):
    """How a file connection mounts: fields that keep one name from request to row to answer.

    ``ConnectionFields``, ``StorageConnection`` and the database row all
    carry them as they are, so ``mount_fields`` copies them between any two.
    """

    vfs_type: str | None
    mount_options: str | None
    nfs_version: str | None
    nfs_timeo: int | None
    nfs_retrans: int | None
    gluster_volume: str | None


class _HasMountFields(Protocol):
    # Read-only, so that dataclasses and SQLAlchemy rows both qualify.
    @property
    def vfs_type(self) -> str | None: ...
    @property
    def mount_options(self) -> str | None: ...
    @property
    def nfs_version(self) -> str | None: ...
    @property
    def nfs_timeo(self) -> int | None: ...
    @property
    def nfs_retrans(self) -> int | None: ...
    @property
    def gluster_volume(self) -> str | None: ...


def mount_fields(source: _HasMountFields) -> MountFields:
    """The mount fields of ``source``, as keywords: ``StorageConnection(..., **mount_fields(row))``."""
    return MountFields(
        vfs_type=source.vfs_type,
        mount_options=source.mount_options,
        nfs_version=source.nfs_version,
        nfs_timeo=source.nfs_timeo,
        nfs_retrans=source.nfs_retrans,
        gluster_volume=source.gluster_volume,
    )


def clean_fields(fields: ConnectionFields) -> ConnectionFields:
    """A copy with empty strings as None (oVirt stores them as null) and the NFS version's stored spelling."""
    values = {}
    for field in dataclass_fields(fields):
        value = getattr(fields, field.name)
        if isinstance(value, str) and value == "":
            value = None
        values[field.name] = value
    cleaned = ConnectionFields(**values)
    if cleaned.nfs_version is not None:
        cleaned.nfs_version = _NFS_VERSION_ALIASES.get(
            cleaned.nfs_version.lower(), cleaned.nfs_version
        )
    if cleaned.type is not None:
        cleaned.type = storage_type(cleaned.type)
    return cleaned


def storage_type(value: object) -> StorageType:
    """``value`` as a StorageType; BadRequest naming the known ones otherwise."""
    if isinstance(value, StorageType):
        return value
    try:
        return StorageType(str(value))
    except ValueError:
        pass
    known = ", ".join(member.value for member in StorageType)
    raise BadRequest("VALIDATION_STORAGE_TYPE_INVALID", f"Unknown storage type; use one of {known}.")


def require_fields(
    fields: ConnectionFields, *, entity: str = "StorageConnection", verb: str = "add"
) -> None:
    """IncompleteParameters naming every missing field, as oVirt's REST layer does on add.

    ``fields`` must be cleaned (empty strings are missing too). The type
    comes first: without it the other required fields are unknown.
    """
    if fields.type is None:
        raise IncompleteParameters(entity, ["type"], verb)
    required = REQUIRED_ON_ADD.get(StorageType(fields.type), ())
    missing = [name for name in required if getattr(fields, name) is None]
    if missing:
        raise IncompleteParameters(entity, missing, verb)


def merge_fields(stored: ConnectionFields, given: ConnectionFields) -> ConnectionFields:
    """A PUT: every field the client gave replaces the stored one; None keeps it.

    An empty string clears a field (it is stored as null). A PUT without a
    password therefore keeps the stored one. The type is never taken from
    ``given`` here: changing it is refused by the edit rules.
    """
    values = {}
    for field in dataclass_fields(stored):
        mine = getattr(given, field.name)
        values[field.name] = getattr(stored, field.name) if mine is None else mine
    merged = clean_fields(ConnectionFields(**values))
    merged.type = stored.type
    return merged


def connection_string(storage_type: StorageType, address: str | None, path: str | None) -> str:
    """oVirt's stored ``connection`` for the fields of one type ("" when they are missing)."""
    if storage_type is StorageType.ISCSI:
        return address or ""
    if storage_type is StorageType.LOCALFS:
        return path or ""
    if address:
        return f"{_bracket(address)}:{path or ''}"
    return path or ""


def split_connection(connection: str) -> tuple[str | None, str]:
    """``"server:/path"`` gives ``("server", "/path")``; ``"[::1]:/p"`` gives ``("[::1]", "/p")``.

    A string without a ``:`` (a local path, a device, ``UUID=...``) has no address.
    """
    if connection.startswith("["):
        end = connection.find("]:")
        if end > 0:
            return connection[: end + 1], connection[end + 2 :]
        return None, connection
    address, colon, path = connection.partition(":")
    if not colon or not address or "/" in address:
        return None, connection
    return address, path


def build_connection(
    fields: ConnectionFields, *, connection_id: str, revision: int = 1
) -> StorageConnection:
    """The stored form of cleaned, validated ``fields``, with oVirt's defaults filled in."""
    storage_type = StorageType(fields.type) if fields.type is not None else None
    if storage_type is None:
        raise ValueError("build_connection needs the type")
    kept = _KEPT.get(storage_type, frozenset())
    given = replace(fields, **{name: None for name in _ALL_FIELDS if name not in kept})
    conn = StorageConnection(
        id=connection_id,
        type=storage_type,
        connection=connection_string(storage_type, given.address, given.path),
        revision=revision,
        **mount_fields(given),
    )
    if storage_type is StorageType.ISCSI:
        conn.port = given.port if given.port is not None else DEFAULT_ISCSI_PORT
        conn.iqn = given.target
        conn.portal = given.portal or DEFAULT_PORTAL
        conn.username = given.username
        conn.password = given.password
    return conn


def stored_fields(conn: StorageConnection, *, secrets: bool = True) -> ConnectionFields:
    """The fields of a stored connection, ``connection`` split back into address and path."""
    if conn.type is StorageType.ISCSI:
        address, path = conn.connection or None, None
    elif conn.type is StorageType.LOCALFS:
        address, path = None, conn.connection
    else:
        address, path = split_connection(conn.connection)
    return ConnectionFields(
        type=conn.type,
        address=address,
        path=path,
        port=conn.port,
        target=conn.iqn,
        portal=conn.portal,
        username=conn.username,
        password=conn.password if secrets else None,
        **mount_fields(conn),
    )


def output_fields(conn: StorageConnection) -> ConnectionFields:
    """What the API shows: the stored fields without the password, which is write-only."""
    return stored_fields(conn, secrets=False)


def without_password(conn: StorageConnection) -> StorageConnection:
    """A copy safe to hand out of the engine: the password is never output."""
    return replace(conn, password=None)


def _bracket(address: str) -> str:
    # An IPv6 address goes in brackets in ``address:path``, or the first ":"
    # would no longer separate the address from the path.
    if ":" in address and not address.startswith("["):
        return f"[{address}]"
    return address


_ALL_FIELDS = tuple(field.name for field in dataclass_fields(ConnectionFields))
