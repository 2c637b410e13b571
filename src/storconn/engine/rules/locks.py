"""Which keys each command locks (engine-rules.md, "Locks").

A lock is exclusive for the length of the command and never waited for: a
command that finds a key taken fails at once with ``ObjectLocked`` (409),
as oVirt does. Keys are plain strings; the locking itself lives in
``storconn.engine.db.locks``.

| command            | keys |
|--------------------|------|
| add connection     | the target (its normalized identity) |
| edit connection    | the new target and the connection id; each domain using it; for iSCSI each LUN disk on it |
| remove connection  | the target and the connection id |
| attach / detach    | the connection id (and the domain, so that its status cannot move meanwhile) |
| domain commands    | the domain id |

oVirt locks an iSCSI target by (connection, iqn, port, user); storconn locks
the identity (portal, port, iqn, iface), which is what duplicates compare,
so two adds of one target with different users exclude each other too.

Pure: nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from storconn.connection import IDENTITY_SEPARATOR
from storconn.engine.model import StorageConnection

from .infos import identity_key

__all__ = [
    "add_connection_keys",
    "attach_connection_keys",
    "connection_key",
    "describe",
    "disk_key",
    "domain_key",
    "edit_connection_keys",
    "host_key",
    "remove_connection_keys",
    "target_key",
]


def target_key(conn: StorageConnection) -> str:
    return "target:" + identity_key(conn)


def connection_key(connection_id: str) -> str:
    return f"connection:{connection_id}"


def domain_key(domain_id: str) -> str:
    return f"domain:{domain_id}"


def disk_key(disk_id: str) -> str:
    return f"disk:{disk_id}"


def host_key(host_id: str) -> str:
    return f"host:{host_id}"


def add_connection_keys(conn: StorageConnection) -> list[str]:
    return [target_key(conn)]


def edit_connection_keys(
    new: StorageConnection, *, domain_ids: Iterable[str] = (), disk_ids: Iterable[str] = ()
) -> list[str]:
    keys = [target_key(new), connection_key(new.id)]
    keys += [domain_key(domain_id) for domain_id in sorted(set(domain_ids))]
    keys += [disk_key(disk_id) for disk_id in sorted(set(disk_ids))]
    return keys


def remove_connection_keys(conn: StorageConnection) -> list[str]:
    return [target_key(conn), connection_key(conn.id)]


def attach_connection_keys(domain_id: str, connection_id: str) -> list[str]:
    return [connection_key(connection_id), domain_key(domain_id)]


def describe(key: str) -> str:
    """A key as a message shows it: the identity's separators become spaces."""
    kind, _, rest = key.partition(":")
    label = {
        "target": "storage target",
        "connection": "storage connection",
        "domain": "storage domain",
        "disk": "disk",
        "host": "host",
    }.get(kind, kind)
    return f"{label} {rest.replace(IDENTITY_SEPARATOR, ' ')}"
