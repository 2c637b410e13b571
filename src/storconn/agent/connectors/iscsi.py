"""The iscsi connector: one kernel session per (target, portal, iface), made with iscsiadm.

The session is the connection: it has no mount point (``path`` is None)
and is judged present from sysfs alone, so ``present`` never talks to
iscsid or the network. Two references to one target share one session,
since the reconciler keys targets by identity.

Where the kernel has no iSCSI initiator, no login can succeed; the
connector then logs in from user space (libiscsi) only to learn whether the
target would accept this host, so a wrong CHAP password is reported as
such (476) and not hidden behind "unsupported" (494).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from pathlib import Path

from storconn.connection import ConnectionInfo, ErrorCode, IscsiInfo, StorconnError

from ..system import iscsi_records, iscsi_sysfs, iscsiadm
from ..system.iscsi_sysfs import Session
from ..system.iscsiadm import Node
from ..system.mountinfo import MountEntry
from .base import Timeouts
from .ownership import FoundExisting

log = logging.getLogger(__name__)

# Node records are files under /etc/iscsi, but iscsiadm knocks on iscsid
# first (1 s where iscsid is absent); past 10 s iscsiadm itself is wedged.
NODE_BUDGET = 10.0
# iscsid retries an initial login initial_login_retry_max times, each bounded
# by login_timeout; open-iscsi's defaults (8 × 15 s) would hold a pool slot
# two minutes for a dead portal. Two attempts of 10 s fit the login command's
# budget (Timeouts.mount, 30 s); the reconciler's backoff retries after that.
LOGIN_TIMEOUT = 10
LOGIN_RETRIES = 1
# A user-space login to a live target takes milliseconds (tgtd: ~10 ms); to a
# dead one libiscsi would wait out TCP's SYN retries. It only refines an error
# the agent already has, so it gets little time.
CHECK_BUDGET = 5.0


class IscsiConnector:
    """Logs in to iSCSI targets and out of them; at most ``max_parallel_logins`` logins at once.

    The limit exists because iscsid serves logins one after another: a
    storm of them (a host coming up with many references) makes the later
    ones time out in iscsiadm while iscsid is still working on them.
    """

    confirmed_by_tick = False  # no mount table to read: the operation checks at once

    def __init__(
        self,
        timeouts: Timeouts,
        *,
        sysfs_root: Path = iscsi_sysfs.SYSFS,
        proc_root: Path = iscsi_sysfs.PROC,
        max_parallel_logins: int = 4,
        nodes_dir: Path | None = None,
    ) -> None:
        self._timeouts = timeouts
        self._sysfs = sysfs_root
        self._proc = proc_root
        self._logins = threading.BoundedSemaphore(max_parallel_logins)
        self._nodes_dir = nodes_dir  # None: open-iscsi's /etc/iscsi/nodes
        # Host name → its addresses, learnt in connect (which may block on
        # DNS: it runs in the pool). present() runs in the reconciler's tick
        # and must not resolve; sysfs holds addresses only.
        self._addresses: dict[str, frozenset[str]] = {}
        self._addresses_lock = threading.Lock()

    def path(self, info: ConnectionInfo) -> str | None:
        return None

    def present(
        self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]
    ) -> bool:
        """True when a LOGGED_IN session to the target exists (a FAILED one is not there yet)."""
        return any(s.logged_in for s in self.sessions(_iscsi(info)))

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        """Resolve the portal, write the node record (manual startup, CHAP), then log in.

        Ownership is decided here, after the portal's host name is resolved
        (sysfs holds addresses only): a session to the target that exists
        in any state before the agent's login, or that the login finds
        (exit 15), was not made by this call, and :class:`FoundExisting`
        says so; the caller must not claim it (see ``ownership``).

        Raises StorconnError: FoundExisting (LOGGED_IN: CONNECTION; FAILED or
        FREE, iscsid recovering it: CONNECTION_LOST), CONNECTION (the host
        name does not resolve), ISCSI_LOGIN_AUTH, ISCSI_LOGIN, ISCSI_SETUP,
        ISCSI_IFACE, UNSUPPORTED (the kernel or iscsid cannot), TIMEOUT.
        """
        info = _iscsi(info)
        node = node_of(info)
        self._resolve(info.params.target.portal.hostname)
        for session in self.sessions(info):
            raise _found(session, node)
        try:
            self._write_node(node, info)
            with self._logins:
                created = iscsiadm.login(node, timeout=self._timeouts.mount)
        except StorconnError as exc:
            if exc.code != ErrorCode.TIMEOUT:
                # A login cut short by its timeout may still complete in
                # iscsid, which needs the record; any other failure is final.
                self._forget_node(node)
            if exc.code == ErrorCode.UNSUPPORTED:
                raise self._explain_unsupported(info, exc) from exc
            raise
        if not created:
            # Someone logged in between the look at sysfs and this login.
            raise FoundExisting(
                f"iSCSI login to {node} found a session made meanwhile by someone else; "
                "used, not owned",
                state="LOGGED_IN",
                code=ErrorCode.CONNECTION,
            )

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        """Log out of the target's sessions, delete its node record; BUSY while disks are used."""
        info = _iscsi(info)
        node = node_of(info)
        found = self.sessions(info)
        self._refuse_if_busy(found, node)
        for session in found:
            iscsiadm.logout_session(session.sid, timeout=self._timeouts.umount)
        self._forget_node(node)

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        """Log out and in again; never under a user of the disks (they would see I/O errors)."""
        info = _iscsi(info)
        found = self.sessions(info)
        self._refuse_if_busy(found, node_of(info))
        for session in found:
            iscsiadm.logout_session(session.sid, timeout=self._timeouts.umount)
        self.connect(info, path)

    def probe_command(self, path: str) -> list[str] | None:
        # iscsid watches the session itself (NOP-Out pings, replacement
        # timeout); sysfs shows what it concluded.
        return None

    def sessions(self, info: IscsiInfo) -> list[Session]:
        """The kernel's sessions to this target, portal and iface (normally one)."""
        return [s for s in iscsi_sysfs.sessions(self._sysfs) if self._matches(s, info)]

    # -- helpers -------------------------------------------------------------

    def _matches(self, session: Session, info: IscsiInfo) -> bool:
        target = info.params.target
        if session.iqn.lower() != target.iqn.lower() or session.iface != info.params.iface:
            return False
        if session.port is not None and session.port != target.portal.port:
            return False
        if target.tpgt is not None and session.tpgt is not None and session.tpgt != target.tpgt:
            return False
        return session.address is not None and self._is_address_of(
            session.address, target.portal.hostname
        )

    def _is_address_of(self, address: str, hostname: str) -> bool:
        if _is_ip(hostname):
            return iscsi_sysfs.same_address(address, hostname)
        with self._addresses_lock:
            known = self._addresses.get(hostname.lower(), frozenset())
        # A name not resolved yet (after a restart) matches nothing: the
        # reconciler then calls connect, which resolves it, finds the
        # session and raises FoundExisting instead of logging in again.
        return any(iscsi_sysfs.same_address(address, a) for a in known)

    def _resolve(self, hostname: str) -> None:
        """Learn the addresses of the portal's host name, for matching sessions in sysfs.

        Raises StorconnError CONNECTION when the name does not resolve: without
        its addresses no session can be told apart, so no ownership decided.
        """
        if _is_ip(hostname):
            return
        try:
            found = socket.getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise StorconnError(
                f"iSCSI portal host name {hostname!r} does not resolve: {exc}",
                code=ErrorCode.CONNECTION,
            ) from exc
        addresses = frozenset(str(entry[4][0]) for entry in found)
        with self._addresses_lock:
            self._addresses[hostname.lower()] = addresses

    def _write_node(self, node: Node, info: IscsiInfo) -> None:
        iscsiadm.new_node(node, timeout=NODE_BUDGET)
        settings: list[tuple[str, str]] = [
            # The agent, not iscsid at boot, decides when a session exists:
            # after a reboot the references bring it back.
            ("node.startup", "manual"),
            ("node.session.initial_login_retry_max", str(LOGIN_RETRIES)),
            ("node.conn[0].timeo.login_timeout", str(LOGIN_TIMEOUT)),
        ]
        credentials = info.params.credentials
        if credentials is None:
            # Explicit: a record left by someone else may still ask for CHAP.
            settings.append(("node.session.auth.authmethod", "None"))
        for name, value in settings:
            iscsiadm.update_node(node, name, value, timeout=NODE_BUDGET)
        if credentials is not None:
            # Into the record file, never on iscsiadm's command line, which
            # any local user can read in /proc/PID/cmdline.
            chap = credentials.params
            iscsi_records.write_secrets(node, {
                "node.session.auth.authmethod": "CHAP",
                "node.session.auth.username": chap.username,
                "node.session.auth.password": chap.password.get_secret_value(),
            }, nodes_dir=self._nodes_dir)

    def _forget_node(self, node: Node) -> None:
        try:
            iscsiadm.delete_node(node, timeout=NODE_BUDGET)
        except StorconnError as exc:
            log.warning("node record of %s left in place: %s", node, exc.message)

    def _refuse_if_busy(self, found: list[Session], node: Node) -> None:
        for session in found:
            users = iscsi_sysfs.users(session, self._sysfs, proc=self._proc)
            if users:
                raise StorconnError(
                    f"iSCSI session {session.sid} to {node} is in use: {'; '.join(users)}",
                    code=ErrorCode.BUSY,
                )

    def _explain_unsupported(self, info: IscsiInfo, exc: StorconnError) -> StorconnError:
        """The kernel cannot log in; ask the target from user space whether it would accept us.

        Wrong credentials are the user's to fix, so they win (476); anything
        else stays UNSUPPORTED (494), with what the target said added.
        """
        target = info.params.target
        chap = info.params.credentials.params if info.params.credentials else None
        try:
            iscsiadm.check_login(
                target.portal.hostname,
                target.portal.port,
                target.iqn,
                chap.username if chap else None,
                chap.password.get_secret_value() if chap else None,
                timeout=CHECK_BUDGET,
            )
        except StorconnError as check:
            if check.code == ErrorCode.ISCSI_LOGIN_AUTH:
                return check
            return StorconnError(
                f"{exc.message}; a user-space login to the target failed too: {check.message}",
                code=ErrorCode.UNSUPPORTED,
            )
        accepted = "the credentials" if chap else "this host"
        return StorconnError(
            f"{exc.message}; the target accepted {accepted} (checked from user space with "
            "libiscsi), but this kernel cannot log in",
            code=ErrorCode.UNSUPPORTED,
        )


def _found(session: Session, node: Node) -> FoundExisting:
    if session.logged_in:
        return FoundExisting(
            f"iSCSI session {session.sid} to {node} was logged in before the agent's login; "
            "used, not owned",
            state=session.state,
            code=ErrorCode.CONNECTION,
        )
    # Logging in again would only add a second session beside it.
    return FoundExisting(
        f"iSCSI session {session.sid} is {session.state}; iscsid is recovering it",
        state=session.state,
    )


def node_of(info: IscsiInfo) -> Node:
    target = info.params.target
    return Node(
        iqn=target.iqn,
        hostname=target.portal.hostname,
        port=target.portal.port,
        tpgt=target.tpgt,
        iface=info.params.iface,
    )


def _iscsi(info: ConnectionInfo) -> IscsiInfo:
    if not isinstance(info, IscsiInfo):
        raise TypeError(f"the iscsi connector got a {info.type} connection")
    return info


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True
