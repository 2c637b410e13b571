"""Seed 004's code samples, with only the import changed, run against real agents.

Each sample is kept as the seed wrote it (one fix: the seed's node sample
tests ``if not kw:`` where it means ``kv``) and run by ``exec`` in a
namespace holding the variables the seed says the reader has
(``persistence_config``, ``node_id``, ``cinderlib_driver_configuration``,
``volume_id``, ``storage_nw_ip``). The node and the controller of the
remote flows are separate processes, each with its own agent, sharing one
SQLite database — as two hosts would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


import storconn.volumes as cl
from tests.peers.agent import AgentProcess

from .conftest import Library

LOCAL_ATTACH = """
vol = lvm.create_volume(size=1)
attach = vol.attach()
with open(attach.path, 'w') as f:
    f.write('*' * 100)
vol.detach()
"""

NODE_STORES_CONNECTOR = """
import storconn.volumes as cl

cl.setup(persistence_config=persistence_config)

kv = cl.Backend.persistence.get_key_values(node_id)
if not kv:
    storage_nw_ip = socket.gethostbyname(socket.gethostname())
    connector_dict = cl.get_connector_properties('sudo', storage_nw_ip,
                                                 True, False)
    value = json.dumps(connector_dict, separators=(',', ':'))
    kv = cl.KeyValue(node_id, value)
    cl.Backend.persistence.set_key_value(kv)
"""

CONTROLLER_CONNECTS = """
import storconn.volumes as cl

cl.setup(persistence_config=persistence_config)
storage = cl.Backend(**cinderlib_driver_configuration)

kv = cl.Backend.persistence.get_key_values(node_id)
if not kv:
    raise Exception('Unknown node')
connector_info = json.loads(kv[0].value)
vol = storage.Volume.get_by_id(volume_id)
vol.connect(connector_info, attached_host=node_id)
"""

NODE_ATTACHES = """
vol = storage.Volume.get_by_id(volume_id)
connection = vol.connections[0]
connection.attach()
print('Volume %s attached to %s' % (vol.id, connection.path))
"""

CONTROLLER_WITHOUT_PERSISTENCE = """
import storconn.volumes as cl

cl.setup(persistence_config=persistence_config)
storage = cl.Backend(**cinderlib_driver_configuration)

vol = storage.Volume.get_by_id(volume_id)
conn = vol.connect(connector_info, attached_host=node_id)
connection_info = conn.connection_info
"""

CONTROLLER_SAVES_DEVICE = """
conn = vol.connections[0]
conn.device = device
conn.save()
"""

# The node side of the flow without shared persistence: the seed calls
# os-brick here; on storconn the node's agent attaches in one call.
NODE_ATTACHES_BY_HAND = """
from storconn.agent.client import AgentClient

agent = AgentClient(agent_url, token_file=token_file)
conn_info = connection_info['conn']
device = agent.call('Volumes.attach', {'connectionID': connection_id, 'connInfo': conn_info})
print(json.dumps(device))
"""


def _run(code: str, namespace: dict[str, object]) -> dict[str, object]:
    exec(compile(textwrap.dedent(code), "<seed-004>", "exec"), namespace)
    return namespace


def test_local_attach(library: Library) -> None:
    lvm = library.backend()
    namespace = _run(LOCAL_ATTACH, {"lvm": lvm})
    vol = namespace["vol"]
    assert isinstance(vol, cl.Volume)
    data = (library.share_dir / f"volume-{vol.id}").read_bytes()[:100]
    assert data == b"*" * 100
    assert vol.connections == []
    assert library.agent.client().call("Volumes.list", {}) == {}


def _process(code: str, variables: dict[str, object], agent: AgentProcess) -> str:
    """Run ``code`` in a fresh interpreter (another 'host'), using ``agent`` as its local agent."""
    prelude = "import json, socket\n" + "".join(f"{k} = {v!r}\n" for k, v in variables.items())
    env = {
        **os.environ,
        "STORCONN_AGENT_URL": agent.url,
        "STORCONN_TOKEN_FILE": str(agent.state_dir / "token"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_remote_attach_through_the_shared_persistence(
    library: Library, node_agent: AgentProcess, tmp_path: Path
) -> None:
    persistence_config = {"storage": "db", "connection": f"sqlite:///{tmp_path}/volumes.db"}
    configuration = {"volume_backend_name": "shared", "volume_driver": "file", "share": library.share_uri}
    cl.setup(persistence_config=persistence_config)
    volume_id = cl.Backend(**configuration).create_volume(size=1).id
    variables = {
        "persistence_config": persistence_config,
        "node_id": "node-1",
        "cinderlib_driver_configuration": configuration,
        "volume_id": volume_id,
    }

    _process(NODE_STORES_CONNECTOR, variables, node_agent)
    _process(CONTROLLER_CONNECTS, variables, library.agent)
    printed = _process(
        "import storconn.volumes as cl\ncl.setup(persistence_config=persistence_config)\n"
        "storage = cl.Backend(**cinderlib_driver_configuration)\n" + NODE_ATTACHES,
        variables, node_agent,
    )

    connection = cl.Volume.get_by_id(volume_id).connections[0]
    assert printed.strip() == f"Volume {volume_id} attached to {connection.path}"
    assert connection.attached_host == "node-1" and connection.status == "attached"
    # The node's agent holds the attachment; the controller's does not.
    assert list(node_agent.client().call("Volumes.list", {})) == [connection.id]
    assert library.agent.client().call("Volumes.list", {}) == {}


def test_remote_attach_without_shared_persistence(
    library: Library, node_agent: AgentProcess, tmp_path: Path
) -> None:
    persistence_config = {"storage": "db", "connection": f"sqlite:///{tmp_path}/controller.db"}
    configuration = {"volume_backend_name": "private", "volume_driver": "file", "share": library.share_uri}
    cl.setup(persistence_config=persistence_config)
    storage = cl.Backend(**configuration)
    volume_id = storage.create_volume(size=1).id
    connector_info = cl.get_connector_properties(agent_url=node_agent.url, host="node-2")

    namespace = _run(CONTROLLER_WITHOUT_PERSISTENCE, {
        "persistence_config": persistence_config,
        "cinderlib_driver_configuration": configuration,
        "volume_id": volume_id,
        "connector_info": connector_info,
        "node_id": "node-2",
    })
    connection_info = namespace["connection_info"]
    connection_id = namespace["conn"].id  # type: ignore[attr-defined]
    # Passed to the node by hand, as JSON (the seed leaves the channel to the reader).
    printed = _process(NODE_ATTACHES_BY_HAND, {
        "agent_url": node_agent.url,
        "token_file": str(node_agent.state_dir / "token"),
        "connection_info": json.loads(json.dumps(connection_info)),
        "connection_id": connection_id,
    }, node_agent)
    device = json.loads(printed)
    assert device["type"] == "file" and Path(device["path"]).name == f"volume-{volume_id}"

    _run(CONTROLLER_SAVES_DEVICE, {"vol": namespace["vol"], "device": device})
    assert cl.Connection.get_by_id(connection_id).path == device["path"]
