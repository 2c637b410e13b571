"""A stored connection as the vocabulary's ConnectionInfo: what agents connect, and what identity compares.

The engine never invents its own notion of "the same connection": duplicate
checks, lock keys and the database's unique index all use the identity that
``storconn.connection`` computes for the info built here, the one the agents
use to share a mount or a session.

Pure: nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from typing import Any

from storconn.connection import ConnectionInfo, parse_info
from storconn.engine.model import StorageConnection, StorageType

from .fields import DEFAULT_PORTAL

__all__ = ["details_changed", "identity_hash", "identity_key", "info_wire", "to_info"]


def info_wire(conn: StorageConnection, *, secrets: bool = True) -> dict[str, Any]:
    """The ``{"type", "params"}`` dict an agent gets for ``conn``.

    Without ``secrets`` the CHAP credentials are left out: that form is
    enough for identity, which never includes them.
    """
    if conn.type is StorageType.NFS:
        params: dict[str, Any] = {"export": conn.connection}
        _put(params, "version", conn.nfs_version)
        _put(params, "timeout", conn.nfs_timeo)
        _put(params, "retrans", conn.nfs_retrans)
        _put(params, "options", conn.mount_options)
        return {"type": "nfs", "params": params}
    if conn.type is StorageType.POSIXFS:
        params = {"spec": conn.connection, "vfsType": conn.vfs_type}
        _put(params, "options", conn.mount_options)
        return {"type": "posixfs", "params": params}
    if conn.type is StorageType.GLUSTERFS:
        params = {"spec": conn.connection}
        _put(params, "options", conn.mount_options)
        return {"type": "glusterfs", "params": params}
    if conn.type is StorageType.LOCALFS:
        return {"type": "localfs", "params": {"path": conn.connection}}
    if conn.type is StorageType.ISCSI:
        return {"type": "iscsi", "params": _iscsi_params(conn, secrets)}
    return {"type": "fcp", "params": {}}


def to_info(conn: StorageConnection, *, secrets: bool = True) -> ConnectionInfo:
    """The validated ConnectionInfo; ``InvalidParameter`` (naming the wire field) if an agent would refuse it."""
    return parse_info(info_wire(conn, secrets=secrets))


def identity_key(conn: StorageConnection) -> str:
    """The normalized identity of ``conn`` as one string (host case, ``//``, brackets... folded)."""
    return to_info(conn, secrets=False).identity_key


def identity_hash(key: str) -> str:
    """A fixed-length digest of an identity key, for the unique index (paths can be long)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def details_changed(old: StorageConnection, new: StorageConnection) -> bool:
    """Whether an agent would connect ``new`` differently from ``old`` (then the revision is bumped).

    Compared on the wire form with secrets, so that a new CHAP password
    counts as a change, as DESIGN.md section 4 asks.
    """
    return info_wire(old, secrets=True) != info_wire(new, secrets=True)


def _iscsi_params(conn: StorageConnection, secrets: bool) -> dict[str, Any]:
    target: dict[str, Any] = {
        "portal": {"hostname": conn.connection, "port": conn.port},
        "iqn": conn.iqn,
    }
    # oVirt stores "1" when the client gave no portal group tag; seed 000 asks
    # clients to omit the tag, so only a tag the client chose is passed on.
    if conn.portal and conn.portal != DEFAULT_PORTAL:
        target["tpgt"] = conn.portal
    params: dict[str, Any] = {"target": target}
    if secrets and conn.username is not None:
        chap: dict[str, Any] = {"username": conn.username}
        if conn.password is not None:
            chap["password"] = conn.password
        params["credentials"] = {"type": "chap", "params": chap}
    return params


def _put(params: dict[str, Any], name: str, value: object) -> None:
    if value is not None:
        params[name] = value
