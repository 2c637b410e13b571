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
import logging
import socket
import time
from pathlib import Path

from .tgt_protocol import (
    DEFAULT_TIMEOUT,
    GLOBAL_TID,
    MAX_REPLY,
    REQUEST_HEADER,
    RESPONSE_HEADER,
    SOCKET_DIR,
    Mode,
    Op,
    TgtErr,
    TgtError,
    TgtLun,
    TgtTarget,
    TgtUnavailable,
    check_address,
    check_backing_path,
    check_id,
    check_initiator_name,
    check_password,
    check_target_name,
    check_user,
    pack_request,
    parse_show,
    size_mb,
    strerror,
    unpack_response_header,
)

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
    "check_backing_path",
    "check_initiator_name",
    "check_password",
    "pack_request",
    "parse_show",
    "size_mb",
    "unpack_response_header",
]

log = logging.getLogger(__name__)


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
        check_id(control_port, "tgt_control_port", 0, 32767)
        self.control_port = control_port
        self.timeout = timeout
        self.socket_path = socket_dir / f"socket.{control_port}"

    def __repr__(self) -> str:
        return f"TgtClient({str(self.socket_path)!r})"

    # -- targets ---------------------------------------------------------------

    def new_target(self, tid: int, iqn: str) -> None:
        """Create target ``tid`` named ``iqn``; TARGET_EXIST if the tid or the name is taken."""
        check_id(tid, "tid", 1, 2**31 - 1)
        check_target_name(iqn)
        self._call(f"new target {tid}", Mode.TARGET, Op.NEW, f"targetname={iqn}", tid=tid)

    def delete_target(self, tid: int, *, force: bool = False) -> None:
        """Delete target ``tid`` with its LUNs; TARGET_ACTIVE with sessions unless ``force``."""
        check_id(tid, "tid", 1, 2**31 - 1)
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
        check_id(tid, "tid", 1, 2**31 - 1)
        check_id(lun, "lun", 1, 16383)
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
        check_id(tid, "tid", 1, 2**31 - 1)
        check_id(lun, "lun", 1, 16383)
        self._call(f"delete logicalunit {tid}/{lun}", Mode.DEVICE, Op.DELETE, tid=tid, lun=lun)

    def set_lun_readonly(self, tid: int, lun: int, readonly: bool) -> None:
        check_id(tid, "tid", 1, 2**31 - 1)
        check_id(lun, "lun", 1, 16383)
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
        check_id(tid, "tid", 1, 2**31 - 1)
        check_id(lun, "lun", 1, 16383)
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
        self._acl(Op.BIND, tid, f"initiator-address={check_address(address)}")

    def unbind_address(self, tid: int, address: str) -> None:
        self._acl(Op.UNBIND, tid, f"initiator-address={check_address(address)}")

    def _acl(self, op: Op, tid: int, body: str) -> None:
        check_id(tid, "tid", 1, 2**31 - 1)
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
        check_id(tid, "tid", 1, 2**31 - 1)
        check_user(user)
        self._call(f"bind account {user} to {tid}", Mode.ACCOUNT, Op.BIND, f"user={user}", tid=tid)

    def unbind_account(self, tid: int, user: str) -> None:
        check_id(tid, "tid", 1, 2**31 - 1)
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
            # tgtd hangs up on a client of another user (SO_PEERCRED) and while stopping.
            raise ConnectionError(
                errno.ECONNRESET,
                "tgtd hung up without answering (it does for a client that is not its own "
                "user, and while it stops)",
            )
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
