"""Is an NFS server answering? One ONC RPC NULL call over TCP (RFC 5531), with a timeout.

This is what tells "the server is down" from "the kernel cannot mount NFS":
it speaks the real protocol to the real server, needs no kernel support, and
a socket timeout bounds it, so a hung server cannot hold the caller.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

NFS_PROGRAM = 100003
NFS_PORT = 2049
_CALL = 0
_REPLY = 1
_MSG_ACCEPTED = 0
_SUCCESS = 0
_PROG_MISMATCH = 2
_LAST_FRAGMENT = 0x80000000


@dataclass(frozen=True, slots=True)
class PingResult:
    reachable: bool
    detail: str


def _null_call(xid: int, version: int) -> bytes:
    # xid, CALL, RPC version 2, program, version, procedure 0 (NULL),
    # credential AUTH_NONE (flavor 0, length 0), verifier AUTH_NONE.
    body = struct.pack(">10I", xid, _CALL, 2, NFS_PROGRAM, version, 0, 0, 0, 0, 0)
    return struct.pack(">I", _LAST_FRAGMENT | len(body)) + body


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def ping(host: str, *, port: int = NFS_PORT, version: int = 4, timeout: float = 3.0) -> PingResult:
    """Send NFS NULL to ``host``; reachable when any well-formed RPC reply comes back."""
    xid = int.from_bytes(os.urandom(4), "big")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_null_call(xid, version))
            (marker,) = struct.unpack(">I", _receive(sock, 4))
            reply = _receive(sock, min(marker & ~_LAST_FRAGMENT, 4096))
    except TimeoutError:
        return PingResult(False, f"no answer from {host}:{port} within {timeout:g} s")
    except OSError as exc:
        return PingResult(False, f"{host}:{port}: {exc.strerror or exc}")
    if len(reply) < 24:
        return PingResult(False, f"{host}:{port} sent a short RPC reply")
    got_xid, msg_type, reply_stat = struct.unpack(">3I", reply[:12])
    if got_xid != xid or msg_type != _REPLY:
        return PingResult(False, f"{host}:{port} does not speak ONC RPC")
    if reply_stat != _MSG_ACCEPTED:
        return PingResult(True, f"{host}:{port} answered and denied the call")
    (verifier_length,) = struct.unpack(">I", reply[16:20])
    offset = 20 + verifier_length
    (accept_stat,) = struct.unpack(">I", reply[offset : offset + 4])
    if accept_stat == _SUCCESS:
        return PingResult(True, f"NFSv{version} server at {host}:{port} answers")
    if accept_stat == _PROG_MISMATCH:
        low, high = struct.unpack(">2I", reply[offset + 4 : offset + 12])
        return PingResult(True, f"NFS server at {host}:{port} answers (versions {low}-{high})")
    return PingResult(True, f"NFS server at {host}:{port} answers (accept status {accept_stat})")
