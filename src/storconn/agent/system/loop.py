"""Loop devices by ioctl, as ``losetup`` makes them, without running a program.

Every call here takes an open file descriptor for the backing file (opened
safely by the caller) or a loop device name ``loopN`` the agent itself
recorded, never a client's path. The kernel's view of a loop device is read
from sysfs (``/sys/block/loopN/loop/backing_file``) and from
``LOOP_GET_STATUS64`` (the backing file's device and inode), so finding a
device again after a restart never touches the share, which may hang.

These calls can block on a hung share (the kernel flushes the backing file
on detach): callers run them in a worker thread with a deadline
(:func:`bounded`).

Constants and struct layouts from ``include/uapi/linux/loop.h``.
"""

from __future__ import annotations

import errno
import logging
import fcntl
import os
import stat
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from storconn.connection import ErrorCode, StorconnError

log = logging.getLogger(__name__)

SYSFS = Path("/sys")
DEV = Path("/dev")

LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_GET_STATUS64 = 0x4C05
LOOP_SET_CAPACITY = 0x4C07
LOOP_CONFIGURE = 0x4C0A
LOOP_CTL_GET_FREE = 0x4C82
BLKGETSIZE64 = 0x80081272

LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4
LO_FLAGS_DIRECT_IO = 16

_NAME_SIZE = 64
# struct loop_info64: lo_device, lo_inode, lo_rdevice, lo_offset, lo_sizelimit
# (u64), lo_number, lo_encrypt_type, lo_encrypt_key_size, lo_flags (u32),
# lo_file_name[64], lo_crypt_name[64], lo_encrypt_key[32], lo_init[2] (u64).
_INFO64 = struct.Struct("=5Q4I64s64s32s2Q")
# struct loop_config: fd, block_size (u32), loop_info64, __reserved[8] (u64).
_CONFIG = struct.Struct(f"=II{_INFO64.size}s64s")

# Another process (losetup, another agent thread) may take the free device
# between GET_FREE and CONFIGURE: the kernel then answers EBUSY; try again.
_BUSY_RETRIES = 20

T = TypeVar("T")


class LoopError(StorconnError):
    """A loop device could not be made, found, resized or removed."""


@dataclass(frozen=True, slots=True)
class LoopDevice:
    name: str  # loopN
    backing_file: str  # the kernel's path of the backing file
    st_dev: int  # the backing file's device and inode, as the kernel holds them
    st_ino: int
    read_only: bool

    @property
    def path(self) -> str:
        return str(DEV / self.name)


def _info(*, file_name: str, flags: int) -> bytes:
    # lo_file_name is informational (losetup shows it): cut to fit, NUL ended.
    name = os.fsencode(file_name)[: _NAME_SIZE - 1]
    return _INFO64.pack(0, 0, 0, 0, 0, 0, 0, 0, flags, name, b"", b"", 0, 0)


def attach(backing_fd: int, backing_path: str, *, read_only: bool, direct_io: bool = True) -> LoopDevice:
    """A new loop device over ``backing_fd``; LoopError if none can be made.

    ``backing_fd`` must be opened O_RDONLY for ``read_only`` (the kernel then
    refuses writes to the device whatever the flags say). Direct I/O is asked
    for and dropped where the backing file system refuses it (EINVAL).
    """
    flags = LO_FLAGS_READ_ONLY if read_only else 0
    for _ in range(_BUSY_RETRIES):
        with _open_control() as control:
            try:
                number = fcntl.ioctl(control.fd, LOOP_CTL_GET_FREE)
            except OSError as exc:
                raise LoopError(f"no free loop device: {exc.strerror}", code=ErrorCode.BUSY) from exc
        name = f"loop{number}"
        try:
            fd = _open_device(name, os.O_RDWR)
        except OSError as exc:
            raise LoopError(f"cannot open /dev/{name}: {exc.strerror}") from exc
        try:
            if _configure(fd, backing_fd, backing_path, flags, direct_io):
                return device_of(name, fd, read_only=read_only)
        finally:
            os.close(fd)
    raise LoopError("every free loop device was taken by someone else first; try again", code=ErrorCode.BUSY)


def _configure(fd: int, backing_fd: int, backing_path: str, flags: int, direct_io: bool) -> bool:
    """Bind ``backing_fd`` to the loop device ``fd``; False when another process got it first."""
    for with_dio in ((True, False) if direct_io else (False,)):
        wanted = flags | (LO_FLAGS_DIRECT_IO if with_dio else 0)
        config = _CONFIG.pack(backing_fd, 0, _info(file_name=backing_path, flags=wanted), b"")
        try:
            fcntl.ioctl(fd, LOOP_CONFIGURE, config)
            return True
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                return False
            if exc.errno == errno.EINVAL and with_dio:
                continue  # the backing file system takes no O_DIRECT: without it
            if exc.errno in (errno.EINVAL, errno.ENOTTY) and not with_dio:
                # A kernel older than 5.8 has no LOOP_CONFIGURE.
                return _set_fd(fd, backing_fd, backing_path, flags)
            raise LoopError(f"cannot configure the loop device: {exc.strerror}") from exc
    return False


def _set_fd(fd: int, backing_fd: int, backing_path: str, flags: int) -> bool:
    try:
        fcntl.ioctl(fd, LOOP_SET_FD, backing_fd)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        raise LoopError(f"cannot bind the loop device: {exc.strerror}") from exc
    try:
        # READ_ONLY comes from the fd's mode with SET_FD; the status sets the name.
        fcntl.ioctl(fd, LOOP_SET_STATUS64, _info(file_name=backing_path, flags=flags & ~LO_FLAGS_READ_ONLY))
    except OSError as exc:
        fcntl.ioctl(fd, LOOP_CLR_FD)
        raise LoopError(f"cannot set the loop device's status: {exc.strerror}") from exc
    return True


def device_of(name: str, fd: int | None = None, *, read_only: bool | None = None) -> LoopDevice:
    """What loop device ``name`` is bound to now; LoopError if it is unbound or no loop device."""
    _check_name(name)
    own = fd is None
    if fd is None:
        try:
            fd = _open_device(name, os.O_RDONLY)
        except OSError as exc:
            raise LoopError(f"/dev/{name}: {exc.strerror}") from exc
    try:
        raw = fcntl.ioctl(fd, LOOP_GET_STATUS64, bytes(_INFO64.size))
    except OSError as exc:
        raise LoopError(f"/dev/{name} is not bound: {exc.strerror}", code=ErrorCode.STALE) from exc
    finally:
        if own:
            os.close(fd)
    device, inode, _rdev, _off, _limit, _num, _et, _eks, flags, *_rest = _INFO64.unpack(raw)
    backing = backing_file(name) or ""
    ro = bool(flags & LO_FLAGS_READ_ONLY) if read_only is None else read_only
    return LoopDevice(name, backing, device, inode, ro)


def backing_file(name: str, sysfs: Path = SYSFS) -> str | None:
    """The kernel's path of ``name``'s backing file; None if unbound or gone.

    The kernel appends " (deleted)" when the file was unlinked: kept, since
    such a device no longer backs the volume's file.
    """
    try:
        return (sysfs / "block" / name / "loop" / "backing_file").read_text().rstrip("\n")
    except OSError:
        return None


def find(backing_path: str, st_dev: int, st_ino: int, sysfs: Path = SYSFS) -> list[LoopDevice]:
    """Every loop device bound to this very file (path, device and inode all equal)."""
    found: list[LoopDevice] = []
    try:
        names = sorted(p.name for p in (sysfs / "block").iterdir() if p.name.startswith("loop"))
    except OSError:
        return []
    for name in names:
        if backing_file(name, sysfs) != backing_path:
            continue
        try:
            device = device_of(name)
        except LoopError:
            continue  # unbound between the two reads
        if (device.st_dev, device.st_ino) == (st_dev, st_ino):
            found.append(device)
    return found


def users(name: str, sysfs: Path = SYSFS, *, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """What holds loop device ``name`` (a mount, a holder such as device-mapper); [] if nothing."""
    found = [f"held by {holder.name}" for holder in sorted((sysfs / "block" / name / "holders").glob("*"))]
    try:
        number = (sysfs / "block" / name / "dev").read_text().strip()
        table = mountinfo.read_text()
    except OSError:
        return found
    for line in table.splitlines():
        fields = line.split(" ")
        if len(fields) > 4 and fields[2] == number:
            found.append(f"mounted on {fields[4]}")
    return found


def detach(device: LoopDevice, *, settle: float = 1.0) -> None:
    """Unbind ``device`` if it is still bound to the same file; LoopError(BUSY) if it is in use.

    A device bound to another file now (ours went away and the number was
    reused) is left alone. A mounted or held device is refused before any
    change. One opened by a process is marked by the kernel to clear on its
    last close (LOOP_CLR_FD then sets autoclear): that answers BUSY too, and
    a later detach finds it gone.
    """
    busy = users(device.name)
    try:
        current = device_of(device.name)
    except LoopError:
        return  # unbound already
    if (current.backing_file, current.st_dev, current.st_ino) != (
        device.backing_file, device.st_dev, device.st_ino,
    ):
        return  # not ours any more
    if busy:
        raise LoopError(f"/dev/{device.name} is busy: {', '.join(busy)}", code=ErrorCode.BUSY)
    try:
        fd = _open_device(device.name, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.ioctl(fd, LOOP_CLR_FD)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return  # unbound meanwhile
        raise LoopError(f"cannot detach /dev/{device.name}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    deadline = time.monotonic() + settle
    # Compared with our file, not with "unbound": another process may take
    # the freed number at once.
    while backing_file(device.name) == device.backing_file:
        if time.monotonic() >= deadline:
            raise LoopError(
                f"/dev/{device.name} is open by a process; the kernel removes it when it is closed",
                code=ErrorCode.BUSY,
            )
        time.sleep(0.01)


def set_capacity(name: str) -> int:
    """Re-read the backing file's size (``losetup -c``); the device's new size in bytes."""
    fd = _open_device(name, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, LOOP_SET_CAPACITY)
        return block_size(fd)
    except OSError as exc:
        raise LoopError(f"cannot resize /dev/{name}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def block_size(fd: int) -> int:
    raw = fcntl.ioctl(fd, BLKGETSIZE64, bytes(8))
    size: int = struct.unpack("=Q", raw)[0]
    return size


def bounded(
    call: Callable[[], T], timeout: float, what: str, *, undo: Callable[[T], None] | None = None
) -> T:
    """``call()`` in a worker thread, answered within ``timeout``.

    A call stuck on a hung share cannot be interrupted: its thread is left
    behind (it finishes or stays in D state) and the caller gets a TIMEOUT
    error at once, so no agent thread waits longer than its budget. If the
    abandoned call finishes after all, ``undo`` gets its result, so a device
    made too late for its caller does not stay behind.
    """
    lock = threading.Lock()
    result: list[T] = []
    failure: list[BaseException] = []
    abandoned = False

    def run() -> None:
        try:
            value = call()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
            return
        with lock:
            late = abandoned
            result.append(value)
        if late and undo is not None:
            try:
                undo(value)
            except Exception:  # nobody is left to tell but the log
                log.exception("undoing %s after its deadline failed", what)

    worker = threading.Thread(target=run, name=f"storconn-device-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    with lock:
        if not result and not failure:
            abandoned = True
            raise StorconnError(f"{what} did not finish within {timeout:g} s", code=ErrorCode.TIMEOUT)
    if failure:
        raise failure[0]
    return result[0]


class _open_control:
    def __enter__(self) -> _open_control:
        try:
            self.fd = os.open(DEV / "loop-control", os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise LoopError(f"cannot open /dev/loop-control: {exc.strerror}", code=ErrorCode.UNSUPPORTED) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _check_name(name: str) -> None:
    if not name.startswith("loop") or not name[4:].isdigit():
        raise LoopError(f"{name!r} is not a loop device name")


def _open_device(name: str, flags: int) -> int:
    _check_name(name)
    fd = os.open(DEV / name, flags | os.O_CLOEXEC | os.O_NOFOLLOW)
    if not stat.S_ISBLK(os.fstat(fd).st_mode):
        os.close(fd)
        raise LoopError(f"/dev/{name} is not a block device")
    return fd
