"""The engine's secrets at rest: user passwords hashed, CHAP passwords and agent tokens encrypted.

- User passwords: scrypt (stdlib ``hashlib.scrypt``), a random 16-byte salt
  per password, parameters stored beside the hash so they can be raised
  later without invalidating old hashes. Verification compares in constant
  time. N=2**15, r=8, p=1 takes ~0.13 s and 32 MiB here: slow for a guesser,
  fine for a login.
- CHAP passwords and agent tokens must be read back (the engine hands them to
  agents), so they are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under
  a key kept in a file created 0600 on first start. Every engine process of
  one site must use the same key file.

Nothing here logs, and no ``repr`` shows a key, a password or a token.
Thread-safety: ``SecretBox`` is immutable after construction; Fernet is
thread-safe, so one box serves every thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _random
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "SCRYPT_N",
    "SecretBox",
    "SecretError",
    "hash_password",
    "random_password",
    "verify_password",
]

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_SCHEME = "scrypt"
# hashlib refuses parameters needing more than maxmem; 128 * N * r bytes plus slack.
_MAXMEM = 256 * 1024 * 1024


class SecretError(Exception):
    """A stored secret cannot be read back: the key file is not the one it was written with."""


def hash_password(password: str, *, n: int | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), for the users table."""
    cost = n or SCRYPT_N
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, cost, SCRYPT_R, SCRYPT_P)
    return "$".join([_SCHEME, str(cost), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; False for a malformed or missing hash.

    With no stored hash (an unknown user) a hash is still computed, so that
    the answer takes as long as for a known user and does not tell them apart.
    """
    if stored is None:
        _scrypt(password, b"\0" * _SALT_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        computed = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, _unb64(digest))
    except (ValueError, TypeError):
        return False


class SecretBox:
    """Encrypts and decrypts short secrets with the key in ``key_file`` (created 0600 if missing)."""

    def __init__(self, key_file: Path) -> None:
        self._key = _load_or_create_key(key_file)
        self._fernet = Fernet(self._key)
        self.key_file = key_file

    def __repr__(self) -> str:
        return f"SecretBox(key_file={str(self.key_file)!r})"

    def encrypt(self, secret: str | None) -> str | None:
        if secret is None:
            return None
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            pass
        # Raised outside the handler: nothing of the token travels in a chained exception.
        raise SecretError(f"a stored secret cannot be decrypted with the key in {self.key_file}")


    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``, the same in every engine process sharing the key file.

        HKDF keeps the keys apart: one purpose's key says nothing of another's
        or of the key that seals the stored secrets.
        """
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8"))
        return hkdf.derive(self._key)


def _load_or_create_key(key_file: Path) -> bytes:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when two engines start at once, one creates and the other reads.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(key_file)
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return key


def _read_key(key_file: Path) -> bytes:
    # The other engine may be between O_CREAT and write: give it a moment.
    for _ in range(50):
        key = key_file.read_bytes().strip()
        if key:
            if key_file.stat().st_mode & 0o077:
                raise SecretError(f"{key_file} must be readable by its owner only (chmod 600)")
            return key
        time.sleep(0.02)
    raise SecretError(f"{key_file} is empty")


def random_password() -> str:
    """A password for the first administrator when none was given."""
    return _random.token_urlsafe(18)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_MAXMEM,
        dklen=_HASH_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
