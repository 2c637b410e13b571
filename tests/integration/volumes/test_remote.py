"""Remote attach with two agents as two hosts and one controller, on SQLite and on PostgreSQL.

The controller (the module's agent) holds the share; ``node1`` and
``node2`` are agents of their own (own state directory, own mount root)
that publish their connector in the key-values and attach through
themselves. A multiattach volume is connected to both, attached on both,
and the first disconnect must not cut the second host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import storconn.volumes as cl
from tests.peers.agent import AgentProcess
from tests.peers.postgres import PostgresServer

from .conftest import Library


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/volumes.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
def second_node(tmp_path: Path) -> Iterator[AgentProcess]:
    base = tmp_path / "node2"
    base.mkdir()
    (base / "mnt").mkdir()
    agent = AgentProcess(base / "state", base / "mnt")
    agent.start()
    yield agent
    client = agent.client()
    for connection_id in client.call("Volumes.list", {}):
        client.call("Volumes.detach", {"connectionID": connection_id})
    agent.stop()


def _publish(node_id: str, agent: AgentProcess) -> None:
    """What a node does on start (seed 004): its connector into the key-values."""
    connector = cl.get_connector_properties("sudo", "127.0.0.1", False, False, host=node_id, agent_url=agent.url)
    cl.Backend.persistence.set_key_value(cl.KeyValue(node_id, json.dumps(connector)))


def test_multiattach_on_two_hosts_and_the_first_disconnect_keeps_the_second(
    library: Library, node_agent: AgentProcess, second_node: AgentProcess, database: str
) -> None:
    cl.setup(persistence_config={"storage": "db", "connection": database})
    nodes = {"node1": node_agent, "node2": second_node}
    for node_id, agent in nodes.items():
        _publish(node_id, agent)
    backend = library.backend("remote")
    volume = backend.create_volume(size=1, multiattach=True)

    connections = {}
    for node_id in nodes:
        connector = json.loads(cl.Backend.persistence.get_key_values(node_id)[0].value)
        connections[node_id] = volume.connect(connector, attached_host=node_id)
    devices = {node_id: connections[node_id].attach(device_type="block", agent=nodes[node_id].client())
               for node_id in nodes}
    assert devices["node1"]["path"] != devices["node2"]["path"]
    assert cl.Volume.get_by_id(volume.id).status == "in-use"
    for node_id, agent in nodes.items():
        assert list(agent.client().call("Volumes.list", {})) == [connections[node_id].id]

    connections["node1"].detach(agent=node_agent.client())
    connections["node1"].disconnect()
    # node2 still has its device and can write through it.
    fd = os.open(devices["node2"]["path"], os.O_WRONLY)
    try:
        assert os.pwrite(fd, b"still attached", 0) == 14
        os.fsync(fd)
    finally:
        os.close(fd)
    stored = cl.Volume.get_by_id(volume.id)
    assert stored.status == "in-use" and [c.id for c in stored.connections] == [connections["node2"].id]
    assert (library.share_dir / f"volume-{volume.id}").read_bytes()[:14] == b"still attached"

    connections["node2"].detach(agent=second_node.client())
    connections["node2"].disconnect()
    stored = cl.Volume.get_by_id(volume.id)
    assert stored.status == "available" and stored.connections == []
    for agent in nodes.values():
        assert agent.client().call("Volumes.list", {}) == {}
