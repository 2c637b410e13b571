"""Volume files on a share: the storage half of the ``file`` and ``iscsi`` drivers.

The controller reaches the share through its own host's agent, with one
reference per backend (``volumes-backend:<backend name>``): the agent mounts
it once, keeps it mounted and brings it back, like any other reference. A
volume is one sparse file named ``volume-<id>`` (raw, or qcow2 through
``qemu-img`` when asked and installed).

Copies (clones, snapshots) are reflinks where the file system has them
(xfs, btrfs: instant and sharing blocks), else sparse copies that skip
holes, so a 10 GiB volume holding 1 MiB copies 1 MiB.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from storconn.agent.client import AgentClient, AgentRpcError, AgentUnavailable
from storconn.connection import ConnectionInfo, InvalidParameter

from ..errors import BackendError

__all__ = ["FileStore", "GIB", "reflink_or_copy"]

log = logging.getLogger(__name__)

GIB = 1024**3
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# qemu-img on a local or healthy network file system answers in well under a
# second; a share that hangs must not hold the controller forever.
QEMU_IMG_TIMEOUT = 60.0
SHARE_WAIT = 60.0


class FileStore:
    """Files of one backend on one share. Thread-safe: each call works on its own file."""

    def __init__(self, share: ConnectionInfo, agent: AgentClient, ref_id: str) -> None:
        self.share = share
        self._agent = agent
        self.ref_id = ref_id
        self._root: Path | None = None

    # -- the share ---------------------------------------------------------

    def do_setup(self) -> None:
        """Hold the backend's reference on the share and wait until the agent has it connected."""
        try:
            answer = self._agent.acquire({self.ref_id: self.share})
            code = answer.get(self.ref_id, 0)
            if code not in (0,):
                raise BackendError(
                    f"the agent refused the share for {self.ref_id} (code {code}): "
                    "another backend of that name holds a different share"
                    if code == 478
                    else f"the agent refused the share for {self.ref_id} (code {code})"
                )
            status = self._agent.wait([self.ref_id], SHARE_WAIT).get(self.ref_id, {})
        except (AgentRpcError, AgentUnavailable) as exc:
            raise BackendError(f"the local agent cannot connect the share: {exc}") from exc
        if not status.get("connected") or not status.get("path"):
            code, message = (status.get("lastError") or [0, "not connected yet"])[:2]
            raise BackendError(f"the share is not connected: [{code}] {message}")
        self._root = Path(os.path.realpath(status["path"]))

    def close(self, *, release: bool = False) -> None:
        """Forget the share; with ``release`` also drop the agent reference (``Backend.destroy``)."""
        if release:
            try:
                self._agent.release([self.ref_id])
            except (AgentRpcError, AgentUnavailable) as exc:
                log.warning("releasing %s failed: %s", self.ref_id, exc)
        self._root = None

    @property
    def root(self) -> Path:
        if self._root is None:
            self.do_setup()
        assert self._root is not None
        return self._root

    def path_of(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise InvalidParameter("name", "must be one plain file name")
        return self.root / name

    def stats(self) -> dict[str, Any]:
        vfs = os.statvfs(self.root)
        return {
            "total_capacity_gb": round(vfs.f_blocks * vfs.f_frsize / GIB, 2),
            "free_capacity_gb": round(vfs.f_bavail * vfs.f_frsize / GIB, 2),
        }

    # -- files -------------------------------------------------------------

    def create(self, name: str, size_gib: int, fmt: str = "raw") -> None:
        """A new sparse file; an existing file of that name is reused (a retry after a crash)."""
        path = self.path_of(name)
        if fmt == "qcow2":
            if not path.exists():
                _qemu_img("create", "-q", "-f", "qcow2", str(path), f"{size_gib}G")
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o660)
        except OSError as exc:
            raise BackendError(f"cannot create {name}: {exc.strerror}") from exc
        try:
            if os.fstat(fd).st_size < size_gib * GIB:
                os.ftruncate(fd, size_gib * GIB)
        except OSError as exc:
            raise BackendError(f"cannot size {name}: {exc.strerror}") from exc
        finally:
            os.close(fd)

    def delete(self, name: str) -> None:
        try:
            self.path_of(name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BackendError(f"cannot delete {name}: {exc.strerror}") from exc

    def extend(self, name: str, size_gib: int, fmt: str = "raw") -> None:
        path = self.path_of(name)
        if fmt == "qcow2":
            _qemu_img("resize", "-q", "-f", "qcow2", str(path), f"{size_gib}G")
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise BackendError(f"cannot open {name}: {exc.strerror}") from exc
        try:
            if os.fstat(fd).st_size < size_gib * GIB:
                os.ftruncate(fd, size_gib * GIB)
        finally:
            os.close(fd)

    def size_of(self, name: str) -> int:
        return self.path_of(name).stat().st_size

    def clone(self, source: str, target: str) -> str:
        """Copy ``source`` to ``target``; returns ``"reflink"`` or ``"copy"``."""
        return reflink_or_copy(self.path_of(source), self.path_of(target))

    def exists(self, name: str) -> bool:
        return self.path_of(name).exists()


def reflink_or_copy(source: Path, target: Path) -> str:
    """A reflink where the file system shares blocks, else a sparse copy; ``target`` must not exist."""
    try:
        src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise BackendError(f"cannot open {source.name}: {exc.strerror}") from exc
    try:
        try:
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o660)
        except OSError as exc:
            raise BackendError(f"cannot create {target.name}: {exc.strerror}") from exc
        try:
            try:
                fcntl.ioctl(dst, FICLONE, src)
                return "reflink"
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                    raise BackendError(f"cannot clone {source.name}: {exc.strerror}") from exc
            _sparse_copy(src, dst)
            return "copy"
        except BaseException:
            os.unlink(target)
            raise
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _sparse_copy(src: int, dst: int) -> None:
    """Copy only the data extents (SEEK_DATA/SEEK_HOLE), then size the target like the source."""
    size = os.fstat(src).st_size
    offset = 0
    while offset < size:
        try:
            start = os.lseek(src, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                break
            raise
        end = os.lseek(src, start, os.SEEK_HOLE)
        position = start
        while position < end:
            copied = os.copy_file_range(src, dst, end - position, position, position)
            if copied == 0:
                break
            position += copied
        offset = end
    os.ftruncate(dst, size)


def _qemu_img(*args: str) -> None:
    program = shutil.which("qemu-img")
    if program is None:
        raise BackendError("volume_format qcow2 needs qemu-img, which this host does not have")
    try:
        subprocess.run(
            [program, *args], check=True, capture_output=True, timeout=QEMU_IMG_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"qemu-img {args[0]} did not finish in {QEMU_IMG_TIMEOUT:.0f} s") from exc
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip()[-300:]
        raise BackendError(f"qemu-img {args[0]} failed: {detail}") from exc
