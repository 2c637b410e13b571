"""Secrets never appear on a command line (defect 11): /proc/*/cmdline is readable by every local user.

A watcher reads the command line of every process on the host, over and
over, while a real agent acquires a CHAP-protected iSCSI target (tgtd on
loopback; on a kernel without iscsi_tcp the login fails, but the node
record, which holds the password, is written first) and mounts with a
``password=`` option. It must see the agent's children (else it proves
nothing) and never the secret.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import Agent
from storconn.agent.system import iscsiadm
from storconn.agent.system.iscsiadm import Node
from tests.conftest import needs_root
from tests.peers.tgt import TgtServer, available, node_records, remove_node_records

pytestmark = needs_root

USER = "storconn"


class CmdlineWatch:
    """Every distinct command line seen in /proc while it runs, read as fast as it can."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cmdline-watch", daemon=True)
        self._me = os.getpid()

    def __enter__(self) -> CmdlineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or int(entry.name) == self._me:
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        raw = f.read()
                except OSError:
                    continue  # gone already
                if raw:
                    self.seen.add(raw.replace(b"\0", b" ").decode(errors="replace").strip())

    def containing(self, *words: str) -> list[str]:
        return [line for line in list(self.seen) if all(word in line for word in words)]

    def wait_for(self, *words: str, timeout: float) -> list[str]:
        """The lines with ``words``, waiting while the agent retries: one run may be too quick to see."""
        deadline = time.monotonic() + timeout
        while not self.containing(*words) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.containing(*words)


@pytest.fixture
def tgt(tmp_path: Path) -> Iterator[TgtServer]:
    reason = available()
    if reason:
        pytest.skip(reason)
    server = TgtServer(tmp_path / "tgt")
    password = f"chap-{uuid.uuid4().hex[:12]}"
    server.add_target(f"iqn.2026-01.test.storconn:{uuid.uuid4().hex[:8]}-secret",
                      chap=(USER, password))
    server.start()
    yield server
    server.stop()
    for target in server.targets:
        remove_node_records(target.iqn, server.port)


def test_a_chap_acquire_never_shows_the_password_on_a_command_line(
    tgt: TgtServer, agent: Agent, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="storconn")
    (target,) = tgt.targets
    assert target.chap is not None
    password = target.chap[1]
    records_at_login: list[str] = []
    real_login = iscsiadm.login

    def login(node: Node, *, timeout: float) -> Any:
        # The record iscsiadm reads at login must hold the password: else
        # keeping it off the command line would only mean losing it.
        records = node_records(node.iqn)
        records_at_login.extend(p.read_text() for p in records.rglob("*") if p.is_file())
        return real_login(node, timeout=timeout)

    monkeypatch.setattr(iscsiadm, "login", login)
    with CmdlineWatch() as watch:
        assert agent.acquire({"chap": tgt.info(target)}) == {"chap": 0}
        status = agent.wait(["chap"], timeout=60)["chap"]
        seen_new = watch.wait_for("iscsiadm", target.iqn, "-o new", timeout=30)
    assert seen_new, "the watcher missed the agent"
    assert not watch.containing(password), watch.containing(password)
    assert status["connected"] or status["lastError"][0] != 0, status
    assert any(f"node.session.auth.password = {password}" in text for text in records_at_login)
    assert password not in str(status) and password not in caplog.text


def test_a_mount_with_a_password_option_never_shows_it_on_a_command_line(
    agent: Agent, mount_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="storconn")
    secret = f"pw-{uuid.uuid4().hex[:12]}"
    info: dict[str, Any] = {
        "type": "posixfs",
        "params": {"spec": "tmpfs", "vfsType": "tmpfs", "options": f"size=1m,password={secret}"},
    }
    with CmdlineWatch() as watch:
        assert agent.acquire({"m": info}) == {"m": 0}
        status = agent.wait(["m"], timeout=30)["m"]
        seen_mount = watch.wait_for("mount", str(mount_root), timeout=20)
    # tmpfs takes no password, so the mount fails; what matters is how it was asked.
    assert seen_mount, "the watcher missed the mount"
    assert not watch.containing(secret), watch.containing(secret)
    assert secret not in str(status) and secret not in caplog.text
