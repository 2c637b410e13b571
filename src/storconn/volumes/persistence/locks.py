"""The named locks behind ``Persistence.lock(name)``: threads, a lock file, PostgreSQL.

- ``ThreadLocks``: one ``threading.Lock`` per name, made when first wanted
  and dropped when nobody holds or waits for it (names are volume ids: an
  ever-growing dict would leak). For ``memory`` and ``memory_db``, whose
  data lives in one process anyway.
- ``FileLocks``: for a SQLite file shared by processes. One byte of
  ``<db>.locks`` per name, at an offset from SHA-256 of the name (62 bits:
  a lock may lie far beyond the end of the file, which stays empty). The
  space must be that large: callers nest locks (``volume:<id>`` then
  ``acl:<backend>``), and two nested names sharing one byte would wait on
  each other forever; at 62 bits that is as unlikely as on PostgreSQL.
  Locked with an *open file
  description* lock (``F_OFD_SETLKW``) on a descriptor opened for this one
  hold. Classic POSIX locks (``lockf``) belong to the process: they do not
  exclude the process's own threads, and closing *any* descriptor of the
  file drops all of them, so two persistence objects on one database in one
  process would silently unlock each other. OFD locks belong to the open
  file, so one mechanism excludes threads and processes alike, and the
  kernel drops them when a crashed holder's descriptor closes.
- ``AdvisoryLocks``: for PostgreSQL. ``pg_advisory_lock`` on a connection
  held for the hold, in autocommit (the lock belongs to the session, and
  the connection must not sit idle in a transaction); the key is the first
  8 bytes of SHA-256 of the name. PostgreSQL frees a crashed holder's lock
  with its session. If the lock's connection breaks while held the lock is
  gone too; the connection is then discarded, never reused.

Waiting has no timeout: the contract is a mutex around short decisions.
None is reentrant. Thread-safety: any thread may call ``hold``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from storconn.connection import InvalidParameter

from ..errors import VolumeError

__all__ = ["AdvisoryLocks", "FileLocks", "ThreadLocks", "check_lock_name", "lock_key"]

_NAME_MAX = 1024
_FILE_SLOTS = 2**62  # offset + 1 stays below off_t's 2**63


def check_lock_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidParameter("lock.name", "must be a non-empty string")
    if len(name) > _NAME_MAX:
        raise InvalidParameter("lock.name", f"must be at most {_NAME_MAX} characters")
    return name


def lock_key(name: str) -> int:
    """A signed 64-bit number for ``name``, the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256(b"storconn.volumes:" + name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ThreadLocks:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        # name -> (lock, number of threads holding or waiting for it)
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        check_lock_name(name)
        with self._mutex:
            lock, users = self._locks.get(name, (threading.Lock(), 0))
            self._locks[name] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._mutex:
                lock, users = self._locks[name]
                if users == 1:
                    del self._locks[name]
                else:
                    self._locks[name] = (lock, users - 1)


class FileLocks:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            # Created 0600 like the database: nobody else may take our locks.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            os.close(fd)
        except OSError as exc:
            raise VolumeError(f"cannot create the lock file {path}: {exc.strerror}") from exc

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        check_lock_name(name)
        slot = lock_key(name) % _FILE_SLOTS
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise VolumeError(f"cannot open the lock file {self.path}: {exc.strerror}") from exc
        try:
            try:
                _ofd_lock(fd, fcntl.F_WRLCK, slot)
            except OSError as exc:
                raise VolumeError(f"cannot lock {self.path}: {exc.strerror}") from exc
            try:
                yield
            finally:
                _ofd_lock(fd, fcntl.F_UNLCK, slot)
        finally:
            os.close(fd)  # would drop the lock anyway; unlocking first is explicit


def _ofd_lock(fd: int, kind: int, offset: int) -> None:
    # struct flock: l_type, l_whence (short), l_start, l_len (off_t), l_pid
    # (pid_t, must be 0 for OFD locks), padded to its natural size.
    request = struct.pack("hhqqi", kind, os.SEEK_SET, offset, 1, 0)
    request += b"\0" * (struct.calcsize("hhqqi0q") - len(request))
    fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, request)


class AdvisoryLocks:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        key = lock_key(check_lock_name(name))
        connection = self._take(key)
        try:
            yield
        finally:
            self._release(connection, key)

    def _take(self, key: int) -> Connection:
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise VolumeError(
                f"cannot reach the volumes database to lock: {type(exc).__name__}"
            ) from exc
        try:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        except BaseException as exc:
            connection.invalidate()
            connection.close()
            if isinstance(exc, SQLAlchemyError):
                raise VolumeError(
                    f"cannot take a lock in the volumes database: {type(exc).__name__}"
                ) from exc
            raise
        return connection

    def _release(self, connection: Connection, key: int) -> None:
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        except SQLAlchemyError:
            # The session's locks die with it: make sure it is never reused.
            connection.invalidate()
        finally:
            connection.close()
