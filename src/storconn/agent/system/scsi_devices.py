"""An iSCSI LUN's SCSI disk: found through sysfs, flushed and deleted through sysfs.

The disk of LUN ``L`` behind session ``N`` lives at
``class/iscsi_session/sessionN/device/targetH:C:T/H:C:T:L/block/sdX``
(the layout ``iscsi_sysfs`` reads). Finding it never talks to iscsid or the
network, so it cannot hang; udev's ``/dev/disk/by-path`` links are not
needed (and hosts without udev have none). Deleting it writes ``1`` to
``class/block/sdX/device/delete`` after flushing, the way os-brick removes a
disk before logging out, so the session's other LUNs stay untouched.

Every function takes the sysfs root (and ``/dev``) as parameters so the
tests can build a fake tree, as ``iscsi_sysfs``' tests do.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from storconn.connection import ErrorCode, StorconnError

from . import iscsi_sysfs
from .iscsi_sysfs import SYSFS

DEV = Path("/dev")
BLKFLSBUF = 0x1261
BLKROSET = 0x125D
_DISK = re.compile(r"sd[a-z]+")
_HCTL = re.compile(r"(\d+):(\d+):(\d+):(\d+)")


class ScsiDeviceError(StorconnError):
    """A LUN's disk could not be found, flushed or deleted."""


@dataclass(frozen=True, slots=True)
class LunDisk:
    name: str  # sdX
    sid: int  # the iSCSI session it belongs to
    lun: int

    def path(self, dev: Path = DEV) -> str:
        return str(dev / self.name)


def find(
    address: str, port: int, iqn: str, lun: int, root: Path = SYSFS
) -> LunDisk | None:
    """The disk of ``lun`` behind the logged-in session to ``iqn`` at ``address:port``; None if not there (yet)."""
    for session in iscsi_sysfs.sessions(root):
        if session.iqn != iqn or not session.logged_in:
            continue
        if session.port not in (None, port) or session.address is None:
            continue
        if not iscsi_sysfs.same_address(session.address, address):
            continue
        base = root / "class" / "iscsi_session" / f"session{session.sid}" / "device"
        for lun_dir in sorted(base.glob("target*/*")):
            match = _HCTL.fullmatch(lun_dir.name)
            if match is None or int(match.group(4)) != lun:
                continue
            disks = sorted(p.name for p in (lun_dir / "block").glob("*") if _DISK.fullmatch(p.name))
            if disks:
                return LunDisk(disks[0], session.sid, lun)
    return None


def size(name: str, root: Path = SYSFS) -> int:
    """The disk's size in bytes (sysfs counts 512-byte sectors whatever the block size)."""
    _check_name(name)
    try:
        return int((root / "class" / "block" / name / "size").read_text().strip()) * 512
    except (OSError, ValueError) as exc:
        raise ScsiDeviceError(f"cannot read the size of {name}", code=ErrorCode.STALE) from exc


def rescan(name: str, root: Path = SYSFS) -> None:
    """Have the kernel read the LUN's capacity again (after the target grew it)."""
    _check_name(name)
    try:
        (root / "class" / "block" / name / "device" / "rescan").write_text("1")
    except OSError as exc:
        raise ScsiDeviceError(f"cannot rescan {name}: {exc.strerror}") from exc


def remove(disk: LunDisk, root: Path = SYSFS, *, dev: Path = DEV, proc: Path = iscsi_sysfs.PROC) -> None:
    """Flush and delete the disk if it still is this LUN of this session; gone already is fine.

    Refused (BUSY) while the disk or a partition of it is mounted, held or
    swapped on: deleting it then loses data.
    """
    _check_name(disk.name)
    block = root / "class" / "block" / disk.name
    if not block.exists():
        return
    session = next((s for s in iscsi_sysfs.sessions(root) if s.sid == disk.sid), None)
    if session is None or disk.name not in session.disks:
        return  # the name now belongs to another disk: not ours to delete
    busy = iscsi_sysfs.users(
        iscsi_sysfs.Session(session.sid, session.iqn, session.address, session.port, session.tpgt,
                            session.iface, session.state, (disk.name,)),
        root,
        proc=proc,
    )
    if busy:
        raise ScsiDeviceError(f"{disk.name} is busy: {'; '.join(busy)}", code=ErrorCode.BUSY)
    _flush(dev / disk.name)
    try:
        (block / "device" / "delete").write_text("1")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ScsiDeviceError(f"cannot delete {disk.name}: {exc.strerror}") from exc


def set_read_only(disk: LunDisk, dev: Path = DEV) -> None:
    """Make the kernel refuse writes to the disk (``blockdev --setro``): ``ro`` enforced on the host."""
    node = dev / disk.name
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ScsiDeviceError(f"cannot open {node} to make it read-only: {exc.strerror}") from exc
    try:
        fcntl.ioctl(fd, BLKROSET, struct.pack("=i", 1))
    except OSError as exc:
        raise ScsiDeviceError(f"cannot make {node} read-only: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _flush(node: Path) -> None:
    """Write back what the page cache holds for the disk, then drop its buffers."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return  # no device node (a host without devtmpfs entries for it, a fake tree)
    except OSError as exc:
        raise ScsiDeviceError(f"cannot open {node} to flush it: {exc.strerror}") from exc
    try:
        os.fsync(fd)
        fcntl.ioctl(fd, BLKFLSBUF)
    except OSError as exc:
        raise ScsiDeviceError(f"cannot flush {node}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _check_name(name: str) -> None:
    if not _DISK.fullmatch(name):
        raise ScsiDeviceError(f"{name!r} is not a SCSI disk name")
