"""``storconn volumes`` against a real agent, a real share and a SQLite persistence.

The share is a ``localfs`` directory under the test's tmp_path: the agent
holds it for the backend and for each attachment as it would any share. The
persistence is the ``db`` plugin on a SQLite file, so every command (a new
process or a new CliRunner invocation) sees what the one before stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from storconn.cli.main import app
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess

pytestmark = needs_root

MIB = 1024 * 1024
GIB = 1024 * MIB

runner = CliRunner()


class Shell:
    """One configuration and one agent; ``run`` is a command in this process, ``spawn`` a child process."""

    def __init__(self, tmp_path: Path, agent: AgentProcess) -> None:
        self.share = tmp_path / "share"
        self.share.mkdir()
        self.config = tmp_path / "volumes.toml"
        self.config.write_text(f"""
[persistence]
storage = "db"
connection = "sqlite:///{tmp_path / 'volumes.db'}"
key_file = "{tmp_path / 'volumes.key'}"

[backends.local]
volume_driver = "file"
share = "localfs://{self.share}"
""")
        self.env = {
            "STORCONN_VOLUMES_CONFIG": str(self.config),
            "STORCONN_AGENT_URL": agent.url,
            "STORCONN_TOKEN_FILE": str(agent.state_dir / "token"),
            "COLUMNS": "250",
        }

    def run(self, *args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["volumes", *args], env=self.env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"storconn volumes {' '.join(args)} raised {result.exception!r}")
        return result.exit_code, result.stdout, result.stderr

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, f"storconn volumes {' '.join(args)} → {code}: {err}"
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def spawn(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "storconn.cli.main", "volumes", *args],
                              env={**os.environ, **self.env}, capture_output=True, text=True, timeout=120)


@pytest.fixture
def shell(tmp_path: Path, agent_process: AgentProcess) -> Shell:
    return Shell(tmp_path, agent_process)


def _file_of(shell: Shell, volume_id: str) -> Path:
    return shell.share / f"volume-{volume_id}"


def test_create_list_show_attach_write_detach_snapshot_clone_extend_delete(shell: Shell) -> None:
    volume_id = shell.ok("create", "local", "--size", "1", "--name", "v1", "--description", "first").strip()
    assert _file_of(shell, volume_id).stat().st_size == GIB

    table = shell.ok("list")
    assert volume_id in table and "v1" in table and "1 GiB" in table and "available" in table
    [listed] = shell.json("list")
    assert listed["id"] == volume_id and listed["status"] == "available" and listed["connections"] == []
    assert shell.json("list", "--backend", "local") == [listed]

    shown = shell.json("show", "v1")
    assert shown["id"] == volume_id and shown["description"] == "first"
    assert shown["snapshots"] == [] and shown["connections"] == []

    path = shell.ok("attach", "v1", "--device-type", "file").strip()
    payload = os.urandom(MIB)
    with open(path, "r+b") as device:
        device.write(payload)
    with _file_of(shell, volume_id).open("rb") as backing:
        assert backing.read(MIB) == payload
    [connection] = shell.json("show", volume_id)["connections"]
    assert (connection["device"]["type"], connection["device"]["path"]) == ("file", path)
    assert connection["status"] == "attached" and connection["attach_mode"] == "rw"
    assert "in-use" in shell.ok("list")

    assert "detached" in shell.ok("detach", "v1")
    assert shell.json("show", "v1")["connections"] == []
    assert shell.json("show", "v1")["status"] == "available"

    snapshot_id = shell.ok("snapshot", "v1", "--name", "s1").strip()
    [snap] = shell.json("show", "v1")["snapshots"]
    assert snap["id"] == snapshot_id and snap["name"] == "s1" and snap["status"] == "available"

    clone_id = shell.ok("clone", "v1", "--name", "v1-copy").strip()
    with _file_of(shell, clone_id).open("rb") as copy:
        assert copy.read(MIB) == payload

    assert "2 GiB" in shell.ok("extend", "v1", "--size", "2")
    assert _file_of(shell, volume_id).stat().st_size == 2 * GIB
    assert shell.json("show", "v1")["size"] == 2

    code, _, err = shell.run("delete", "v1")
    assert code == 1 and "snapshots" in err
    shell.ok("snapshot-delete", snapshot_id)
    shell.ok("delete", "v1")
    shell.ok("delete", clone_id)
    assert shell.json("list") == []
    assert not any(shell.share.iterdir())


def test_attach_read_only_records_the_mode_and_a_read_only_loop_device_refuses_writes(shell: Shell) -> None:
    volume_id = shell.ok("create", "local", "--size", "1").strip()
    attached = shell.json("attach", volume_id, "--mode", "ro", "--device-type", "block")
    device = attached["device"]["path"]
    assert attached["device"]["type"] == "block" and device.startswith("/dev/loop")
    [connection] = shell.json("show", volume_id)["connections"]
    assert connection["id"] == attached["connection"] and connection["attach_mode"] == "ro"
    with open(device, "rb") as block:
        assert block.read(4096) == bytes(4096)
    with pytest.raises(OSError):
        with open(device, "r+b") as block:
            block.write(b"x" * 4096)
    shell.ok("detach", volume_id)

    device = shell.ok("attach", volume_id, "--device-type", "block").strip()
    with open(device, "r+b") as block:
        block.write(b"y" * 4096)
    shell.ok("detach", volume_id)
    assert _file_of(shell, volume_id).read_bytes()[:4096] == b"y" * 4096
    shell.ok("delete", volume_id)


def test_bad_input_exits_with_a_message_naming_the_field_and_stores_nothing(shell: Shell, tmp_path: Path) -> None:
    volume_id = shell.ok("create", "local", "--size", "1", "--name", "keep").strip()
    before = shell.json("list")

    code, out, err = shell.run("create", "local", "--size", "0")
    assert (code, out) == (1, "") and err.startswith("error: size: ")
    code, _, err = shell.run("create", "nowhere", "--size", "1")
    assert code == 2 and "BACKEND: 'nowhere' is not a [backends.NAME] table" in err and "local" in err
    code, _, err = shell.run("show", "ghost")
    assert code == 1 and err.startswith("error: VOLUME: no volume has the id or name 'ghost'")
    code, _, err = shell.run("extend", "keep", "--size", "1")
    assert code == 1 and err.startswith("error: size: ") and "not larger" in err
    code, _, err = shell.run("attach", "keep", "--device-type", "tape")
    assert code == 1 and "device_type" in err
    code, _, err = shell.run("attach", "keep", "--mode", "rx")
    assert code == 1 and "attach_mode" in err
    code, _, err = shell.run("detach", "keep")
    assert code == 1 and "not attached on this host" in err
    code, _, err = shell.run("disconnect", "no-such-connection")
    assert code == 1 and "CONNECTION" in err
    code, _, err = shell.run("snapshot-delete", "no-such-snapshot")
    assert code == 1 and "SNAPSHOT" in err
    code, _, err = shell.run("create", "local", "--size", "1", "--agent", "http://127.0.0.1:1")
    assert code == 1 and "cannot reach the agent at http://127.0.0.1:1" in err
    code, _, err = shell.run("clone", "keep", "--agent", "http://127.0.0.1:1")
    assert code == 1 and "cannot reach the agent" in err
    code, _, err = shell.run("create", "local", "--size", "1", "--token-file", str(tmp_path / "no-token"))
    assert code == 1 and f"cannot read the agent's token file {tmp_path / 'no-token'}" in err
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(shell.config.read_text().replace("[backends.local]", "[backends.other]"))
    code, _, err = shell.run("delete", volume_id, "--config", str(elsewhere))
    assert code == 2 and f"{elsewhere}: backends.local: volume {volume_id} is on this backend" in err
    assert shell.json("show", volume_id, "--config", str(elsewhere))["id"] == volume_id
    bad = tmp_path / "bad.toml"
    bad.write_text("[backends.local]\nvolume_driver = 'file'\n")
    code, _, err = shell.run("list", "--config", str(bad))
    assert code == 2 and f"{bad}: backends.local.share: field required" in err

    assert shell.json("list") == before
    assert [p.name for p in shell.share.iterdir()] == [f"volume-{volume_id}"]
    for _, _, err in (shell.run("show", "ghost"), shell.run("create", "local", "--size", "0")):
        assert "Traceback" not in err


def test_a_name_two_volumes_share_needs_an_id(shell: Shell) -> None:
    first = shell.ok("create", "local", "--size", "1", "--name", "twin").strip()
    second = shell.ok("create", "local", "--size", "1", "--name", "twin").strip()
    code, _, err = shell.run("show", "twin")
    assert code == 1 and "2 volumes are named 'twin'" in err and first in err and second in err
    assert shell.json("show", second)["id"] == second


def test_connect_with_a_connector_file_then_disconnect(shell: Shell, tmp_path: Path) -> None:
    volume_id = shell.ok("create", "local", "--size", "1", "--name", "remote").strip()
    connector_file = tmp_path / "node2.json"
    connector = shell.json("connector")
    connector["host"] = "node2"
    connector_file.write_text(json.dumps(connector))

    connected = shell.json("connect", "remote", "--connector-file", str(connector_file))
    conn = connected["connection_info"]["conn"]
    assert conn["driver_volume_type"] == "localfs"
    assert conn["data"]["name"] == f"volume-{volume_id}" and conn["data"]["export"] == str(shell.share)
    assert connected["attached_host"] == "node2" and connected["attach_mode"] == "rw"
    [shown] = shell.json("show", volume_id)["connections"]
    assert shown["id"] == connected["id"] and shown["status"] == "connected" and shown["device"] is None
    assert shell.json("show", volume_id)["status"] == "in-use"

    code, _, err = shell.run("connect", "remote", "--connector-file", str(connector_file), "--host", "node3")
    assert code == 1 and "multiattach" in err
    assert len(shell.json("show", volume_id)["connections"]) == 1

    shell.ok("disconnect", connected["id"])
    assert shell.json("show", volume_id)["connections"] == []
    assert shell.json("show", volume_id)["status"] == "available"


def test_show_and_list_mask_a_connections_chap_secret(
    shell: Shell, tmp_path: Path
) -> None:
    from storconn.volumes.persistence import make_persistence
    from storconn.volumes.records import ConnectionRecord

    volume_id = shell.ok("create", "local", "--size", "1", "--multiattach").strip()
    # A connection as an iSCSI backend stores it (this kernel has no iSCSI
    # initiator to make a real one): the secret sits in conn_info.
    persistence = make_persistence({"storage": "db", "connection": f"sqlite:///{tmp_path / 'volumes.db'}",
                                    "key_file": str(tmp_path / "volumes.key")})
    try:
        persistence.set_connection(ConnectionRecord(
            backend="local", volume_id=volume_id, connector_info={"host": "node9"}, status="connected",
            attached_host="node9",
            conn_info={"driver_volume_type": "iscsi", "data": {
                "target_iqn": "iqn.2026-01.test:v", "target_portal": "127.0.0.1:3260", "target_lun": 1,
                "auth_method": "CHAP", "auth_username": "node9", "auth_password": "s3cret-chap"}},
        ))
    finally:
        persistence.close()
    shown = shell.json("show", volume_id)
    [connection] = shown["connections"]
    assert connection["conn_info"]["data"]["auth_username"] == "node9"
    assert connection["conn_info"]["data"]["auth_password"] == "********"
    for listing in (shell.ok("show", volume_id), shell.ok("list"), shell.ok("list", "--json"), json.dumps(shown)):
        assert "s3cret-chap" not in listing


def test_an_iscsi_backend_connect_json_holds_the_chap_secret_and_nothing_else_shows_it(
    shell: Shell, tmp_path: Path
) -> None:
    from tests.peers.tgt import BareTgtd, available

    reason = available()
    if reason:
        pytest.skip(reason)
    tgtd = BareTgtd(tmp_path / "tgt")
    tgtd.start()
    try:
        config = shell.config.read_text() + f"""
[backends.tgt]
volume_driver = "iscsi"
share = "localfs://{shell.share}"
target_ip_address = "127.0.0.1"
target_port = {tgtd.port}
tgt_control_port = {tgtd.control}
target_prefix = "iqn.2026-01.test.storconn:"
use_chap_auth = true
"""
        shell.config.write_text(config)
        volume_id = shell.ok("create", "tgt", "--size", "1", "--name", "lun").strip()
        connector = {**shell.json("connector"), "host": "node2", "initiator": "iqn.2026-01.test.storconn:node2"}
        connector_file = tmp_path / "node2.json"
        connector_file.write_text(json.dumps(connector))

        connected = shell.json("connect", "lun", "--connector-file", str(connector_file))
        data = connected["connection_info"]["conn"]["data"]
        assert connected["connection_info"]["conn"]["driver_volume_type"] == "iscsi"
        assert data["target_portal"] == f"127.0.0.1:{tgtd.port}" and data["auth_method"] == "CHAP"
        secret = data["auth_password"]
        assert secret and secret != "********"
        assert f"volume-{volume_id}" in tgtd.tgtadm("--mode", "target", "--op", "show").stdout

        shown = shell.json("show", "lun")
        assert shown["connections"][0]["conn_info"]["data"]["auth_password"] == "********"
        for output in (json.dumps(shown), shell.ok("show", "lun"), shell.ok("list"), shell.ok("list", "--json"),
                       shell.ok("backends"), shell.ok("connect", "--help")):
            assert secret not in output
        code, out, err = shell.run("connect", "lun", "--connector-file", str(connector_file), "--host", "node3")
        assert code == 1 and "multiattach" in err and secret not in out + err

        shell.ok("disconnect", connected["id"])
        assert f"volume-{volume_id}" not in tgtd.tgtadm("--mode", "target", "--op", "show").stdout
        shell.ok("delete", "lun")
    finally:
        tgtd.stop()


def test_multiattach_takes_a_connection_per_node(shell: Shell, tmp_path: Path) -> None:
    volume_id = shell.ok("create", "local", "--size", "1", "--multiattach").strip()
    connector_file = tmp_path / "node.json"
    connector_file.write_text(json.dumps(shell.json("connector")))
    ids = [shell.ok("connect", volume_id, "--connector-file", str(connector_file), "--host", host).strip()
           for host in ("node2", "node3")]
    listed = shell.json("show", volume_id)["connections"]
    assert sorted(c["id"] for c in listed) == sorted(ids)
    assert {c["attached_host"] for c in listed} == {"node2", "node3"}
    assert "2" in shell.ok("list").split(volume_id)[1].splitlines()[0]
    for connection_id in ids:
        shell.ok("disconnect", connection_id)


def test_the_persistence_flag_and_variable_choose_another_database(shell: Shell, tmp_path: Path) -> None:
    shell.ok("create", "local", "--size", "1")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert shell.json("list", "--persistence", other) == []
    shell.env["STORCONN_VOLUMES_DB"] = other
    assert shell.json("list") == []
    del shell.env["STORCONN_VOLUMES_DB"]
    assert len(shell.json("list")) == 1


def test_cleanup_removes_what_a_crashed_create_left_and_prints_it(shell: Shell, tmp_path: Path) -> None:
    from storconn.volumes.persistence import make_persistence
    from storconn.volumes.records import VolumeRecord

    kept = shell.ok("create", "local", "--size", "1").strip()
    assert "nothing to clean up" in shell.ok("cleanup")
    # What a create killed between its record and its file leaves: a record in 'creating'.
    persistence = make_persistence({"storage": "db", "connection": f"sqlite:///{tmp_path / 'volumes.db'}",
                                    "key_file": str(tmp_path / "volumes.key")})
    crashed = VolumeRecord(backend="local", size=1, name="crashed")
    try:
        persistence.set_volume(crashed)
    finally:
        persistence.close()
    assert crashed.id in shell.ok("list")

    report = shell.ok("cleanup")
    assert f"volumes removed: {crashed.id}" in report
    assert [v["id"] for v in shell.json("list")] == [kept]
    again = shell.json("cleanup")
    assert again["errors"] == [] and again["volumes_removed"] == []


def test_cleanup_detaches_an_attachment_the_database_does_not_know_only_when_asked(
    shell: Shell, agent_process: AgentProcess, tmp_path: Path
) -> None:
    volume_id = shell.ok("create", "local", "--size", "1").strip()
    attached = shell.json("attach", volume_id)
    # Another database's view: the attachment on this host is not its own.
    shell.env["STORCONN_VOLUMES_DB"] = f"sqlite:///{tmp_path / 'other.db'}"
    assert shell.json("cleanup", "--no-host-side")["attachments_detached"] == []
    with agent_process.client() as client:
        assert attached["connection"] in client.call("Volumes.list", {})
    report = shell.json("cleanup")
    assert report["attachments_detached"] == [attached["connection"]]
    with agent_process.client() as client:
        assert attached["connection"] not in client.call("Volumes.list", {})


def test_one_end_to_end_run_in_child_processes(shell: Shell) -> None:
    created = shell.spawn("create", "local", "--size", "1", "--name", "e2e")
    assert created.returncode == 0, created.stderr
    volume_id = created.stdout.strip()
    attached = shell.spawn("attach", "e2e")
    assert attached.returncode == 0, attached.stderr
    path = attached.stdout.strip()
    with open(path, "r+b") as device:
        device.write(b"storconn" * 1024)
    assert _file_of(shell, volume_id).read_bytes()[:8] == b"storconn"
    listed = shell.spawn("list", "--json")
    assert json.loads(listed.stdout)[0]["connections"], listed.stderr
    for step in (("detach", "e2e"), ("delete", "e2e")):
        done = shell.spawn(*step)
        assert done.returncode == 0, done.stderr
    missing = shell.spawn("show", "e2e")
    assert missing.returncode == 1 and missing.stderr.startswith("error: VOLUME: ")
    assert "Traceback" not in missing.stderr
