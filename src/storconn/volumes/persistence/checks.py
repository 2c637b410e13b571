"""What every plugin checks before it stores a record, so that all of them accept the same records.

A record that fails a check raises ``InvalidParameter`` naming the field
(``volume.extra``, ``connection.attach_mode``) and the reason, never the
value (it may be a secret), and nothing is stored. The checks are the
columns' limits (lengths, types, JSON values PostgreSQL accepts), so the
``memory`` plugin refuses exactly what the ``db`` plugin would: a program
tested on one never fails on the other.

Ids are checked with the vocabulary's ``check_volume_id``: they become
parts of agent reference ids and of file names on shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from storconn.connection import InvalidParameter
from storconn.connection.volume_shapes import check_volume_id

from ..records import ConnectionRecord, KeyValue, SnapshotRecord, VolumeRecord

__all__ = [
    "KEY_MAX",
    "check_connection",
    "check_deletable",
    "check_filter",
    "check_key_value",
    "check_snapshot",
    "check_volume",
]

KEY_MAX = 255
_NAME_MAX = 255
_STATUS_MAX = 32
_JSON_DEPTH = 32

Check = Callable[[Any, str], None]


def _text(limit: int | None, *, optional: bool = False) -> Check:
    def check(value: Any, field: str) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise InvalidParameter(field, "must be a string" + (" or None" if optional else ""))
        if limit is not None and len(value) > limit:
            raise InvalidParameter(field, f"must be at most {limit} characters")
        if "\x00" in value:
            raise InvalidParameter(field, "must not contain NUL characters")

    return check


def _ident(*, optional: bool = False) -> Check:
    def check(value: Any, field: str) -> None:
        if value is None and optional:
            return
        check_volume_id(value, field)

    return check


def _count(value: Any, field: str) -> None:
    # bool is an int in Python; a size or version of True is a bug upstream.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameter(field, "must be a whole number >= 0")
    if value >= 2**63:
        raise InvalidParameter(field, "must be below 2**63")


def _flag(value: Any, field: str) -> None:
    if not isinstance(value, bool):
        raise InvalidParameter(field, "must be True or False")


def _moment(value: Any, field: str) -> None:
    if not isinstance(value, datetime):
        raise InvalidParameter(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidParameter(field, "must be timezone-aware (UTC)")


def _mode(value: Any, field: str) -> None:
    if value not in ("rw", "ro"):
        raise InvalidParameter(field, "must be 'rw' or 'ro'")


def _json_object(*, optional: bool = False) -> Check:
    def check(value: Any, field: str) -> None:
        if value is None and optional:
            return
        if not isinstance(value, dict):
            raise InvalidParameter(field, "must be a dict" + (" or None" if optional else ""))
        _json_value(value, field, 0)

    return check


def _json_value(value: Any, field: str, depth: int) -> None:
    """JSON that round-trips unchanged: str keys, lists not tuples, finite numbers."""
    if depth > _JSON_DEPTH:
        raise InvalidParameter(field, f"is nested deeper than {_JSON_DEPTH} levels")
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameter(field, "holds a NaN or infinite number, which JSON cannot store")
        return
    if isinstance(value, list):
        for item in value:
            _json_value(item, field, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidParameter(field, "has a key that is not a string")
            _json_value(item, f"{field}.{key}" if _plain(key) else field, depth + 1)
        return
    raise InvalidParameter(field, f"holds a {type(value).__name__}, which is not a JSON value")


def _plain(key: str) -> bool:
    # A key goes into the error's field path only when it cannot smuggle text into a message.
    return 0 < len(key) <= 64 and key.replace("_", "").replace("-", "").isalnum()


_VOLUME: dict[str, Check] = {
    "id": _ident(),
    "backend": _text(_NAME_MAX),
    "size": _count,
    "name": _text(_NAME_MAX),
    "description": _text(None),
    "status": _text(_STATUS_MAX),
    "multiattach": _flag,
    "format": _text(16),
    "source_volid": _ident(optional=True),
    "snapshot_id": _ident(optional=True),
    "provider_location": _text(None, optional=True),
    "provider_auth": _text(None, optional=True),
    "extra": _json_object(),
    "created_at": _moment,
    "version": _count,
}

_SNAPSHOT: dict[str, Check] = {
    "id": _ident(),
    "backend": _text(_NAME_MAX),
    "volume_id": _ident(),
    "volume_size": _count,
    "name": _text(_NAME_MAX),
    "description": _text(None),
    "status": _text(_STATUS_MAX),
    "provider_location": _text(None, optional=True),
    "created_at": _moment,
    "version": _count,
}

_CONNECTION: dict[str, Check] = {
    "id": _ident(),
    "backend": _text(_NAME_MAX),
    "volume_id": _ident(),
    "connector_info": _json_object(),
    "status": _text(_STATUS_MAX),
    "conn_info": _json_object(),
    "device": _json_object(optional=True),
    "attached_host": _text(_NAME_MAX, optional=True),
    "attach_mode": _mode,
    "local_attach": _flag,
    "created_at": _moment,
    "version": _count,
}

_KEY_VALUE: dict[str, Check] = {
    "key": _text(KEY_MAX),
    "value": _text(None, optional=True),
    "version": _count,
}


def _check(record: Any, kind: type, label: str, checks: dict[str, Check]) -> None:
    if not isinstance(record, kind):
        raise InvalidParameter(label, f"must be a {kind.__name__}")
    for name, check in checks.items():
        check(getattr(record, name), f"{label}.{name}")


def check_volume(record: Any) -> None:
    _check(record, VolumeRecord, "volume", _VOLUME)


def check_snapshot(record: Any) -> None:
    _check(record, SnapshotRecord, "snapshot", _SNAPSHOT)


def check_connection(record: Any) -> None:
    _check(record, ConnectionRecord, "connection", _CONNECTION)


def check_key_value(record: Any) -> None:
    _check(record, KeyValue, "key_value", _KEY_VALUE)
    if not record.key:
        raise InvalidParameter("key_value.key", "must not be empty")


def check_deletable(record: Any, kind: type, label: str) -> str:
    """The id (key) of a record to delete; only its type and id are checked."""
    if not isinstance(record, kind):
        raise InvalidParameter(label, f"must be a {kind.__name__}")
    if isinstance(record, KeyValue):
        _text(KEY_MAX)(record.key, f"{label}.key")
        return record.key
    return check_volume_id(getattr(record, "id", None), f"{label}.id")


def check_filter(value: Any, field: str) -> str | None:
    """A getter's filter: None (no filter) or a string to compare with."""
    if value is not None and not isinstance(value, str):
        raise InvalidParameter(field, "must be a string or None")
    return value
