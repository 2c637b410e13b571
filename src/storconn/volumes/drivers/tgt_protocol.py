"""tgtd's management protocol: the bytes of a request, the errors, the text of "show".

Pure (no I/O), so it is tested without a tgtd. The layout is tgt's
``usr/tgtadm.h`` (``struct tgtadm_req``, ``struct tgtadm_rsp``) and
``usr/tgtadm_error.h``; the show format is ``tgt_target_show_all`` in
``usr/target.c``; the value checks follow how ``usr/mgmt.c`` and
``usr/target.c`` split the request text (``strsep`` on ``,``, ``strstr`` for
keys), checked against tgt 1.0.85 and 1.0.97, which do not differ in them.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from storconn.connection import InvalidParameter

from ..errors import BackendError

__all__ = [
    "DEFAULT_TIMEOUT",
    "GLOBAL_TID",
    "MAX_REPLY",
    "REQUEST_HEADER",
    "RESPONSE_HEADER",
    "SOCKET_DIR",
    "Mode",
    "Op",
    "TgtErr",
    "TgtError",
    "TgtLun",
    "TgtTarget",
    "TgtUnavailable",
    "check_address",
    "check_backing_path",
    "check_id",
    "check_initiator_name",
    "check_password",
    "check_target_name",
    "check_user",
    "pack_request",
    "parse_show",
    "size_mb",
    "strerror",
    "unpack_response_header",
]

DEFAULT_TIMEOUT = 10.0
SOCKET_DIR = Path("/var/run/tgtd")

# struct tgtadm_req: enum mode, enum op, char lld[64], uint32 len, int32 tid,
# uint64 sid, uint64 lun, uint32 cid, host_no, device_type, ac_dir, pack, force.
# "=" is native byte order with no padding; the C layout has none either
# (sid lands on offset 80), which test_tgt_protocol checks byte by byte.
REQUEST_HEADER = struct.Struct("=ii64sIiQQIIIIII")
RESPONSE_HEADER = struct.Struct("=II")
# tgtd refuses a request body above 8 KiB (MAX_MGT_BUFSIZE in mgmt.c).
MAX_BODY = 8 * 1024
# A show of many targets can be long; a reply above this is refused as hostile.
MAX_REPLY = 64 * 1024 * 1024
LLD = "iscsi"
GLOBAL_TID = -1  # ~0U as the int32 tid field: the "all targets" account slot
TYPE_DISK = 0  # SCSI peripheral type of a disk (tgtadm's "--device-type disk")
ACCOUNT_INCOMING = 0


class Mode(IntEnum):
    SYSTEM = 0
    TARGET = 1
    DEVICE = 2  # tgtadm's "logicalunit"
    PORTAL = 3
    LLD = 4
    SESSION = 5
    CONNECTION = 6
    ACCOUNT = 7


class Op(IntEnum):
    NEW = 0
    DELETE = 1
    SHOW = 2
    BIND = 3
    UNBIND = 4
    UPDATE = 5
    STATS = 6
    START = 7
    STOP = 8


class TgtErr(IntEnum):
    """``enum tgtadm_errno`` (usr/tgtadm_error.h)."""

    SUCCESS = 0
    UNKNOWN_ERR = 1
    NOMEM = 2
    NO_DRIVER = 3
    NO_TARGET = 4
    NO_LUN = 5
    NO_SESSION = 6
    NO_CONNECTION = 7
    NO_BINDING = 8
    TARGET_EXIST = 9
    LUN_EXIST = 10
    BINDING_EXIST = 11
    ACL_EXIST = 12
    ACL_NOEXIST = 13
    USER_EXIST = 14
    NO_USER = 15
    TOO_MANY_USER = 16
    INVALID_REQUEST = 17
    OUTACCOUNT_EXIST = 18
    TARGET_ACTIVE = 19
    LUN_ACTIVE = 20
    DRIVER_ACTIVE = 21
    UNSUPPORTED_OPERATION = 22
    UNKNOWN_PARAM = 23
    PREVENT_REMOVAL = 24


# tgtadm_strerror()'s words, so that messages read as tgtadm's would.
_STRERROR = {
    TgtErr.SUCCESS: "success",
    TgtErr.UNKNOWN_ERR: "unknown error",
    TgtErr.NOMEM: "out of memory",
    TgtErr.NO_DRIVER: "can't find the driver",
    TgtErr.NO_TARGET: "can't find the target",
    TgtErr.NO_LUN: "can't find the logical unit",
    TgtErr.NO_SESSION: "can't find the session",
    TgtErr.NO_CONNECTION: "can't find the connection",
    TgtErr.NO_BINDING: "can't find the binding",
    TgtErr.TARGET_EXIST: "this target already exists",
    TgtErr.LUN_EXIST: "this logical unit number already exists",
    TgtErr.BINDING_EXIST: "this binding already exists",
    TgtErr.ACL_EXIST: "this access control rule already exists",
    TgtErr.ACL_NOEXIST: "this access control rule does not exist",
    TgtErr.USER_EXIST: "this account already exists",
    TgtErr.NO_USER: "can't find the account",
    TgtErr.TOO_MANY_USER: "too many accounts",
    TgtErr.INVALID_REQUEST: "invalid request",
    TgtErr.OUTACCOUNT_EXIST: "this target already has an outgoing account",
    TgtErr.TARGET_ACTIVE: "this target is still active",
    TgtErr.LUN_ACTIVE: "this logical unit is still active",
    TgtErr.DRIVER_ACTIVE: "this driver is busy",
    TgtErr.UNSUPPORTED_OPERATION: "this operation isn't supported",
    TgtErr.UNKNOWN_PARAM: "unknown parameter",
    TgtErr.PREVENT_REMOVAL: "this device has Prevent Removal set",
}


def strerror(code: int) -> str:
    try:
        return _STRERROR[TgtErr(code)]
    except ValueError:
        return "(unknown tgtadm_errno)"


class TgtError(BackendError):
    """tgtd refused a request; ``err`` is its ``tgtadm_errno`` (None: no answer at all)."""

    def __init__(self, what: str, reason: str, err: int | None = None) -> None:
        super().__init__(f"tgtd: {what}: {reason}")
        self.what = what
        self.err = err


class TgtUnavailable(TgtError):
    """No tgtd listens on the control socket (not started, or gone)."""


# -- the wire format ----------------------------------------------------------


def pack_request(
    mode: Mode,
    op: Op,
    body: str = "",
    *,
    tid: int = GLOBAL_TID,
    lun: int = 0,
    sid: int = 0,
    cid: int = 0,
    host_no: int = 0,
    device_type: int = TYPE_DISK,
    ac_dir: int = ACCOUNT_INCOMING,
    force: bool = False,
    lld: str = LLD,
) -> bytes:
    """One request as tgtadm writes it: the header, then ``body`` and a NUL (if any body)."""
    data = body.encode() + b"\0" if body else b""
    if len(data) > MAX_BODY:
        raise InvalidParameter("body", f"longer than tgtd's {MAX_BODY} bytes")
    header = REQUEST_HEADER.pack(
        int(mode), int(op), lld.encode(), REQUEST_HEADER.size + len(data), tid, sid, lun,
        cid, host_no, device_type, ac_dir, 0, int(force),
    )
    return header + data


def unpack_response_header(data: bytes) -> tuple[int, int]:
    """``(err, len)`` of a ``struct tgtadm_rsp``; ``len`` counts the header too."""
    err, length = RESPONSE_HEADER.unpack(data)
    return int(err), int(length)


# -- what "show" says ----------------------------------------------------------


@dataclass(slots=True)
class TgtLun:
    lun: int
    type: str
    path: str | None
    online: bool
    readonly: bool
    size_mb: int
    """tgtd's rounded "Size: N MB"; the exact size is the backing file's."""


@dataclass(slots=True)
class TgtTarget:
    tid: int
    iqn: str
    luns: dict[int, TgtLun] = field(default_factory=dict)
    accounts: list[str] = field(default_factory=list)
    acl_addresses: list[str] = field(default_factory=list)
    acl_names: list[str] = field(default_factory=list)
    initiators: list[str] = field(default_factory=list)
    """Initiator names of the live sessions (I_T nexus)."""

    def lun_of(self, path: str) -> int | None:
        """The LUN whose backing store is ``path``, if any."""
        for lun in self.luns.values():
            if lun.path == path:
                return lun.lun
        return None


_TARGET_LINE = re.compile(r"^Target (\d+): (\S+)$")
_INITIATOR_LINE = re.compile(r"^Initiator: (\S+) alias:")
_INITIATOR_NAME = re.compile(r"^(iqn|eui|naa)\.", re.IGNORECASE)


def parse_show(text: str) -> list[TgtTarget]:
    """``tgtadm --mode target --op show``'s text (tgt's ``tgt_target_show_all``) as objects.

    The ACL list mixes addresses and initiator names; names are the ones
    shaped as iSCSI names (``iqn.``, ``eui.``, ``naa.``).
    """
    targets: list[TgtTarget] = []
    target: TgtTarget | None = None
    section = ""
    lun: TgtLun | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = _TARGET_LINE.match(raw)
        if match:
            target = TgtTarget(int(match.group(1)), match.group(2))
            targets.append(target)
            section, lun = "", None
            continue
        if target is None or not line:
            continue
        if raw.startswith("    ") and not raw.startswith("        ") and line.endswith(":"):
            section = line[:-1]
            continue
        if section == "I_T nexus information":
            initiator = _INITIATOR_LINE.match(line)
            if initiator:
                target.initiators.append(initiator.group(1))
        elif section == "LUN information":
            lun = _parse_lun_line(line, target, lun)
        elif section == "Account information":
            if not line.endswith("(outgoing)"):
                target.accounts.append(line)
        elif section == "ACL information":
            (target.acl_names if _INITIATOR_NAME.match(line) else target.acl_addresses).append(line)
    return targets


def _parse_lun_line(line: str, target: TgtTarget, lun: TgtLun | None) -> TgtLun | None:
    key, _, value = line.partition(": ")
    if line.startswith("LUN: "):
        lun = TgtLun(int(line[5:]), "", None, False, False, 0)
        target.luns[lun.lun] = lun
    elif lun is None:
        return None
    elif key == "Type":
        lun.type = value
    elif key == "Size":
        lun.size_mb = int(value.split()[0])
    elif key == "Online":
        lun.online = value == "Yes"
    elif key == "Readonly":
        lun.readonly = value == "Yes"
    elif key == "Backing store path":
        lun.path = None if value == "None" else value
    return lun


def size_mb(size_bytes: int) -> int:
    """The "Size: N MB" tgtd shows for a LUN of ``size_bytes`` (tgt's ``print_disksize``)."""
    sectors = size_bytes // 512
    return (sectors - (sectors // 625 - 974)) // 1950


# -- checks on what is sent ----------------------------------------------------

# tgtd takes target names of letters, digits, ':', '.', '-' only (tgt_target_create).
_TARGET_NAME = re.compile(r"[A-Za-z0-9.:-]{1,223}")
# Initiator names: iSCSI names (RFC 3720 §3.2.6) plus '_' seen in the wild;
# never ',' or '=' (tgtd's separators) and never "initiator-address=".
_ISCSI_NAME = re.compile(r"(?:iqn|eui|naa)\.[A-Za-z0-9._:-]{1,219}", re.IGNORECASE)
_USER = re.compile(r"[A-Za-z0-9._@:-]{1,64}")
_FORBIDDEN_IN_PATH = re.compile(r"[,\x00-\x1f\x7f]")


def check_target_name(value: str, field: str = "iqn") -> str:
    if not _TARGET_NAME.fullmatch(value):
        raise InvalidParameter(field, "must be 1-223 letters, digits, ':', '.' or '-'")
    return value


def check_initiator_name(value: object, field: str = "initiator") -> str:
    if not isinstance(value, str) or not _ISCSI_NAME.fullmatch(value):
        raise InvalidParameter(
            field, "must be an iSCSI name (iqn./eui./naa.) of letters, digits, '.', ':', '-', '_'"
        )
    return value


def check_user(value: str, field: str = "user") -> str:
    if not _USER.fullmatch(value):
        raise InvalidParameter(field, "must be 1-64 letters, digits, '.', '_', '@', ':' or '-'")
    return value


def check_password(value: str, field: str = "password") -> str:
    # tgtd takes the rest of the text after "password=", so ',' would be
    # kept; only what ends or splits the C string is refused.
    if not 12 <= len(value) <= 255 or any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        raise InvalidParameter(field, "must be 12-255 printable ASCII characters without spaces")
    return value


def check_backing_path(value: str, field: str = "path") -> str:
    if not value.startswith("/") or _FORBIDDEN_IN_PATH.search(value) or len(value) > 1000:
        raise InvalidParameter(
            field, "must be an absolute path without ',' or control characters (tgtd splits on ',')"
        )
    return value


def check_address(value: str, field: str = "address") -> str:
    if value != "ALL":
        try:
            ipaddress.ip_network(value.strip("[]"), strict=False)
        except ValueError:
            raise InvalidParameter(field, "must be an IP address, a network or ALL") from None
    return value


def check_id(value: int, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(field, f"must be an integer {low}-{high}")
    return value
