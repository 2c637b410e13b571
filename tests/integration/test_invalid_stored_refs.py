"""Stored references that today's validation refuses do not stop the agent (defect 10).

An older agent stored them before validation tightened. The agent must
start, list each as a reference in error (never connected, never mounted,
a clear lastError, its info redacted), let it be released, and keep
serving the valid ones.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from storconn.agent.store import Store
from storconn.agent.system import mountinfo
from storconn.connection import InvalidParameter, parse_info
from tests.peers.agent import AgentProcess

GOOD = {"type": "localfs", "params": {"path": "/srv/storconn-test-data"}}
SECRET = "hunter2-old-secret"

# What older agents accepted. Rows that today's validation still takes are
# left out (they would be connected for real): the list grows as it tightens.
CANDIDATES: dict[str, Any] = {
    "ssh-command": {"type": "posixfs", "params": {
        "spec": "u@127.0.0.1:/d", "vfsType": "fuse.sshfs", "options": f"ssh_command=id,password={SECRET}"}},
    "fuse-awk": {"type": "posixfs", "params": {"spec": 'BEGIN{system("id>/tmp/pwned")}', "vfsType": "fuse.awk"}},
    "bind-etc": {"type": "posixfs", "params": {"spec": "/etc", "vfsType": "none", "options": "bind"}},
    "gone-type": {"type": "zfs", "params": {"pool": "tank", "password": SECRET}},
    "chap-bad-port": {"type": "iscsi", "params": {
        "target": {"portal": {"hostname": "127.0.0.1", "port": 99999}, "iqn": "iqn.2003-01.org.x:t"},
        "credentials": {"type": "chap", "params": {"username": "u", "password": SECRET}}}},
}


def _refused(info: Any) -> bool:
    try:
        parse_info(info)
    except InvalidParameter:
        return True
    return False


OLD = {ref_id: info for ref_id, info in CANDIDATES.items() if _refused(info)}
UNREADABLE = {"not-json": "{not json", "not-an-object": "[1, 2]"}


def _write_old_rows(state_dir: Path) -> None:
    """Rows written straight into the store file, as an older agent left them."""
    path = state_dir / "refs.sqlite"
    Store(path).close()
    rows = [("good", "localfs:/srv/storconn-test-data", json.dumps(GOOD))]
    rows += [(ref_id, f"old:{ref_id}", json.dumps(info)) for ref_id, info in OLD.items()]
    rows += [(ref_id, f"old:{ref_id}", text) for ref_id, text in UNREADABLE.items()]
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO refs (id, target, info) VALUES (?, ?, ?)", rows)


def _stored_ids(state_dir: Path) -> set[str]:
    with sqlite3.connect(state_dir / "refs.sqlite") as db:
        return {row[0] for row in db.execute("SELECT id FROM refs")}


@pytest.fixture
def old_agent(tmp_path: Path, mount_root: Path) -> Any:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    _write_old_rows(state_dir)
    agent = AgentProcess(state_dir, mount_root)
    agent.start()  # before the fix: "error: params.options: option 'ssh_command' is refused", exit 1
    yield agent
    agent.stop()


def test_the_agent_starts_and_lists_old_rows_as_references_in_error(old_agent: AgentProcess, mount_root: Path) -> None:
    assert "ssh-command" in OLD  # refused since the option list existed
    time.sleep(1.0)  # a few reconcile periods: nothing in error may be connected meanwhile
    with old_agent.client() as client:
        statuses = {k: v for k, v in client.statuses().items() if not k.startswith("unmanaged:")}
    assert set(statuses) == {"good", *OLD, *UNREADABLE}
    assert statuses["good"]["lastError"][0] != 1000
    for ref_id in [*OLD, *UNREADABLE]:
        status = statuses[ref_id]
        assert status["connected"] is False and status["path"] is None and status["managed"] is True
        code, message = status["lastError"]
        assert code == 1000
        assert "stored connection info is no longer accepted" in message
    assert "ssh_command" in statuses["ssh-command"]["lastError"][1]
    assert "JSON" in statuses["not-json"]["lastError"][1]
    # Shown as far as it can be, secrets masked; nothing at all for what is no JSON object.
    assert statuses["ssh-command"]["connectionInfo"]["params"]["vfsType"] == "fuse.sshfs"
    assert statuses["not-json"]["connectionInfo"] is None
    assert statuses["not-an-object"]["connectionInfo"] is None
    assert SECRET not in json.dumps(statuses)
    assert SECRET not in old_agent.log.read_text()
    # Never connected: nothing mounted under the mount root.
    root = str(mount_root) + "/"
    assert [e.mountpoint for e in mountinfo.read().values() if e.mountpoint.startswith(root)] == []


def test_a_reference_in_error_keeps_its_id_until_released(old_agent: AgentProcess) -> None:
    with old_agent.client() as client:
        assert client.acquire({"ssh-command": GOOD}) == {"ssh-command": 478}
        released = client.release([*OLD, *UNREADABLE])
        assert released == dict.fromkeys([*OLD, *UNREADABLE], 0)
        assert _stored_ids(old_agent.state_dir) == {"good"}
        assert client.acquire({"ssh-command": GOOD}) == {"ssh-command": 0}


def test_after_release_and_restart_only_valid_references_remain(old_agent: AgentProcess) -> None:
    with old_agent.client() as client:
        assert set(client.release([*OLD, *UNREADABLE]).values()) == {0}
    old_agent.stop()
    old_agent.start()
    with old_agent.client() as client:
        statuses = {k: v for k, v in client.statuses().items() if not k.startswith("unmanaged:")}
    assert list(statuses) == ["good"]
    assert statuses["good"]["connectionInfo"] == GOOD


def test_a_wait_on_a_reference_in_error_answers_at_once(old_agent: AgentProcess) -> None:
    # Never connected, so nothing to wait for: a wait must not sit out its timeout.
    with old_agent.client() as client:
        started = time.monotonic()
        answer = client.wait(["ssh-command"], timeout=20)
        took = time.monotonic() - started
    assert answer["ssh-command"]["lastError"][0] == 1000
    assert took < 5, took
