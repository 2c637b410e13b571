"""The NFS reachability probe: one ONC RPC NULL call, against a real ganesha and against sockets that misbehave.

The ganesha tests need root and nfs-ganesha (they skip with the reason
otherwise); the socket tests run anywhere.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from storconn.agent.system.nfs_ping import ping
from tests.peers.agent import free_port
from tests.peers.ganesha import NfsServer


def test_running_server_is_reachable(nfs_server: NfsServer) -> None:
    answer = ping("127.0.0.1", port=nfs_server.port, version=4, timeout=2)
    assert answer.reachable, answer
    assert answer.detail == f"NFSv4 server at 127.0.0.1:{nfs_server.port} answers"


def test_version_the_server_does_not_serve_still_counts_as_reachable(nfs_server: NfsServer) -> None:
    # ganesha serves NFSv4 only: a v3 NULL call gets PROG_MISMATCH, which is an answer.
    answer = ping("127.0.0.1", port=nfs_server.port, version=3, timeout=2)
    assert answer.reachable, answer
    assert "versions 4-4" in answer.detail


def test_killed_server_is_not_reachable_and_says_refused(nfs_server: NfsServer) -> None:
    nfs_server.kill()
    started = time.monotonic()
    answer = ping("127.0.0.1", port=nfs_server.port, version=4, timeout=2)
    assert not answer.reachable
    assert answer.detail == f"127.0.0.1:{nfs_server.port}: Connection refused"
    assert time.monotonic() - started < 0.5


def test_restarted_server_is_reachable_again(nfs_server: NfsServer) -> None:
    nfs_server.kill()
    assert not ping("127.0.0.1", port=nfs_server.port, timeout=2).reachable
    nfs_server.start()
    assert ping("127.0.0.1", port=nfs_server.port, timeout=2).reachable


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A socket on 127.0.0.1 that accepts connections (in the kernel's backlog) and never reads or answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_silent_listener_is_not_reachable_within_the_timeout(silent_listener: int) -> None:
    started = time.monotonic()
    answer = ping("127.0.0.1", port=silent_listener, timeout=0.5)
    elapsed = time.monotonic() - started
    assert not answer.reachable
    assert answer.detail == f"no answer from 127.0.0.1:{silent_listener} within 0.5 s"
    assert 0.45 <= elapsed < 1.5, elapsed


def test_nothing_listening_is_not_reachable() -> None:
    port = free_port()
    answer = ping("127.0.0.1", port=port, timeout=1)
    assert not answer.reachable
    assert answer.detail == f"127.0.0.1:{port}: Connection refused"


def _serve_once(reply: bytes) -> tuple[int, threading.Thread]:
    """A one-connection server that reads the call, sends ``reply`` and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(2)
                conn.recv(4096)
                conn.sendall(reply)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_peer_that_does_not_speak_rpc_is_not_reachable() -> None:
    # A well-framed record whose header is not an RPC reply to our call.
    port, thread = _serve_once(struct.pack(">I", 0x80000000 | 24) + b"\0" * 24)
    answer = ping("127.0.0.1", port=port, timeout=2)
    thread.join(5)
    assert not answer.reachable
    assert answer.detail == f"127.0.0.1:{port} does not speak ONC RPC"


def test_peer_that_closes_without_answering_is_not_reachable() -> None:
    port, thread = _serve_once(b"")
    answer = ping("127.0.0.1", port=port, timeout=2)
    thread.join(5)
    assert not answer.reachable
    assert "closed the connection" in answer.detail
