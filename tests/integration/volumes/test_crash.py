"""A controller killed at any step of a volume's life leaves nothing behind after ``cleanup()``.

The child process runs the whole local life of a volume — create, attach
as a block device, detach, delete — with ``STORCONN_VOLUMES_CRASH_AT`` set,
so it dies (``os._exit``, like a SIGKILL) at that step. Then this process
opens the same database, runs ``cleanup()``, and checks: no row in a
transitional state, no connection, no attachment or ``volumes:`` reference
on the agent, no loop device over the share, and the share holds no file
but those of volumes that still exist (and those are ``available``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import storconn.volumes as cl
from storconn.volumes.faults import STEPS
from tests.peers.mounts import eventually

from .conftest import Library

LIFE = """
import storconn.volumes as cl
cl.setup(persistence_config={"storage": "db", "connection": DB})
backend = cl.Backend("crash", volume_driver="file", share=SHARE)
volume = backend.create_volume(size=1)
volume.attach(device_type="block")
volume.detach()
volume.delete()
print("lived")
"""


def _loops_over(directory: Path) -> list[str]:
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if backing.read_text().strip().startswith(str(directory)):
                found.append(backing.parent.parent.name)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("step", STEPS)
def test_nothing_leaks_after_a_crash_at(step: str, library: Library, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/volumes.db"
    env = {
        **os.environ,
        "STORCONN_VOLUMES_CRASH_AT": step,
        "STORCONN_AGENT_URL": library.agent.url,
        "STORCONN_TOKEN_FILE": str(library.agent.state_dir / "token"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    prelude = f"DB = {database!r}\nSHARE = {library.share_uri!r}\n"
    child = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(LIFE)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert child.returncode == 137, f"did not die at {step}: {child.stdout} {child.stderr[-2000:]}"

    cl.setup(persistence_config={"storage": "db", "connection": database})
    cl.Backend("crash", volume_driver="file", share=library.share_uri)
    report = cl.cleanup()
    assert report.errors == []

    persistence = cl.Backend.persistence
    assert persistence.get_connections() == []
    volumes = persistence.get_volumes()
    assert all(v.status == "available" for v in volumes), [(v.id, v.status) for v in volumes]
    agent = library.agent.client()
    assert agent.call("Volumes.list", {}) == {}
    assert [r for r in agent.statuses() if r.startswith("volumes:")] == []
    assert _loops_over(library.share_dir) == []
    assert sorted(os.listdir(library.share_dir)) == sorted(f"volume-{v.id}" for v in volumes)
    # cleanup() is idempotent: a second run finds nothing to do.
    again = cl.cleanup()
    assert again.connections_undone == again.attachments_detached == again.volumes_removed == []
    for volume in volumes:
        cl.Volume.get_by_id(volume.id).delete()
    eventually(lambda: os.listdir(library.share_dir) == [])
