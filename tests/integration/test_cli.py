"""The `storconn refs` commands against a real agent process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.peers.agent import AgentProcess


def _storconn(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STORCONN_AGENT_URL=agent.url, STORCONN_TOKEN_FILE=str(agent.state_dir / "token"),
               COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "storconn.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_acquire_list_wait_release(agent_process: AgentProcess, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    done = _storconn(agent_process, "refs", "acquire", "data2", f"localfs://{data}")
    assert done.returncode == 0, done.stderr
    waited = _storconn(agent_process, "refs", "wait", "data2", "--timeout", "10")
    assert waited.returncode == 0 and "connected" in waited.stdout
    listed = json.loads(_storconn(agent_process, "refs", "list", "--json").stdout)
    assert listed["data2"]["connected"] is True
    table = _storconn(agent_process, "refs", "list").stdout
    assert "data2" in table and "localfs" in table
    released = _storconn(agent_process, "refs", "release", "data2", "ghost")
    assert released.returncode == 1
    assert "released data2" in released.stdout and "ghost" in released.stderr


def test_bad_uri_names_the_field_and_sends_nothing(agent_process: AgentProcess) -> None:
    done = _storconn(agent_process, "refs", "acquire", "x", "nfs://server/export?timeout=0")
    assert done.returncode == 2
    assert "timeout" in done.stderr
    assert "x" not in json.loads(_storconn(agent_process, "refs", "list", "--json").stdout)


def test_wait_says_why_not(agent_process: AgentProcess, tmp_path: Path) -> None:
    _storconn(agent_process, "refs", "acquire", "gone", f"localfs://{tmp_path}/missing")
    waited = _storconn(agent_process, "refs", "wait", "gone", "--timeout", "10")
    assert waited.returncode == 1
    assert "does not exist" in waited.stderr and "453" in waited.stderr


def test_chap_password_comes_from_a_file_and_is_never_shown(agent_process: AgentProcess, tmp_path: Path) -> None:
    secret = tmp_path / "chap"
    secret.write_text("s3cret-Pa55\n")
    done = _storconn(agent_process, "refs", "acquire", "lun", "iscsi://alice@127.0.0.1/iqn.2026-01.test:lun1",
                     "--password-file", str(secret))
    assert done.returncode == 0, done.stderr
    listing = _storconn(agent_process, "refs", "list", "--json").stdout
    assert "s3cret" not in listing and "s3cret" not in done.stdout
    assert json.loads(listing)["lun"]["connectionInfo"]["params"]["credentials"]["params"]["username"] == "alice"
    assert "s3cret" not in agent_process.log.read_text()
    # Let the one connect attempt finish before the agent stops, so that
    # iscsiadm leaves no node record behind.
    _storconn(agent_process, "refs", "wait", "lun", "--timeout", "30")
    _storconn(agent_process, "refs", "release", "lun")
