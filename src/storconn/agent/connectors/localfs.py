"""localfs: a directory on this host, linked under the mount root as VDSM does."""

from __future__ import annotations

import os
import queue
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from storconn.connection import ConnectionInfo, ErrorCode, LocalfsInfo, StorconnError

from ..system.mountinfo import MountEntry
from .base import Timeouts, statfs_probe, target_path

T = TypeVar("T")
_STAT_TIMEOUT = Timeouts().stat


class LocalfsConnector:
    """Validates the directory and keeps a symlink to it at ``<mount-root>/localfs/<name>``.

    ``user`` is the (uid, gid) that must be able to read and write the
    directory; None means the agent's own user. ``timeout`` bounds the checks
    of the directory (stat, statvfs, access), which block for as long as a
    hung mount underneath it does.
    """

    confirmed_by_tick = False  # no mount table to read: the operation checks at once

    def __init__(
        self, mount_root: Path, *, user: tuple[int, int] | None = None, timeout: float = Timeouts().stat
    ) -> None:
        self._mount_root = mount_root
        self._user = user
        self._timeout = timeout

    def path(self, info: ConnectionInfo) -> str:
        return target_path(self._mount_root, info)

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        assert isinstance(info, LocalfsInfo) and path is not None
        try:
            return os.readlink(path) == info.params.path
        except OSError:
            return False

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        assert isinstance(info, LocalfsInfo) and path is not None
        directory = info.params.path
        with_deadline(lambda: self._check_directory(directory), self._timeout, directory)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        temporary = f"{path}.tmp{os.getpid()}"
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        os.symlink(directory, temporary)
        os.replace(temporary, path)  # atomic: never a moment with a wrong link

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        self.connect(info, path)

    def probe_command(self, path: str) -> list[str] | None:
        return statfs_probe(path + "/")

    def _check_directory(self, directory: str) -> None:
        try:
            st = os.stat(directory)
        except FileNotFoundError as exc:
            raise StorconnError(
                f"{directory} does not exist", code=ErrorCode.STORAGE_SERVER_VALIDATION
            ) from exc
        except OSError as exc:
            raise StorconnError(
                f"{directory} cannot be reached: {exc.strerror}",
                code=ErrorCode.STORAGE_SERVER_VALIDATION,
            ) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise StorconnError(
                f"{directory} is not a directory", code=ErrorCode.STORAGE_SERVER_VALIDATION
            )
        if not self._can_read_write(directory, st):
            who = "the agent" if self._user is None else f"uid {self._user[0]}"
            raise StorconnError(
                f"{directory} is not readable and writable by {who}",
                code=ErrorCode.ACCESS_PERMISSION,
            )

    def _can_read_write(self, directory: str, st: os.stat_result) -> bool:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return False
        if self._user is None:
            return os.access(directory, os.R_OK | os.W_OK | os.X_OK)
        uid, gid = self._user
        if uid == 0:
            return True
        if st.st_uid == uid:
            bits = stat.S_IRUSR | stat.S_IWUSR | stat.S_IXUSR
        elif st.st_gid == gid:
            bits = stat.S_IRGRP | stat.S_IWGRP | stat.S_IXGRP
        else:
            bits = stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH
        return st.st_mode & bits == bits


def with_deadline(check: Callable[[], T], timeout: float, directory: str) -> T:
    """``check()`` in a thread of its own, given up on after ``timeout`` seconds.

    A stat of a directory on a hung mount sleeps in the kernel until the
    server answers; the thread is left to finish then (it is a daemon and
    holds nothing), while the operation fails at once and is retried later.
    """
    outcome: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()

    def run() -> None:
        try:
            outcome.put((True, check()))
        except BaseException as exc:  # handed to the caller as it is
            outcome.put((False, exc))

    threading.Thread(target=run, name="storconn-localfs-check", daemon=True).start()
    try:
        ok, value = outcome.get(timeout=timeout)
    except queue.Empty:
        raise StorconnError(
            f"{directory} did not answer within {timeout:g} s: it may lie on a hung mount",
            code=ErrorCode.HUNG,
        ) from None
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value  # type: ignore[return-value]
