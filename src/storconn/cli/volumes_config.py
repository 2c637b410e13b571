"""The configuration of ``storconn volumes``: one TOML file, overridden by flags and variables.

The file (``--config``, ``STORCONN_VOLUMES_CONFIG``, default
``/etc/storconn/volumes.toml``)::

    [persistence]                 # cinderlib's persistence_config
    storage = "db"                # the only plugin that outlives one command
    connection = "sqlite:////var/lib/storconn/volumes.db"
    key_file = "/var/lib/storconn/volumes.key"     # optional: encrypts CHAP secrets at rest
    password_file = "/etc/storconn/db-password"    # optional: the database password

    [backends.gl1]                # one table per backend: its driver configuration
    volume_driver = "file"
    share = "glusterfs://gl1.example/vol0"

Then ``--persistence URL`` / ``STORCONN_VOLUMES_DB`` replaces
``persistence.connection``, and ``--agent`` / ``--token-file``
(``STORCONN_AGENT_URL`` / ``STORCONN_TOKEN_FILE``) say where this host's
agent is. The database password comes only from ``password_file``: a URL
with a password is refused on the command line, where ``/proc/*/cmdline``
shows it to every user.

Every mistake is a ``ConfigError`` naming the file and the dotted key, and
is found before anything is stored or any storage is reached: building a
``Backend`` only checks its configuration (the driver reaches its share on
first use).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storconn.connection import InvalidParameter

if TYPE_CHECKING:
    from storconn.volumes import Backend

__all__ = ["ConfigError", "DEFAULT_CONFIG", "DEFAULT_DATABASE", "VolumesConfig", "load_config", "make_backends",
           "url_has_password"]

DEFAULT_CONFIG = Path("/etc/storconn/volumes.toml")
DEFAULT_DATABASE = "sqlite:////var/lib/storconn/volumes.db"

_TOP_KEYS = frozenset({"persistence", "backends"})
_PERSISTENCE_KEYS = frozenset({"storage", "connection", "key_file", "password_file"})


class ConfigError(Exception):
    """A configuration the commands cannot use; the message names the file and the key."""


@dataclass(slots=True)
class VolumesConfig:
    """What the file says, checked; ``persistence`` is the ``persistence_config`` for ``setup``."""

    path: Path
    persistence: dict[str, Any]
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)

    def database_url(self) -> str:
        """The connection URL as shown to a user: the password, if any, masked."""
        from sqlalchemy.engine import make_url

        return make_url(self.persistence["connection"]).render_as_string(hide_password=True)


def load_config(path: Path, *, database: str | None = None) -> VolumesConfig:
    """Read and check ``path``; ``database`` (``--persistence``) replaces ``persistence.connection``."""
    data = _read(path)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: is not a key of this file (only [persistence] and [backends.NAME])")
    persistence = _persistence(path, _table(path, data, "persistence"))
    if database is not None:
        persistence["connection"] = _url(path, database, "--persistence")
    _apply_password(path, persistence)
    backends: dict[str, dict[str, Any]] = {}
    for name, table in _table(path, data, "backends").items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: backends.{name}: must be a table ([backends.{name}])")
        given = table.get("volume_backend_name", name)
        if given != name:
            raise ConfigError(f"{path}: backends.{name}.volume_backend_name: must be {name!r}, the table's name")
        backends[name] = {k: v for k, v in table.items() if k != "volume_backend_name"}
    return VolumesConfig(path=path, persistence=persistence, backends=backends)


def make_backends(config: VolumesConfig) -> dict[str, Backend]:
    """One ``Backend`` per table, checked without reaching any storage."""
    from storconn.volumes import Backend

    made: dict[str, Backend] = {}
    for name, driver_config in config.backends.items():
        try:
            made[name] = Backend(name, **driver_config)
        except InvalidParameter as exc:
            field_name = name if exc.field == "volume_backend_name" else f"{name}.{exc.field}"
            raise ConfigError(f"{config.path}: backends.{field_name}: {exc.reason}") from exc
    return made


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no such file; write one with [persistence] and [backends.NAME] tables, "
            "or name another with --config / STORCONN_VOLUMES_CONFIG"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {key}: must be a table ([{key}])")
    return table


def _persistence(path: Path, table: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(table) - _PERSISTENCE_KEYS)
    if unknown:
        raise ConfigError(f"{path}: persistence.{unknown[0]}: is not a persistence option "
                          f"(one of {', '.join(sorted(_PERSISTENCE_KEYS))})")
    for key, value in table.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}: persistence.{key}: must be a non-empty string")
    storage = table.get("storage", "db")
    if storage != "db":
        # memory and memory_db live in one process; each command is a new one.
        raise ConfigError(f"{path}: persistence.storage: must be 'db': {storage!r} keeps nothing between two commands")
    result: dict[str, Any] = {"storage": "db", "connection": _url(path, table.get("connection", DEFAULT_DATABASE),
                                                                   "persistence.connection")}
    for key in ("key_file", "password_file"):
        if key in table:
            result[key] = table[key]
    return result


def _url(path: Path, text: str, key: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text)
    except ArgumentError as exc:
        where = key if key.startswith("--") else f"{path}: {key}"
        raise ConfigError(f"{where}: not a database URL (e.g. {DEFAULT_DATABASE})") from exc
    return text


def url_has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False


def _apply_password(path: Path, persistence: dict[str, Any]) -> None:
    """Put ``password_file``'s password into the URL; the plugin never sees the file name."""
    password_file = persistence.pop("password_file", None)
    if password_file is None:
        return
    from sqlalchemy.engine import make_url

    try:
        password = Path(password_file).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: persistence.password_file: cannot read {password_file}: {exc.strerror}") from exc
    if not password:
        raise ConfigError(f"{path}: persistence.password_file: {password_file} is empty")
    url = make_url(persistence["connection"]).set(password=password)
    persistence["connection"] = url.render_as_string(hide_password=False)
