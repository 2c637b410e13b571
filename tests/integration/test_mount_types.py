"""Issue 7, defects 1 and 2 over JSON-RPC: a real agent refuses code execution and host paths by mount type, spec and options.

Each acquire is answered 1000 before anything is stored, so nothing is
mounted, nothing runs, and no reference is kept; the agent keeps serving.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.peers.agent import AgentProcess


def _acquire(agent: AgentProcess, refs: dict[str, Any]) -> dict[str, Any]:
    token = (agent.state_dir / "token").read_text().strip()
    body = {"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire", "params": {"conRefArgs": refs}}
    answer = httpx.post(f"{agent.url}/jsonrpc", content=json.dumps(body), timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            mountpoint = line.split()[4].replace("\\040", " ")
            if mountpoint.startswith(prefix):
                found.append(mountpoint)
    return found


def _posixfs(spec: str, vfs_type: str, options: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"spec": spec, "vfsType": vfs_type}
    if options is not None:
        params["options"] = options
    return {"type": "posixfs", "params": params}


def test_a_fuse_program_type_is_refused_and_never_runs(agent_process: AgentProcess, tmp_path: Path) -> None:
    """Defect 1: vfsType fuse.awk made mount.fuse run the caller's awk program as root."""
    pwned = tmp_path / f"pwned-{uuid.uuid4().hex}"
    program = f'BEGIN{{system("id>{pwned}")}}'
    refs = {
        "awk": _posixfs(program, "fuse.awk"),
        "hash": _posixfs(f"awk#{program}", "fuse"),
        "blk": _posixfs(program, "fuseblk"),
    }
    assert _acquire(agent_process, refs) == {"awk": 1000, "hash": 1000, "blk": 1000}
    time.sleep(1.0)  # several reconciler ticks (--period 0.2)
    assert not pwned.exists()
    with agent_process.client() as client:
        assert not [ref for ref in client.statuses() if not ref.startswith("unmanaged:")]
    assert _mounts_under(agent_process.mount_root) == []


@pytest.mark.parametrize(
    "info",
    [
        _posixfs("/etc", "none", "bind"),
        _posixfs("/", "tmpfs", "rbind"),
        _posixfs("/etc", "tmpfs", "bind"),
        _posixfs("../../../../../../../etc", "ext4", "bind"),
        _posixfs("../../../../../../../etc", "ext4", "loop"),
        _posixfs("scratch", "tmpfs", "X-mount.mkdir=0755"),
        _posixfs("filer:/export", "nfs", "hard,nolock,vers=3"),
        {"type": "glusterfs", "params": {"spec": "g1:/vol", "options": "log-file=OWNED"}},
        _posixfs("root@127.0.0.1:/", "fuse.sshfs", "UserKnownHostsFile=OWNED"),
    ],
    ids=["none-bind", "tmpfs-rbind-root", "tmpfs-bind", "relative-bind", "relative-loop", "x-mount",
         "posixfs-nfs", "gluster-log-file", "ssh-known-hosts"],
)
def test_host_paths_and_helper_files_are_refused(
    agent_process: AgentProcess, info: dict[str, Any], tmp_path: Path
) -> None:
    """Defect 2: these mounted host paths under the mount root or made a helper write a file as root."""
    owned = tmp_path / "owned"  # where a helper would write, had the options been taken
    info = json.loads(json.dumps(info).replace("OWNED", str(owned)))
    assert _acquire(agent_process, {"escape": info}) == {"escape": 1000}
    time.sleep(0.5)
    assert _mounts_under(agent_process.mount_root) == []
    assert not owned.exists()
    with agent_process.client() as client:
        assert "escape" not in client.statuses()


def _root_device() -> tuple[str, str] | None:
    """(``/dev`` path, fstype) of the block device behind ``/``, or None when ``/`` is not on one."""
    device = os.stat("/").st_dev
    name_file = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/uevent")
    try:
        fields = dict(line.split("=", 1) for line in name_file.read_text().splitlines() if "=" in line)
    except OSError:
        return None
    node = Path("/dev") / fields.get("DEVNAME", "")
    if not fields.get("DEVNAME") or not node.is_block_device():
        return None
    with open("/proc/self/mountinfo") as table:
        for line in table:
            parts = line.split()
            if parts[4] == "/":
                return str(node), parts[parts.index("-", 6) + 1]
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the agent mounts")
def test_the_hosts_own_root_device_is_never_mounted_again(agent_process: AgentProcess) -> None:
    """A sibling of defect 2: /dev/vda (or LABEL= of it) would show the host's root under the mount root."""
    found = _root_device()
    if found is None:
        pytest.skip("/ is not on a block device here (overlay or tmpfs root): nothing to mount twice")
    node, fstype = found
    assert _acquire(agent_process, {"root": _posixfs(node, fstype)}) == {"root": 0}
    token = (agent_process.state_dir / "token").read_text().strip()
    body = {"jsonrpc": "2.0", "id": 2, "method": "ConnectionRefs.wait",
            "params": {"refIDs": ["root"], "timeout": 10}}
    answer = httpx.post(f"{agent_process.url}/jsonrpc", content=json.dumps(body), timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                        ).json()["result"]["root"]
    assert not answer["connected"]
    assert answer["lastError"][0] == 469, answer
    assert "host" in answer["lastError"][1]
    assert _mounts_under(agent_process.mount_root) == []
