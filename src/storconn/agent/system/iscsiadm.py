"""``iscsiadm`` (open-iscsi) and libiscsi's user-space tools, with timeouts and error codes.

The kernel logs in; ``iscsiadm`` asks iscsid to make it do so, and keeps
node records (one per target, portal and iface) under ``/etc/iscsi/nodes``.
Every call here goes through :func:`command.run` with a budget. CHAP
passwords never travel on a command line, which every local user can read
in ``/proc/PID/cmdline``: :mod:`iscsi_records` writes them into the node
record file itself (0600, root's), where iscsiadm reads them at login.

Where the kernel has no initiator (no ``iscsi_tcp``) or iscsid is not
running, iscsiadm can neither discover nor log in. libiscsi speaks iSCSI
from user space, so two questions still get real answers there:
:func:`discover` falls back to ``iscsi-ls`` (a SendTargets discovery), and
:func:`check_login` uses ``iscsi-inq`` to learn whether the target accepts
the credentials.

Exit statuses are open-iscsi's ``include/iscsi_err.h``; what iscsiadm
printed on this kind of host (Debian 12, no iscsi_tcp, open-iscsi 2.1.8):

- discovery with ``-I default``: exit 21, "Could not load transport
  tcp.Dropping interface default." (without ``-I``: exit 12, "iSCSI driver
  tcp is not loaded");
- login: exit 20, "initiator reported error (20 - could not connect to iscsid)";
- logout without a session: exit 21, "No matching sessions found";
- an iface with no record: "Could not read iface info for NAME" (exit 21 or 3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storconn.connection import DEFAULT_ISCSI_IFACE, DEFAULT_ISCSI_PORT, ErrorCode, StorconnError

from . import iscsi_sysfs
from .command import CommandNotFound, CommandResult, CommandTimeout, run

ISCSIADM = "iscsiadm"
ISCSI_LS = "iscsi-ls"
ISCSI_INQ = "iscsi-inq"
INITIATOR_NAME_FILE = Path("/etc/iscsi/initiatorname.iscsi")

# open-iscsi exit statuses (include/iscsi_err.h) this module tells apart. The
# login failures proper (5, 8 transport timeout, 19 fatal login) need no
# test of their own: they take the operation's code (ISCSI_LOGIN for a login).
ERR_LOGIN = 5
ERR_TRANS_TIMEOUT = 8
ERR_TRANS_NOT_FOUND = 12
ERR_SESS_EXISTS = 15
ERR_FATAL_LOGIN = 19
ERR_ISCSID_NOTCONN = 20
ERR_NO_OBJS_FOUND = 21
ERR_SYSFS_LOOKUP = 22
ERR_LOGIN_AUTH_FAILED = 24

_NO_INITIATOR_EXITS = (ERR_TRANS_NOT_FOUND, ERR_ISCSID_NOTCONN)
_NO_INITIATOR_HINTS = (
    "could not load transport", "driver tcp is not loaded", "iscsi driver not found",
)
# Specific phrases only: every login message names its iface ("[iface: default, ...]").
_IFACE_HINTS = ("could not read iface info", "invalid iface", "could not find iface",
                "iface not found", "no such iface")
# Lines every iscsiadm run prints on a host without systemd or iscsi_tcp;
# they would drown the one line that says what went wrong.
_NOISE = ("system has not been booted with systemd", "failed to connect to bus", "libkmod:")

# "127.0.0.1:3260,1 iqn.2026-01.test:lun1" (iscsiadm) and
# "Target:iqn.2026-01.test:lun1 Portal:127.0.0.1:3260,1" (iscsi-ls); IPv6 in brackets.
_ISCSIADM_TARGET = re.compile(r"(?P<addr>\S+):(?P<port>\d+),(?P<tpgt>-?\d+)\s+(?P<iqn>\S+)")
_ISCSI_LS_TARGET = re.compile(
    r"Target:(?P<iqn>\S+)\s+Portal:(?P<addr>\S+):(?P<port>\d+),(?P<tpgt>-?\d+)"
)


@dataclass(frozen=True, slots=True)
class DiscoveredTarget:
    """One (target, portal) pair a SendTargets discovery returned."""

    iqn: str
    hostname: str  # the portal address the target advertises, without brackets
    port: int
    tpgt: int | None

    def to_wire(self) -> dict[str, Any]:
        """The shape of ``params.target`` in an iscsi ConnectionInfo."""
        wire: dict[str, Any] = {
            "portal": {"hostname": self.hostname, "port": self.port},
            "iqn": self.iqn,
        }
        if self.tpgt is not None:
            wire["tpgt"] = self.tpgt
        return wire


@dataclass(frozen=True, slots=True)
class Node:
    """One node record: a target reached through one portal and one iface."""

    iqn: str
    hostname: str
    port: int = DEFAULT_ISCSI_PORT
    tpgt: int | None = None
    iface: str = DEFAULT_ISCSI_IFACE

    @property
    def portal(self) -> str:
        """``host:port[,tpgt]`` as iscsiadm's ``-p`` takes it."""
        text = f"{_bracket(self.hostname)}:{self.port}"
        return text if self.tpgt is None else f"{text},{self.tpgt}"

    def argv(self) -> list[str]:
        return [ISCSIADM, "-m", "node", "-T", self.iqn, "-p", self.portal, "-I", self.iface]

    def __str__(self) -> str:
        return f"{self.iqn} at {_bracket(self.hostname)}:{self.port}"


# -- discovery ----------------------------------------------------------------


def discover(
    hostname: str,
    port: int = DEFAULT_ISCSI_PORT,
    *,
    iface: str = DEFAULT_ISCSI_IFACE,
    timeout: float,
    fallback: bool = True,
) -> list[DiscoveredTarget]:
    """SendTargets discovery at ``hostname:port`` through ``iface``.

    ``-o nonpersistent``: asking what a portal offers must not create or
    overwrite node records (and the CHAP settings in them). Where iscsiadm
    cannot discover because the host lacks the initiator (UNSUPPORTED) and
    ``fallback`` is set, libiscsi's :func:`discover_userspace` answers
    instead; if that fails too, its error (the portal's) is raised.
    Raises StorconnError: ISCSI_DISCOVERY, ISCSI_IFACE, UNSUPPORTED, TIMEOUT.
    """
    portal = f"{_bracket(hostname)}:{port}"
    argv = [ISCSIADM, "-m", "discovery", "-t", "sendtargets", "-p", portal, "-I", iface,
            "-o", "nonpersistent"]
    try:
        result = _run(argv, timeout=timeout, what=f"discovery at {portal}")
        if not result.ok:
            raise _failure(result, f"discovery at {portal}", ErrorCode.ISCSI_DISCOVERY)
    except StorconnError as exc:
        if exc.code != ErrorCode.UNSUPPORTED or not fallback:
            raise
        try:
            return discover_userspace(hostname, port, timeout=timeout)
        except StorconnError as user_space:
            if user_space.code == ErrorCode.UNSUPPORTED:
                raise exc from None
            raise
    return parse_iscsiadm_discovery(result.stdout)


def discover_userspace(
    hostname: str, port: int = DEFAULT_ISCSI_PORT, *, timeout: float
) -> list[DiscoveredTarget]:
    """SendTargets discovery by libiscsi's ``iscsi-ls``, needing no kernel support.

    Plain ``iscsi-ls``, not ``-s``: listing LUNs logs in to every target and
    fails on the first one that wants CHAP ("Authentication failure(513)",
    exit 10), cutting the list short. Discovery itself needs no CHAP.
    Raises StorconnError: ISCSI_DISCOVERY, UNSUPPORTED (no libiscsi-bin), TIMEOUT.
    """
    portal = f"{_bracket(hostname)}:{port}"
    argv = [ISCSI_LS, *_initiator_args(), f"iscsi://{portal}/"]
    result = _run(argv, timeout=timeout, what=f"discovery at {portal}", tool="libiscsi-bin")
    if not result.ok:
        raise StorconnError(
            f"iSCSI discovery at {portal} failed: {_words(result)}", code=ErrorCode.ISCSI_DISCOVERY
        )
    return parse_iscsi_ls(result.stdout)


def parse_iscsiadm_discovery(text: str) -> list[DiscoveredTarget]:
    return _parse(_ISCSIADM_TARGET, text)


def parse_iscsi_ls(text: str) -> list[DiscoveredTarget]:
    return _parse(_ISCSI_LS_TARGET, text)


# -- node records ---------------------------------------------------------------


def new_node(node: Node, *, timeout: float) -> None:
    """Create (or reset to the defaults) the node record. Raises ISCSI_SETUP, ISCSI_IFACE, ..."""
    _node_op(node, ["-o", "new"], timeout=timeout, action=f"creating the node record of {node}")


def update_node(node: Node, name: str, value: str, *, timeout: float) -> None:
    """Set ``name`` to ``value`` in the node record. Never a secret: see iscsi_records.write_secrets."""
    _node_op(
        node,
        ["-o", "update", "-n", name, "-v", value],
        timeout=timeout,
        action=f"setting {name} of {node}",
    )


def delete_node(node: Node, *, timeout: float) -> None:
    """Remove the node record; a missing one is success."""
    _node_op(node, ["-o", "delete"], timeout=timeout, action=f"deleting the node record of {node}",
             missing_ok=True)


def _node_op(
    node: Node,
    op: list[str],
    *,
    timeout: float,
    action: str,
    missing_ok: bool = False,
) -> None:
    result = _run(node.argv() + op, timeout=timeout, what=action)
    if result.ok or (missing_ok and result.returncode == ERR_NO_OBJS_FOUND):
        return
    raise _failure(result, action, ErrorCode.ISCSI_SETUP)


# -- sessions -------------------------------------------------------------------


def login(node: Node, *, timeout: float) -> bool:
    """Log in to the node: True when this call made the session, False when one existed (exit 15).

    The difference is ownership: a session that existed before this login
    is someone else's, whoever made it between the caller's look at sysfs
    and now.
    Raises StorconnError: ISCSI_LOGIN_AUTH (wrong CHAP), ISCSI_LOGIN,
    ISCSI_IFACE, UNSUPPORTED (no initiator in the kernel, or no iscsid), TIMEOUT.
    """
    result = _run(node.argv() + ["-l"], timeout=timeout, what=f"login to {node}")
    if result.ok:
        return True
    if result.returncode == ERR_SESS_EXISTS:
        return False
    raise _failure(result, f"login to {node}", ErrorCode.ISCSI_LOGIN)


def logout(node: Node, *, timeout: float) -> None:
    """Log out of the node's sessions; none at all (exit 21) is success. Raises ISCSI_LOGOUT, ..."""
    result = _run(node.argv() + ["-u"], timeout=timeout, what=f"logout from {node}")
    if result.ok or result.returncode == ERR_NO_OBJS_FOUND:
        return
    raise _failure(result, f"logout from {node}", ErrorCode.ISCSI_LOGOUT)


def logout_session(sid: int, *, timeout: float) -> None:
    """Log out of session ``sid`` exactly, record or not; a session already gone is success.

    By session id because a node logout finds sessions through node
    records, which someone may have deleted while the session stayed up.
    Exit 21 (no such session) and 22 (gone from sysfs) mean it is gone.
    """
    result = _run([ISCSIADM, "-m", "session", "-r", str(sid), "-u"], timeout=timeout,
                  what=f"logout of session {sid}")
    if result.ok or result.returncode in (ERR_NO_OBJS_FOUND, ERR_SYSFS_LOOKUP):
        return
    raise _failure(result, f"logout of session {sid}", ErrorCode.ISCSI_LOGOUT)


def check_login(
    hostname: str,
    port: int,
    iqn: str,
    username: str | None,
    password: str | None,
    *,
    timeout: float,
) -> None:
    """Log in from user space (libiscsi's ``iscsi-inq``); return if the target accepts this host.

    Used where the kernel cannot log in, to tell wrong credentials from a
    host that lacks the initiator. The credentials go in libiscsi's
    environment variables, not in the URL: a command line is readable by
    every local user in /proc, an environment only by the owner. LUN 0 is
    asked because every target has one; a SCSI error after the login still
    means the login was accepted.
    Raises StorconnError: ISCSI_LOGIN_AUTH, ISCSI_LOGIN, UNSUPPORTED, TIMEOUT.
    """
    node = Node(iqn, hostname, port)
    env: dict[str, str] = {}
    if username is not None:
        env["LIBISCSI_CHAP_USERNAME"] = username
        env["LIBISCSI_CHAP_PASSWORD"] = password or ""
    argv = [ISCSI_INQ, *_initiator_args(), f"iscsi://{_bracket(hostname)}:{port}/{iqn}/0"]
    secrets = [password] if password else []
    result = _run(argv, timeout=timeout, what=f"login check of {node}", secrets=secrets, env=env,
                  tool="libiscsi-bin")
    if result.ok:
        return
    words = _words(result)
    if "authentication failure" in words.lower():
        reason = "wrong CHAP user name or password" if username else "the target requires CHAP"
        raise StorconnError(f"iSCSI login to {node} refused: {reason} ({words})",
                            code=ErrorCode.ISCSI_LOGIN_AUTH)
    if "sense key" in words.lower():
        return  # logged in; only the SCSI command on LUN 0 failed
    if "failed to log in to target" not in words.lower():
        # libiscsi words a refused connection as "Can not reconnect right now".
        words = f"the portal does not answer ({words})"
    raise StorconnError(f"iSCSI login to {node} failed: {words}", code=ErrorCode.ISCSI_LOGIN)


def initiator_name(path: Path | None = None) -> str | None:
    """This host's initiator name (from ``path``, open-iscsi's file by default); None if not set."""
    try:
        text = (path or INITIATOR_NAME_FILE).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "InitiatorName" and value.strip():
            return value.strip()
    return None


# -- translation ----------------------------------------------------------------


def _run(
    argv: list[str],
    *,
    timeout: float,
    what: str,
    secrets: Sequence[str] = (),
    env: dict[str, str] | None = None,
    tool: str = "open-iscsi",
) -> CommandResult:
    try:
        return run(argv, timeout=timeout, secrets=secrets, env=env)
    except CommandTimeout as exc:
        raise StorconnError(f"iSCSI {what} did not finish within {timeout:g} s",
                            code=ErrorCode.TIMEOUT) from exc
    except CommandNotFound as exc:
        raise StorconnError(f"{exc} (package {tool}): cannot do iSCSI {what}",
                            code=ErrorCode.UNSUPPORTED) from exc


def _failure(result: CommandResult, action: str, default: ErrorCode) -> StorconnError:
    """The StorconnError for a failed iscsiadm run: its exit status first, then its words."""
    words = _words(result)
    lowered = words.lower()
    code = result.returncode
    if code in _NO_INITIATOR_EXITS or any(hint in lowered for hint in _NO_INITIATOR_HINTS):
        return StorconnError(f"iSCSI {action} impossible on this host: {no_initiator_reason()} "
                             f"({words})", code=ErrorCode.UNSUPPORTED)
    if code == ERR_LOGIN_AUTH_FAILED:
        return StorconnError(f"iSCSI {action} refused: CHAP authentication failed ({words})",
                             code=ErrorCode.ISCSI_LOGIN_AUTH)
    if any(hint in lowered for hint in _IFACE_HINTS):
        return StorconnError(f"iSCSI {action} failed: iface problem ({words})",
                             code=ErrorCode.ISCSI_IFACE)
    return StorconnError(f"iSCSI {action} failed: {words}", code=default)


def no_initiator_reason(root: Path = iscsi_sysfs.SYSFS) -> str:
    """Why iscsiadm cannot work here, as precisely as sysfs tells."""
    if not iscsi_sysfs.kernel_has_initiator(root):
        return "the kernel lacks the iSCSI initiator (module iscsi_tcp is not loaded)"
    return "iscsid is not running (the kernel has the iSCSI initiator, iscsi_tcp)"


def _words(result: CommandResult) -> str:
    """The tool's own lines about the failure, without the noise, on one line."""
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines()]
    kept = [line.removeprefix("iscsiadm: ") for line in lines
            if line and not any(noise in line.lower() for noise in _NOISE)]
    return "; ".join(kept) or f"exit status {result.returncode}"


def _parse(pattern: re.Pattern[str], text: str) -> list[DiscoveredTarget]:
    found: list[DiscoveredTarget] = []
    for line in text.splitlines():
        match = pattern.fullmatch(line.strip())
        if match is None:
            continue
        tpgt = int(match["tpgt"])
        target = DiscoveredTarget(
            iqn=match["iqn"],
            hostname=match["addr"].removeprefix("[").removesuffix("]"),
            port=int(match["port"]),
            tpgt=None if tpgt < 0 else tpgt,
        )
        if target not in found:
            found.append(target)
    return found


def _initiator_args() -> list[str]:
    # A target whose ACL names this host's initiator must see the same name
    # from libiscsi as it would from the kernel.
    name = initiator_name()
    return ["-i", name] if name else []


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
