"""The devices of volume attachments: a volume file opened safely, a loop device over it, an iSCSI disk.

The share a volume lives on may be controlled by whoever else writes to it
(an NFS export, a user's directory): its content is hostile. A volume file
is therefore reached only as one name inside the share's own directory
(``openat`` with ``O_NOFOLLOW``), must be a regular file of that file system
with one link, and is never opened for writing when the attachment is
``ro``. A symlink planted in its place (to ``/etc/shadow``, say) is refused,
never followed.

Everything here may block on a hung share: the caller runs it through
``loop.bounded``.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from storconn.connection import ErrorCode, StorconnError

from .system import loop as loopdev
from .system import scsi_devices
from .system.iscsi_sysfs import SYSFS

_ISCSI_POLL = 0.1  # seconds between looks for a LUN's disk


class VolumeFileError(StorconnError):
    """The volume's file on its share is missing or is not something the agent may use."""


@dataclass(frozen=True, slots=True)
class Device:
    """What an attachment made; kept (as JSON) in its record to remove exactly it later."""

    type: str  # file or block
    path: str
    read_only: bool
    backing_file: str | None = None
    loop: dict[str, Any] | None = None  # name, backing, dev, ino of a loop device
    disks: list[dict[str, Any]] = field(default_factory=list)  # name, sid, lun of iSCSI disks

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Device:
        return cls(**data)

    def to_wire(self) -> dict[str, Any]:
        """What a client sees: the path, its type, the backing file of a loop device, read-only."""
        wire: dict[str, Any] = {"type": self.type, "path": self.path}
        if self.backing_file is not None:
            wire["backingFile"] = self.backing_file
        if self.read_only:
            wire["readOnly"] = True
        return wire

    def loop_device(self) -> loopdev.LoopDevice | None:
        if self.loop is None:
            return None
        return loopdev.LoopDevice(self.loop["name"], self.loop["backing"], self.loop["dev"], self.loop["ino"],
                               self.read_only)


def open_volume_file(share_dir: str, name: str, *, read_only: bool) -> tuple[int, str]:
    """The volume file ``name`` in ``share_dir``, opened safely: (fd, its path).

    ``share_dir`` is the agent's own path of the share (its mount point, or
    the directory a localfs link names); ``name`` is one path component,
    checked by ``parse_conn_info``. The file is looked at with lstat first so
    that a FIFO or device node is never even opened (opening either can
    block or act), then opened without following a symlink and checked to
    be the same inode.
    """
    dir_fd = os.open(share_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        share = os.fstat(dir_fd)
        try:
            first = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise VolumeFileError(f"the volume file {name} is not on the share", code=ErrorCode.STALE) from None
        _check_file(first, name)
        flags = (os.O_RDONLY if read_only else os.O_RDWR) | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(name, flags | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError as exc:
            raise VolumeFileError(
                f"cannot open the volume file {name}: {exc.strerror}", code=ErrorCode.ACCESS_PERMISSION
            ) from exc
        try:
            opened = os.fstat(fd)
            _check_file(opened, name)
            if (opened.st_dev, opened.st_ino) != (first.st_dev, first.st_ino):
                raise VolumeFileError(f"the volume file {name} was replaced while it was opened",
                                      code=ErrorCode.ACCESS_PERMISSION)
            if opened.st_dev != share.st_dev:
                raise VolumeFileError(f"the volume file {name} is not on the share's file system",
                                      code=ErrorCode.ACCESS_PERMISSION)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd, os.path.join(share_dir, name)
    finally:
        os.close(dir_fd)


def _check_file(st: os.stat_result, name: str) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise VolumeFileError(f"the volume file {name} is a symbolic link on the share: refused",
                              code=ErrorCode.ACCESS_PERMISSION)
    if not stat.S_ISREG(st.st_mode):
        raise VolumeFileError(f"the volume file {name} is not a regular file: refused",
                              code=ErrorCode.ACCESS_PERMISSION)
    if st.st_nlink != 1:
        # A hard link shares the inode of a file elsewhere (a host file
        # linked into a share on the same file system): never a volume's.
        raise VolumeFileError(f"the volume file {name} has {st.st_nlink} hard links: refused",
                              code=ErrorCode.ACCESS_PERMISSION)


def file_device(share_dir: str, name: str, *, read_only: bool) -> Device:
    """``file`` mode: check the file as ``block`` would, and hand out its path."""
    fd, path = open_volume_file(share_dir, name, read_only=True)  # nothing is opened rw for a check
    os.close(fd)
    return Device("file", path, read_only)


def loop_over_file(share_dir: str, name: str, *, read_only: bool) -> Device:
    """``block`` mode on a file share: a loop device over the volume file (read-only for ``ro``)."""
    fd, path = open_volume_file(share_dir, name, read_only=read_only)
    try:
        made = loopdev.attach(fd, path, read_only=read_only)
    finally:
        os.close(fd)
    return Device(
        "block", made.path, read_only, backing_file=made.backing_file,
        loop={"name": made.name, "backing": made.backing_file, "dev": made.st_dev, "ino": made.st_ino},
    )


def iscsi_disks(
    targets: list[tuple[str, int, str, int]],
    *,
    read_only: bool,
    timeout: float,
    root: Path = SYSFS,
    dev: Path = scsi_devices.DEV,
) -> Device:
    """``block`` mode on iSCSI: the disk of each (address, port, iqn, lun), waiting up to ``timeout``.

    The first portal's disk is the device; with several portals each one's
    disk is recorded so that detach deletes them all (dm-multipath over
    them needs device-mapper, which is not made here).
    """
    deadline = time.monotonic() + timeout
    disks: list[scsi_devices.LunDisk] = []
    for address, port, iqn, lun in targets:
        while True:
            disk = scsi_devices.find(address, port, iqn, lun, root)
            if disk is not None:
                disks.append(disk)
                break
            if time.monotonic() >= deadline:
                raise StorconnError(
                    f"no disk for LUN {lun} of {iqn} at {address}:{port} within {timeout:g} s",
                    code=ErrorCode.TIMEOUT,
                )
            time.sleep(_ISCSI_POLL)
    if read_only:
        for disk in disks:
            scsi_devices.set_read_only(disk, dev)
    first = disks[0]
    return Device(
        "block", first.path(dev), read_only,
        disks=[{"name": d.name, "sid": d.sid, "lun": d.lun} for d in disks],
    )


def remove(device: Device, *, root: Path = SYSFS, dev: Path = scsi_devices.DEV) -> None:
    """Remove what ``device`` made, and only that; what is gone already is fine. BUSY if in use."""
    made = device.loop_device()
    if made is not None:
        loopdev.detach(made)
    for disk in device.disks:
        scsi_devices.remove(scsi_devices.LunDisk(disk["name"], disk["sid"], disk["lun"]), root, dev=dev)


def present(device: Device) -> bool:
    """Whether the device is still there as made (a loop device still bound to the same file)."""
    made = device.loop_device()
    if made is None:
        return True
    return bool(_same_loop(made))


def _same_loop(made: loopdev.LoopDevice) -> loopdev.LoopDevice | None:
    try:
        now = loopdev.device_of(made.name)
    except StorconnError:
        return None
    same = (now.backing_file, now.st_dev, now.st_ino) == (made.backing_file, made.st_dev, made.st_ino)
    return now if same else None


def readopt(device: Device) -> Device | None:
    """The device again after a restart: the recorded loop device, or another bound to the same file; None if gone."""
    made = device.loop_device()
    if made is None:
        return device
    if _same_loop(made) is not None:
        return device
    for other in loopdev.find(made.backing_file, made.st_dev, made.st_ino):
        return Device(device.type, other.path, device.read_only, backing_file=device.backing_file,
                      loop={**(device.loop or {}), "name": other.name})
    return None


def size(device: Device, share_dir: str | None, name: str | None, *, root: Path = SYSFS) -> int:
    """Grow the device to its backing store's size now (online), and answer that size in bytes."""
    made = device.loop_device()
    if made is not None:
        if _same_loop(made) is None:
            raise StorconnError(f"{device.path} is no longer bound to the volume file", code=ErrorCode.STALE)
        return loopdev.set_capacity(made.name)
    if device.disks:
        for disk in device.disks:
            scsi_devices.rescan(disk["name"], root)
        return scsi_devices.size(device.disks[0]["name"], root)
    assert share_dir is not None and name is not None
    fd, _ = open_volume_file(share_dir, name, read_only=True)
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)
