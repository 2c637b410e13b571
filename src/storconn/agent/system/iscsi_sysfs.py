"""The kernel's iSCSI sessions and their disks, read from sysfs.

This is the actual state of iSCSI on the host, as ``mountinfo`` is for
mounts: reading it never talks to iscsid or the network, so it cannot hang,
and the reconciler may call it on every tick. Everything takes the sysfs
root as a parameter so tests can build a fake tree.

The layout (``Documentation/ABI`` of the scsi_transport_iscsi class)::

    class/iscsi_session/sessionN/{targetname,tpgt,state,ifacename}
    class/iscsi_session/sessionN/device/connectionN:0/iscsi_connection/connectionN:0/
        {persistent_address,persistent_port}
    class/iscsi_session/sessionN/device/targetH:C:T/H:C:T:L/block/sdX
    class/block/sdX/{dev,holders/,sdX1/}

A kernel without the initiator (no ``iscsi_tcp``) has none of these
directories: that reads as no sessions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys")
PROC = Path("/proc")

LOGGED_IN = "LOGGED_IN"


@dataclass(frozen=True, slots=True)
class Session:
    """One iSCSI session, as the kernel sees it now."""

    sid: int
    iqn: str
    address: str | None  # the portal address the session logged in to (an IP, not a name)
    port: int | None
    tpgt: int | None
    iface: str
    state: str  # LOGGED_IN, FAILED (iscsid is recovering it) or FREE
    disks: tuple[str, ...]  # block device names: ("sdb", "sdc")

    @property
    def logged_in(self) -> bool:
        return self.state == LOGGED_IN


def sessions(root: Path = SYSFS) -> list[Session]:
    """Every iSCSI session in ``root``, by session id; [] where the kernel has no initiator."""
    base = root / "class" / "iscsi_session"
    try:
        entries = sorted(base.iterdir(), key=lambda p: _sid(p.name))
    except OSError:
        return []
    found: list[Session] = []
    for entry in entries:
        session = _read_session(root, entry)
        if session is not None:
            found.append(session)
    return found


def kernel_has_initiator(root: Path = SYSFS) -> bool:
    """Whether the kernel can log in to iSCSI targets over TCP now (iscsi_tcp loaded)."""
    return (root / "module" / "iscsi_tcp").exists() or (
        root / "class" / "iscsi_transport" / "tcp"
    ).exists()


def users(session: Session, root: Path = SYSFS, *, proc: Path = PROC) -> list[str]:
    """What keeps the session's disks busy, one phrase each ("sdb1 is mounted"); [] if nothing.

    A holder (device-mapper, md, LVM) or a mount of the disk or any of its
    partitions counts, and so does swap: logging out under any of them
    loses I/O or crashes whoever uses it.
    """
    if not session.disks:
        return []
    devices: dict[str, str] = {}  # "major:minor" → device name, disks and partitions
    found: list[str] = []
    for disk in session.disks:
        block = root / "class" / "block" / disk
        for device in [block, *_partitions(block)]:
            holders = _listdir(device / "holders")
            if holders:
                found.append(f"{device.name} is held by {', '.join(holders)}")
            number = _read(device / "dev")
            if number:
                devices[number] = device.name
    names = {f"/dev/{name}" for name in devices.values()} | {f"/dev/{d}" for d in session.disks}
    for number, source, mountpoint in _mounts(proc):
        if number in devices or source in names:
            name = devices.get(number) or source.removeprefix("/dev/")
            found.append(f"{name} is mounted on {mountpoint}")
    for swap in _swaps(proc):
        if swap in names:
            found.append(f"{swap.removeprefix('/dev/')} is used as swap")
    return found


def has_holders(session: Session, root: Path = SYSFS, *, proc: Path = PROC) -> bool:
    """Whether any disk of the session is held, mounted or swapped on: then it is busy."""
    return bool(users(session, root, proc=proc))


def same_address(a: str, b: str) -> bool:
    """Compare two addresses as addresses (``::1`` is ``0:0::1``); names compare lower-cased."""
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a.lower() == b.lower()


# -- reading ----------------------------------------------------------------


def _read_session(root: Path, entry: Path) -> Session | None:
    sid = _sid(entry.name)
    iqn = _read(entry / "targetname")
    if sid < 0 or not iqn:
        # Half created or being torn down right now: the next tick sees it whole.
        return None
    address, port = _connection(root, entry, sid)
    return Session(
        sid=sid,
        iqn=iqn,
        address=address,
        port=port,
        tpgt=_int(_read(entry / "tpgt")),
        iface=_read(entry / "ifacename") or "default",
        state=_read(entry / "state") or "UNKNOWN",
        disks=tuple(sorted({disk.name for disk in (entry / "device").glob("target*/*/block/*")})),
    )


def _connection(root: Path, session_dir: Path, sid: int) -> tuple[str | None, int | None]:
    """The portal of the session's first connection (sessions here have one)."""
    candidates = sorted((session_dir / "device").glob("connection*/iscsi_connection/connection*"))
    candidates += sorted((root / "class" / "iscsi_connection").glob(f"connection{sid}:*"))
    for conn in candidates:
        # persistent_* survive a reconnect; address/port are empty while it is down.
        address = _read(conn / "persistent_address") or _read(conn / "address")
        port = _int(_read(conn / "persistent_port") or _read(conn / "port"))
        if address:
            return address, port
    return None, None


def _partitions(block: Path) -> list[Path]:
    try:
        children = [p for p in block.iterdir() if p.name.startswith(block.name)]
        return sorted(p for p in children if (p / "partition").exists())
    except OSError:
        return []


def _mounts(proc: Path) -> list[tuple[str, str, str]]:
    """(major:minor, source, mount point) of each mount in ``proc/self/mountinfo``.

    The device number catches mounts through any alias (/dev/disk/by-id/...);
    the source catches the rest.
    """
    try:
        text = (proc / "self" / "mountinfo").read_text()
    except OSError:
        return []
    found: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            found.append((fields[2], fields[sep + 2], fields[4]))
        except (ValueError, IndexError):
            continue
    return found


def _swaps(proc: Path) -> list[str]:
    try:
        lines = (proc / "swaps").read_text().splitlines()[1:]
    except OSError:
        return []
    return [line.split()[0] for line in lines if line.strip()]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir())
    except OSError:
        return []


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _sid(name: str) -> int:
    """N of "sessionN"; -1 for anything else."""
    number = _int(name.removeprefix("session")) if name.startswith("session") else None
    return -1 if number is None else number
