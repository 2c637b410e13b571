"""iSCSI SendTargets discovery through the agent's API and CLI, against a real tgtd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.agent.client import AgentRpcError
from tests.peers.agent import AgentProcess, is_root
from tests.peers.tgt import TgtServer, available


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[TgtServer]:
    reason = available() or (None if is_root() else "needs root: tgtd")
    if reason:
        pytest.skip(reason)
    server = TgtServer(tmp_path / "tgt")
    server.add_target(f"iqn.2026-01.test.storconn:{uuid.uuid4().hex[:8]}-disc")
    server.start()
    yield server
    server.stop()


def test_discover_lists_the_portals_targets(agent_process: AgentProcess, portal: TgtServer) -> None:
    with agent_process.client() as client:
        targets = client.discover("127.0.0.1", portal.port)
    assert [t["iqn"] for t in targets] == [portal.targets[0].iqn]
    assert targets[0]["portal"] == {"hostname": "127.0.0.1", "port": portal.port}


def test_discover_of_a_dead_portal_is_a_clear_error(agent_process: AgentProcess, portal: TgtServer) -> None:
    port = portal.port
    portal.stop()
    with agent_process.client() as client, pytest.raises(AgentRpcError) as raised:
        client.discover("127.0.0.1", port)
    assert raised.value.data["code"] in (475, 494)
    assert "127.0.0.1" in raised.value.message


def test_cli_discover_prints_uris_to_acquire(agent_process: AgentProcess, portal: TgtServer) -> None:
    env = dict(os.environ, STORCONN_AGENT_URL=agent_process.url,
               STORCONN_TOKEN_FILE=str(agent_process.state_dir / "token"))
    done = subprocess.run([sys.executable, "-m", "storconn.cli.main", "refs", "discover",
                           f"127.0.0.1:{portal.port}", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["iqn"] == portal.targets[0].iqn
