"""Duplicate connections: two stored connections that are the same actual connection.

oVirt compares raw strings: NFS, POSIX and Gluster by the ``connection``
string anywhere, local storage by path within one data center, iSCSI by
(address, port, iqn). storconn compares the vocabulary's normalized
identity instead (host case, trailing slashes, ``//``, IPv6 brackets), and
names the conflicting connection and the domains using it, which oVirt's
message once lacked.

Pure: the caller looks up the candidates (the database indexes the
identity); the rule decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storconn.engine.errors import Conflict
from storconn.engine.model import StorageConnection, StorageDomain, StorageType

from .infos import identity_key

__all__ = ["Candidate", "check_duplicates", "duplicate_scope", "find_duplicate"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored connection that may be a duplicate, with where it lives and who uses it."""

    connection: StorageConnection
    data_center_id: str | None = None  # only meaningful for local storage
    domains: tuple[StorageDomain, ...] = ()


def duplicate_scope(conn: StorageConnection, data_center_id: str | None) -> str:
    """Where duplicates of ``conn`` are looked for: everywhere (""), or its data center for local storage.

    A local connection in no data center yet is its own scope: the same
    path on two hosts that share nothing is not the same storage.
    """
    if conn.type is StorageType.LOCALFS:
        return f"dc:{data_center_id}" if data_center_id else f"connection:{conn.id}"
    return ""


def find_duplicate(
    conn: StorageConnection, candidates: Sequence[Candidate], *, data_center_id: str | None = None
) -> Candidate | None:
    """The first candidate that is the same actual connection as ``conn`` in its scope, else None.

    ``conn`` itself (same id) is never its own duplicate, so an edit that
    keeps the target passes.
    """
    key = identity_key(conn)
    scope = duplicate_scope(conn, data_center_id)
    for candidate in candidates:
        other = candidate.connection
        if other.id == conn.id or other.type is not conn.type:
            continue
        if duplicate_scope(other, candidate.data_center_id) != scope:
            continue
        if identity_key(other) == key:
            return candidate
    return None


def check_duplicates(
    conn: StorageConnection, candidates: Sequence[Candidate], *, data_center_id: str | None = None
) -> None:
    """Conflict ``ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS`` naming the existing connection."""
    found = find_duplicate(conn, candidates, data_center_id=data_center_id)
    if found is None:
        return
    raise Conflict("ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS", duplicate_message(found))


def duplicate_message(found: Candidate) -> str:
    """oVirt's text: the existing connection and the domain using it (oVirt names the first one)."""
    if found.domains:
        return f"Storage connection {found.connection.id} already exists for {found.domains[0].name}."
    # oVirt leaves the name empty ("... exists for ."); storconn ends the sentence instead.
    return f"Storage connection {found.connection.id} already exists."
