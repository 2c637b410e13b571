"""The rows the persistence plugins store: plain, copyable, JSON-friendly.

The public objects (``Volume``, ``Snapshot``, ``Connection``) wrap one of
these each. A plugin stores and returns *copies*, never the caller's object,
so two threads never share a record by accident.

``version`` is the optimistic-concurrency counter: ``set_*`` writes only
when the stored row still has the version the record was read with, then
increments it; otherwise ``ConcurrentUpdate``. A new record has version 0.

Secrets: ``VolumeRecord.provider_auth`` and ``ConnectionRecord.conn_info``
(its ``data.auth_password`` and the share's credentials) are encrypted by
the ``db`` plugin and redacted by ``redacted()`` for logs and ``json()``.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

from storconn.connection import SECRET_MASK

__all__ = [
    "ConnectionRecord",
    "KeyValue",
    "Record",
    "SnapshotRecord",
    "VolumeRecord",
    "new_id",
    "now",
    "redact_conn_info",
]


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


class _Copyable:
    def copy(self) -> Self:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)  # type: ignore[call-overload]
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("created_at"), str):
            values["created_at"] = datetime.fromisoformat(values["created_at"])
        return cls(**values)


@dataclass(slots=True)
class VolumeRecord(_Copyable):
    backend: str
    size: int
    id: str = field(default_factory=new_id)
    name: str = ""
    description: str = ""
    status: str = "creating"
    multiattach: bool = False
    format: str = "raw"
    source_volid: str | None = None
    snapshot_id: str | None = None
    # Where the driver keeps the volume (file name on the share, tgt tid/lun).
    provider_location: str | None = None
    # The driver's secret for this volume (CHAP "CHAP user password"); encrypted at rest.
    provider_auth: str | None = None
    # Driver state that must survive a restart (exported: bool, tid, lun, ...).
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=now)
    version: int = 0


@dataclass(slots=True)
class SnapshotRecord(_Copyable):
    backend: str
    volume_id: str
    volume_size: int
    id: str = field(default_factory=new_id)
    name: str = ""
    description: str = ""
    status: str = "creating"
    provider_location: str | None = None
    created_at: datetime = field(default_factory=now)
    version: int = 0


@dataclass(slots=True)
class ConnectionRecord(_Copyable):
    """One connection of a volume to one host (one export/ACL binding).

    ``status`` walks ``connecting → connected → attaching → attached →
    detaching → connected → disconnecting`` (deleted at the end); a step is
    recorded before it is taken, so ``cleanup()`` knows what a crash left.
    """

    backend: str
    volume_id: str
    connector_info: dict[str, Any]
    id: str = field(default_factory=new_id)
    status: str = "connecting"
    conn_info: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] | None = None
    attached_host: str | None = None
    attach_mode: str = "rw"
    # Made by Volume.attach(): the attach is the connection's only purpose, so
    # cleanup() undoes both when a crash interrupts either.
    local_attach: bool = False
    created_at: datetime = field(default_factory=now)
    version: int = 0


@dataclass(slots=True)
class KeyValue(_Copyable):
    """cinderlib's key-value pair: ``KeyValue(node_id, json_text)``."""

    key: str
    value: str | None = None
    version: int = 0


Record = TypeVar("Record", VolumeRecord, SnapshotRecord, ConnectionRecord, KeyValue)

_SECRET_KEYS = frozenset({"auth_password", "password", "auth_password_in", "provider_auth"})


def redact_conn_info(value: Any) -> Any:
    """A deep copy of a conn_info (or any JSON value) with every secret masked."""
    if isinstance(value, dict):
        return {
            key: SECRET_MASK if key in _SECRET_KEYS and item else redact_conn_info(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_conn_info(item) for item in value]
    return value
