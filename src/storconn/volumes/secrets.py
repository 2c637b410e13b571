"""The volumes library's secrets at rest: Fernet under a key file created 0600.

What is encrypted (by the ``db`` persistence, with the box made here):
``VolumeRecord.provider_auth``, a connection's whole ``conn_info`` (it holds
``data.auth_password`` and a share's credentials), and, wherever they occur
in the other JSON fields (``extra``, ``connector_info``, ``device``), the
values of keys that name a secret (``password``, ``auth_password``, ...),
so a driver that stashes a CHAP secret in ``extra`` does not leak it.

Which key file (``key_file_for``), first match wins:
1. the ``key_file`` the caller gives (``persistence_config["key_file"]``);
2. ``$STORCONN_VOLUMES_KEY_FILE``;
3. beside a SQLite database file: ``<db>.key``;
4. ``$XDG_STATE_HOME/storconn/volumes.key`` (``~/.local/state/...``).
An in-memory SQLite database (``sqlite://``) gets a random in-process key
unless a key file is named: its data dies with the process anyway.
Every controller sharing one PostgreSQL database must use the same key file.

The key file is created atomically: the key is written to a private
temporary file which is then hard-linked to the final name. ``link`` fails
if the name exists, so when two processes create it at once one wins and
the other reads the winner's key, and nobody ever reads a half-written file
(which ``O_EXCL`` alone would allow between create and write).

Nothing here logs, and no message or ``repr`` shows a key or a secret.
Thread-safety: a ``SecretBox`` is immutable; Fernet is thread-safe.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from .errors import VolumeError

__all__ = [
    "KEY_FILE_ENV",
    "SECRET_KEYS",
    "SecretBox",
    "SecretError",
    "default_key_file",
    "has_secret",
    "key_file_for",
]

KEY_FILE_ENV = "STORCONN_VOLUMES_KEY_FILE"

# Keys whose values are secrets wherever they appear in a stored JSON field:
# os-brick's CHAP keys, a share's credentials.params.password, provider_auth.
SECRET_KEYS = frozenset(
    {"auth_password", "auth_password_in", "discovery_auth_password", "password", "provider_auth"}
)

# How a sealed value looks inside a JSON field: a one-key object.
_SEALED = "$storconn-secret"


class SecretError(VolumeError):
    """A key file is unusable, or a stored secret does not decrypt with it (the wrong key)."""


def default_key_file() -> Path:
    """``$STORCONN_VOLUMES_KEY_FILE``, else ``$XDG_STATE_HOME/storconn/volumes.key``."""
    configured = os.environ.get(KEY_FILE_ENV)
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "storconn" / "volumes.key"


def key_file_for(sqlite_file: Path | None) -> Path:
    """The key file to use when none was given (rules 2–4 of the module docstring)."""
    if os.environ.get(KEY_FILE_ENV) or sqlite_file is None:
        return default_key_file()
    return sqlite_file.with_name(sqlite_file.name + ".key")


class SecretBox:
    """Encrypts and decrypts secrets with one Fernet key.

    ``SecretBox(path)`` loads the key in ``path`` (created 0600 if missing);
    ``SecretBox.ephemeral()`` holds a random key that is never written.
    """

    def __init__(self, key_file: Path | str) -> None:
        self.key_file: Path | None = Path(key_file)
        self._fernet = Fernet(_load_or_create_key(self.key_file))

    @classmethod
    def ephemeral(cls) -> SecretBox:
        box = cls.__new__(cls)
        box.key_file = None
        box._fernet = Fernet(Fernet.generate_key())
        return box

    def __repr__(self) -> str:
        where = str(self.key_file) if self.key_file is not None else "in memory"
        return f"SecretBox({where!r})"

    def _where(self) -> str:
        return f"the key in {self.key_file}" if self.key_file is not None else "this process's key"

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8", "surrogatepass")).decode("ascii")

    def decrypt(self, token: str, *, what: str) -> str:
        """The clear text of ``token``; ``what`` names the field in the error (never the value)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8", "surrogatepass")
        except (InvalidToken, ValueError, UnicodeError):
            pass
        # Raised outside the handler: nothing of the token travels in a chained exception.
        raise SecretError(
            f"{what} cannot be decrypted with {self._where()}: "
            "the database was written with another key file"
        )

    def encrypt_json(self, value: Any) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":")))

    def decrypt_json(self, token: str, *, what: str) -> Any:
        return json.loads(self.decrypt(token, what=what))

    def seal(self, value: Any) -> Any:
        """A copy of a JSON value with the value of every secret-named key encrypted."""
        if isinstance(value, dict):
            return {
                key: {_SEALED: self.encrypt_json(item)}
                if key in SECRET_KEYS and item is not None
                else self.seal(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.seal(item) for item in value]
        return value

    def unseal(self, value: Any, *, what: str) -> Any:
        """The inverse of ``seal``."""
        if isinstance(value, dict):
            token = value.get(_SEALED)
            if len(value) == 1 and isinstance(token, str):
                return self.decrypt_json(token, what=what)
            return {key: self.unseal(item, what=what) for key, item in value.items()}
        if isinstance(value, list):
            return [self.unseal(item, what=what) for item in value]
        return value


def has_secret(value: Any) -> bool:
    """Whether a JSON value holds a non-null value under a secret-named key."""
    if isinstance(value, dict):
        return any(
            (key in SECRET_KEYS and item is not None) or has_secret(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(has_secret(item) for item in value)
    return False


def _load_or_create_key(key_file: Path) -> bytes:
    try:
        return _read_key(key_file)
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.fchmod(fd, 0o600)  # exact, whatever the umask
            os.write(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            pass  # another process created it first: use its key
        finally:
            os.unlink(temporary)
        _fsync_directory(key_file.parent)
    except OSError as exc:
        raise SecretError(f"cannot create the key file {key_file}: {exc.strerror}") from exc
    try:
        return _read_key(key_file)
    except FileNotFoundError as exc:
        raise SecretError(f"the key file {key_file} vanished while it was created") from exc


def _read_key(key_file: Path) -> bytes:
    """The key in ``key_file``; FileNotFoundError when there is none yet."""
    try:
        fd = os.open(key_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SecretError(f"cannot open the key file {key_file}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"the key file {key_file} is not a regular file")
        if info.st_mode & 0o077:
            raise SecretError(
                f"the key file {key_file} must be readable by its owner only (chmod 600)"
            )
        if info.st_uid != os.geteuid():
            raise SecretError(f"the key file {key_file} must belong to the user running storconn")
        key = os.read(fd, 4096).strip()
    finally:
        os.close(fd)
    try:
        Fernet(key)
    except (ValueError, TypeError):
        pass
    else:
        return key
    raise SecretError(f"the key file {key_file} does not hold a key (32 url-safe base64 bytes)")


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
