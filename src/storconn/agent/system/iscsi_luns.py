"""The LUNs of the host's iSCSI sessions, as the engine's host storage lists them, read from sysfs.

Read-only, like ``iscsi_sysfs``: no iscsid, no network, no device opened, so
listing cannot hang. Each LUN is a SCSI disk of a logged-in (or recovering)
session::

    class/iscsi_session/sessionN/device/targetH:C:T/H:C:T:L/block/sdX
    class/block/sdX/size                      512-byte sectors
    class/block/sdX/device/{vendor,model,wwid,vpd_pg80}

The LUN id is the one oVirt shows (multipath's WWID): the SCSI name of VPD
page 0x83 with the one-digit designator type in front, as udev's scsi_id
writes it (``naa.6001405...`` is ``36001405...``); a disk whose kernel gives
no ``wwid`` falls back to ``<iqn>:<lun>``, which still names it uniquely.
A kernel without the initiator has no sessions: the list is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import iscsi_sysfs
from .iscsi_sysfs import SYSFS

_HCTL = re.compile(r"(\d+):(\d+):(\d+):(\d+)")
_DISK = re.compile(r"sd[a-z]+")
# scsi_id's prefixes for the designator types of VPD page 0x83.
_WWID_TYPES = {"t10.": "1", "eui.": "2", "naa.": "3"}
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True, slots=True)
class IscsiLun:
    """One LUN of one session: what the engine shows as a host storage."""

    lun_id: str
    device: str  # sdX
    lun: int
    size: int  # bytes
    vendor: str
    product: str
    serial: str
    session: iscsi_sysfs.Session

    def to_wire(self) -> dict[str, Any]:
        target: dict[str, Any] = {
            "portal": {"hostname": self.session.address or "", "port": self.session.port or 3260},
            "iqn": self.session.iqn,
        }
        if self.session.tpgt is not None:
            target["tpgt"] = self.session.tpgt
        return {
            "lunID": self.lun_id,
            "device": self.device,
            "lun": self.lun,
            "size": self.size,
            "vendor": self.vendor,
            "product": self.product,
            "serial": self.serial,
            "sessionID": self.session.sid,
            "state": self.session.state,
            "target": target,
        }


def luns(root: Path = SYSFS) -> list[IscsiLun]:
    """Every disk of every iSCSI session in ``root``, by session then LUN number; [] without an initiator."""
    found: list[IscsiLun] = []
    for session in iscsi_sysfs.sessions(root):
        base = root / "class" / "iscsi_session" / f"session{session.sid}" / "device"
        for lun_dir in sorted(base.glob("target*/*"), key=_lun_number):
            match = _HCTL.fullmatch(lun_dir.name)
            if match is None:
                continue
            disks = sorted(p.name for p in (lun_dir / "block").glob("*") if _DISK.fullmatch(p.name))
            if not disks:
                continue  # the kernel is still probing it: the next listing has it
            lun = int(match.group(4))
            found.append(_lun(root, session, disks[0], lun))
    return found


def lun_id(wwid: str | None, iqn: str, lun: int) -> str:
    """oVirt's LUN id from the kernel's ``wwid`` (``naa.6001...`` → ``36001...``)."""
    if wwid:
        text = wwid.strip()
        for prefix, digit in _WWID_TYPES.items():
            if text.startswith(prefix):
                return digit + text[len(prefix):].strip().replace(" ", "_")
        return text.replace(" ", "_")
    return f"{iqn}:{lun}"


def _lun(root: Path, session: iscsi_sysfs.Session, disk: str, lun: int) -> IscsiLun:
    block = root / "class" / "block" / disk
    device = block / "device"
    return IscsiLun(
        lun_id=lun_id(_read(device / "wwid"), session.iqn, lun),
        device=disk,
        lun=lun,
        size=_sectors(_read(block / "size")) * 512,
        vendor=_read(device / "vendor") or "",
        product=_read(device / "model") or "",
        serial=_serial(device / "vpd_pg80"),
        session=session,
    )


def _serial(path: Path) -> str:
    """The unit serial number of VPD page 0x80: a 4-byte header, then ASCII."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return _PRINTABLE.sub("", data[4:].decode("ascii", "replace")).strip()


def _lun_number(path: Path) -> int:
    match = _HCTL.fullmatch(path.name)
    return int(match.group(4)) if match else -1


def _sectors(text: str | None) -> int:
    try:
        return max(0, int(text)) if text else 0
    except ValueError:
        return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
