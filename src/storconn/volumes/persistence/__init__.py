"""Persistence plugins for the volumes library, chosen by cinderlib's ``persistence_config``.

- ``{"storage": "memory"}``: ``MemoryPersistence``, dicts in this process.
- ``{"storage": "memory_db"}``: the ``db`` plugin on in-memory SQLite.
- ``{"storage": "db", "connection": URL, "key_file": PATH}``: ``DbPersistence``
  on SQLite (default ``$XDG_STATE_HOME/storconn/volumes.db``) or PostgreSQL;
  ``key_file`` is optional (``storconn.volumes.secrets`` says which is used).
- ``{"storage": <a Persistence object>}``, or the object itself: a plugin of
  the caller's own, as cinderlib allows.
A string is a storage name (``"memory"``, ``"memory_db"``, ``"db"``) or a
database URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from storconn.connection import InvalidParameter

from .base import Persistence
from .db import DbPersistence
from .memory import MemoryPersistence

__all__ = [
    "DbPersistence",
    "MemoryPersistence",
    "Persistence",
    "default_database_url",
    "make_persistence",
]

_FIELD = "persistence_config"
_KEYS = {
    "memory": frozenset({"storage"}),
    "memory_db": frozenset({"storage"}),
    "db": frozenset({"storage", "connection", "key_file"}),
}
_METHODS = (
    "get_volumes",
    "get_snapshots",
    "get_connections",
    "get_key_values",
    "set_volume",
    "set_snapshot",
    "set_connection",
    "set_key_value",
    "delete_volume",
    "delete_snapshot",
    "delete_connection",
    "delete_key_value",
    "lock",
    "close",
)


def default_database_url() -> str:
    """``sqlite:///$XDG_STATE_HOME/storconn/volumes.db`` (``~/.local/state`` by default)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return f"sqlite:///{Path(state) / 'storconn' / 'volumes.db'}"


def make_persistence(config: Mapping[str, Any] | str | Persistence | None = None) -> Persistence:
    """The plugin ``config`` describes (see the module docstring); ``None`` means ``memory``.

    Raises ``InvalidParameter`` naming ``persistence_config.<key>`` for an
    unknown storage, an unknown key or a value of the wrong type.
    """
    if config is None:
        return MemoryPersistence()
    if isinstance(config, str):
        if "://" in config:
            return DbPersistence(config)
        config = {"storage": config}
    if not isinstance(config, Mapping):
        return _plugin(config, _FIELD)
    storage = config.get("storage", "memory")
    if not isinstance(storage, str):
        return _plugin(storage, f"{_FIELD}.storage")
    allowed = _KEYS.get(storage)
    if allowed is None:
        raise InvalidParameter(
            f"{_FIELD}.storage", "must be 'memory', 'memory_db', 'db' or a persistence object"
        )
    for key in config:
        if key not in allowed:
            raise InvalidParameter(
                f"{_FIELD}.{key}", f"is not a setting of the {storage!r} storage"
            )
    if storage == "memory":
        return MemoryPersistence()
    if storage == "memory_db":
        return DbPersistence("sqlite://")
    url = config.get("connection") or default_database_url()
    key_file = config.get("key_file")
    if key_file is not None and not isinstance(key_file, (str, Path)):
        raise InvalidParameter(f"{_FIELD}.key_file", "must be a path")
    if not isinstance(url, str):
        raise InvalidParameter(f"{_FIELD}.connection", "must be a database URL")
    return DbPersistence(url, key_file=key_file)


def _plugin(candidate: object, field: str) -> Persistence:
    missing = [name for name in _METHODS if not callable(getattr(candidate, name, None))]
    if missing:
        raise InvalidParameter(
            field,
            "must be 'memory', 'memory_db', 'db' or a persistence object "
            f"(this object lacks {', '.join(missing)})",
        )
    return cast(Persistence, candidate)
