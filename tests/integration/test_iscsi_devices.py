"""``Iscsi.devices`` through a real agent: read-only, validated, empty where the kernel has no initiator."""

from __future__ import annotations

import pytest

from storconn.agent.client import AgentRpcError
from storconn.agent.system import iscsi_sysfs
from tests.peers.agent import AgentProcess


def test_devices_lists_the_sessions_disks(agent_process: AgentProcess) -> None:
    with agent_process.client() as client:
        found = client.iscsi_devices()
    if not iscsi_sysfs.kernel_has_initiator():
        print("no iscsi_tcp in this kernel: no sessions, so no disks; the listing is tested on a fake sysfs "
              "(tests/unit/agent/test_iscsi_luns.py)")
        assert found == []
    else:
        assert all(set(lun) >= {"lunID", "device", "lun", "size", "target"} for lun in found)


@pytest.mark.parametrize("params", [{"refIDs": []}, {"all": True}])
def test_devices_takes_no_params(agent_process: AgentProcess, params: dict[str, object]) -> None:
    with agent_process.client() as client, pytest.raises(AgentRpcError) as raised:
        client.call("Iscsi.devices", params)
    assert raised.value.rpc_code == -32602
