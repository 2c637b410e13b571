"""A client for tgtd's management socket: what ``tgtadm`` does, without ``tgtadm``.

Why not run ``tgtadm``: it takes a CHAP password as ``--password`` on its
command line, and ``/proc/<pid>/cmdline`` is readable by every local user.
So this module speaks tgtd's own management protocol (tgt's
``usr/tgtadm.h``, ``usr/tgtadm.c``, ``usr/mgmt.c``, checked against tgt
1.0.85 and 1.0.97, which do not differ in it) over the Unix socket
``/var/run/tgtd/socket.<control_port>``:

- the request is a packed ``struct tgtadm_req`` (120 bytes: mode, op, lld
  name, total length, tid, sid, lun, cid, host_no, device_type, ac_dir,
  pack, force), then ``name=value,...`` text ending in a NUL;
- the answer is ``struct tgtadm_rsp`` {err, len} (8 bytes), then, when err
  is 0, ``len - 8`` bytes of text. tgtd closes the socket after one answer.

One connection per call, each with a deadline (``timeout``, 10 s by
default) covering connect, send and receive, as tgtadm itself does one
request per process. Every failure is a ``TgtError`` (a ``BackendError``)
carrying tgtadm's error text and number; a request body never appears in an
error, a log line or a repr, because it may hold a password.

tgtd parses the text naively (``strsep`` on ``,``, ``strstr`` for keys), so
every value sent is checked here first: no ``,``, ``=``, NUL or line break
in names, paths or users; a password only as the last field, where tgtd
takes the rest of the text. A bad value is an ``InvalidParameter`` naming
the argument, before anything is sent.

Thread-safety: a ``TgtClient`` holds no state but its settings; any thread
may call any method. tgtd serializes requests itself.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from storconn.connection import InvalidParameter

from ..errors import BackendError

__all__ = [
    "DEFAULT_TIMEOUT",
    "REQUEST_HEADER",
    "Mode",
    "Op",
    "TgtClient",
    "TgtErr",
    "TgtError",
    "TgtLun",
    "TgtTarget",
    "TgtUnavailable",
    "pack_request",
    "parse_show",
    "unpack_response_header",
]

log = logging.getLogger(__name__)

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


def _check_address(value: str, field: str = "address") -> str:
    if value != "ALL":
        try:
            ipaddress.ip_network(value.strip("[]"), strict=False)
        except ValueError:
            raise InvalidParameter(field, "must be an IP address, a network or ALL") from None
    return value


def _check_id(value: int, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(field, f"must be an integer {low}-{high}")
    return value


# -- the client -------------------------------------------------------------------


class TgtClient:
    """tgtd's management operations, one socket request each."""

    def __init__(
        self,
        control_port: int = 0,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        socket_dir: Path = SOCKET_DIR,
    ) -> None:
        _check_id(control_port, "tgt_control_port", 0, 32767)
        self.control_port = control_port
        self.timeout = timeout
        self.socket_path = socket_dir / f"socket.{control_port}"

    def __repr__(self) -> str:
        return f"TgtClient({str(self.socket_path)!r})"

    # -- targets ---------------------------------------------------------------

    def new_target(self, tid: int, iqn: str) -> None:
        """Create target ``tid`` named ``iqn``; TARGET_EXIST if the tid or the name is taken."""
        _check_id(tid, "tid", 1, 2**31 - 1)
        check_target_name(iqn)
        self._call(f"new target {tid}", Mode.TARGET, Op.NEW, f"targetname={iqn}", tid=tid)

    def delete_target(self, tid: int, *, force: bool = False) -> None:
        """Delete target ``tid`` with its LUNs; TARGET_ACTIVE with sessions unless ``force``."""
        _check_id(tid, "tid", 1, 2**31 - 1)
        self._call(f"delete target {tid}", Mode.TARGET, Op.DELETE, tid=tid, force=force)

    def show_targets(self) -> list[TgtTarget]:
        """Every target with its LUNs, accounts, ACLs and live initiators."""
        return parse_show(self.show_targets_text())

    def show_targets_text(self) -> str:
        return self._call("show targets", Mode.TARGET, Op.SHOW, tid=GLOBAL_TID)

    def target_by_name(self, iqn: str) -> TgtTarget | None:
        return next((t for t in self.show_targets() if t.iqn == iqn), None)

    # -- logical units ------------------------------------------------------------

    def new_lun(self, tid: int, lun: int, path: str, *, readonly: bool = False) -> None:
        """Add LUN ``lun`` backed by the file ``path`` (``bstype rdwr``, a disk).

        Read-only LUNs are created without a backing store (offline), made
        read-only, then given their file, so that they are never writable,
        not even for a moment; a failure on the way deletes the half-made LUN.
        """
        _check_id(tid, "tid", 1, 2**31 - 1)
        _check_id(lun, "lun", 1, 16383)
        check_backing_path(path)
        what = f"new logicalunit {tid}/{lun}"
        if not readonly:
            self._call(what, Mode.DEVICE, Op.NEW, f"path={path},bstype=rdwr", tid=tid, lun=lun)
            return
        self._call(what, Mode.DEVICE, Op.NEW, "bstype=rdwr", tid=tid, lun=lun)
        try:
            # One setting per request: tgtd keeps going after a failed
            # setting and reports only the last one's result.
            for setting in ("readonly=1", "removable=0", f"path={path}"):
                self._call(what, Mode.DEVICE, Op.UPDATE, setting, tid=tid, lun=lun)
        except TgtError:
            self._delete_lun_quietly(tid, lun)
            raise

    def delete_lun(self, tid: int, lun: int) -> None:
        """Remove a LUN; NO_LUN if it is not there. tgtd does this even under I/O."""
        _check_id(tid, "tid", 1, 2**31 - 1)
        _check_id(lun, "lun", 1, 16383)
        self._call(f"delete logicalunit {tid}/{lun}", Mode.DEVICE, Op.DELETE, tid=tid, lun=lun)

    def set_lun_readonly(self, tid: int, lun: int, readonly: bool) -> None:
        _check_id(tid, "tid", 1, 2**31 - 1)
        _check_id(lun, "lun", 1, 16383)
        self._call(
            f"update logicalunit {tid}/{lun}", Mode.DEVICE, Op.UPDATE,
            f"readonly={int(readonly)}", tid=tid, lun=lun,
        )

    def reread_lun_size(self, tid: int, lun: int, path: str) -> None:
        """Make tgtd read the backing file's size again (after it grew).

        tgtd reads the size when it opens the backing store and offers no
        "rescan"; it does reopen it when the LUN's path is set again, which
        is allowed while the LUN is offline. So one request takes it offline,
        sets the same path and puts it online: tgtd's main loop handles the
        whole request at once, so no SCSI command is dispatched while it is
        offline (an I/O thread busy with an earlier command may see its file
        descriptor closed and fail that one command; initiators retry). The
        sessions, the ACLs and the LUN number stay. tgtd reports only the
        last setting's result, so the result is checked with a show.
        """
        _check_id(tid, "tid", 1, 2**31 - 1)
        _check_id(lun, "lun", 1, 16383)
        check_backing_path(path)
        what = f"update logicalunit {tid}/{lun}"
        self._call(what, Mode.DEVICE, Op.UPDATE, f"online=0,path={path},online=1", tid=tid, lun=lun)
        target = next((t for t in self.show_targets() if t.tid == tid), None)
        unit = target.luns.get(lun) if target else None
        expected = size_mb(Path(path).stat().st_size)
        if unit is None or not unit.online or unit.path != path or unit.size_mb != expected:
            raise TgtError(
                what, "the LUN did not take its new size (an initiator may prevent removal); "
                "it takes it when exported again"
            )

    # -- access control -------------------------------------------------------------

    def bind_initiator(self, tid: int, initiator: str) -> None:
        """Let the initiator named ``initiator`` in; ACL_EXIST if it already is."""
        self._acl(Op.BIND, tid, f"initiator-name={check_initiator_name(initiator)}")

    def unbind_initiator(self, tid: int, initiator: str) -> None:
        """Undo ``bind_initiator``; ACL_NOEXIST if it was not bound."""
        self._acl(Op.UNBIND, tid, f"initiator-name={check_initiator_name(initiator)}")

    def bind_address(self, tid: int, address: str) -> None:
        """Let initiators from ``address`` (an IP, a network or ALL) in, whatever their name."""
        self._acl(Op.BIND, tid, f"initiator-address={_check_address(address)}")

    def unbind_address(self, tid: int, address: str) -> None:
        self._acl(Op.UNBIND, tid, f"initiator-address={_check_address(address)}")

    def _acl(self, op: Op, tid: int, body: str) -> None:
        _check_id(tid, "tid", 1, 2**31 - 1)
        self._call(f"{op.name.lower()} target {tid} acl", Mode.TARGET, op, body, tid=tid)

    # -- CHAP accounts ------------------------------------------------------------------

    def new_account(self, user: str, password: str) -> None:
        """Create an incoming CHAP account; USER_EXIST if ``user`` exists (its password stays)."""
        check_user(user)
        check_password(password)
        # The password goes last: tgtd takes everything after "password=".
        self._call(f"new account {user}", Mode.ACCOUNT, Op.NEW, f"user={user},password={password}")

    def delete_account(self, user: str) -> None:
        """Delete the account (unbinding it from every target); NO_USER if absent."""
        check_user(user)
        self._call(f"delete account {user}", Mode.ACCOUNT, Op.DELETE, f"user={user}")

    def bind_account(self, tid: int, user: str) -> None:
        """Require CHAP as ``user`` on target ``tid``; USER_EXIST if already bound."""
        _check_id(tid, "tid", 1, 2**31 - 1)
        check_user(user)
        self._call(f"bind account {user} to {tid}", Mode.ACCOUNT, Op.BIND, f"user={user}", tid=tid)

    def unbind_account(self, tid: int, user: str) -> None:
        _check_id(tid, "tid", 1, 2**31 - 1)
        check_user(user)
        self._call(
            f"unbind account {user} from {tid}", Mode.ACCOUNT, Op.UNBIND, f"user={user}", tid=tid
        )

    def show_accounts(self) -> list[str]:
        """The account user names (never their passwords: tgtd does not tell them)."""
        text = self._call("show accounts", Mode.ACCOUNT, Op.SHOW)
        return [line.strip() for line in text.splitlines()[1:] if line.strip()]

    # -- the daemon -------------------------------------------------------------------------

    def show_system(self) -> str:
        return self._call("show system", Mode.SYSTEM, Op.SHOW)

    def ping(self) -> bool:
        """Whether a tgtd answers on the control socket."""
        try:
            self.show_system()
        except TgtUnavailable:
            return False
        return True

    def shutdown(self) -> None:
        """Ask tgtd to exit (it must have no targets left: TGTADM_INVALID_REQUEST otherwise)."""
        self._call("delete system", Mode.SYSTEM, Op.DELETE)

    # -- helpers -------------------------------------------------------------------------

    def _delete_lun_quietly(self, tid: int, lun: int) -> None:
        try:
            self.delete_lun(tid, lun)
        except TgtError as exc:
            log.warning("tgtd: could not remove half-made LUN %d/%d: %s", tid, lun, exc)

    def _call(
        self, what: str, mode: Mode, op: Op, body: str = "", *,
        tid: int = GLOBAL_TID, lun: int = 0, force: bool = False,
    ) -> str:
        """Send one request, return the answer's text; TgtError on a refusal or no answer."""
        request = pack_request(mode, op, body, tid=tid, lun=lun, force=force)
        deadline = time.monotonic() + self.timeout
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                try:
                    sock.connect(str(self.socket_path))
                except (FileNotFoundError, ConnectionRefusedError) as exc:
                    raise TgtUnavailable(
                        what, f"no tgtd on {self.socket_path} ({exc.strerror})",
                    ) from None
                sock.sendall(request)
                header = _receive(sock, RESPONSE_HEADER.size, deadline)
                err, length = unpack_response_header(header)
                if err != TgtErr.SUCCESS:
                    raise TgtError(what, strerror(err), err)
                if length < RESPONSE_HEADER.size or length > MAX_REPLY:
                    raise TgtError(what, f"a reply of {length} bytes makes no sense")
                text = _receive(sock, length - RESPONSE_HEADER.size, deadline)
        except TimeoutError:
            raise TgtError(what, f"no answer within {self.timeout:g} s") from None
        except OSError as exc:
            if exc.errno == errno.EACCES:
                raise TgtError(what, f"not allowed to use {self.socket_path}") from None
            raise TgtError(what, f"{exc.strerror or exc}") from None
        return text.rstrip(b"\0").decode(errors="replace")


def _receive(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError(errno.ECONNRESET, "tgtd closed the socket before answering")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
