"""The iscsi driver and its tgtd client against a real tgtd on loopback, checked with libiscsi.

Every test starts its own tgtd with no targets (private portal and control
ports); the driver makes the targets, LUNs, ACLs and CHAP accounts, and
libiscsi's tools (``iscsi-readcapacity16``, ``iscsi-inq``, ``iscsi-ls``) log
in as a host would, with the initiator name a connector would carry.

The volume files live in a local directory (``DirFiles``, the FileStore's
interface); the FileStore itself mounts a share through the agent and is
tested with the file driver.

CHAP secrets reach libiscsi through LIBISCSI_CHAP_USERNAME/PASSWORD in the
environment of the test's own tools, never on their command lines.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.connection import InvalidParameter
from storconn.volumes.drivers import parse_share
from storconn.volumes.drivers.iscsi import IscsiDriver, parse_provider_auth
from storconn.volumes.drivers.tgt import TgtClient, TgtError, parse_show
from storconn.volumes.errors import InvalidVolume
from storconn.volumes.records import SnapshotRecord, VolumeRecord
from tests.conftest import needs_root
from tests.integration.test_secrets_cmdline import CmdlineWatch
from tests.peers.tgt import BareTgtd, available

pytestmark = needs_root

GIB = 2**30
HOST_A = "iqn.2026-01.test.storconn:host-a"
HOST_B = "iqn.2026-01.test.storconn:host-b"
HOST_C = "iqn.2026-01.test.storconn:host-c"
SHARE = parse_share("localfs:///srv/volumes")


class DirFiles:
    """The FileStore's interface on a local directory: sparse raw files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.closed = False
        self.released = False

    def do_setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, name: str) -> Path:
        return self.root / name

    def create(self, name: str, size_gib: int, fmt: str = "raw") -> None:
        assert fmt == "raw"
        with self.path_of(name).open("wb") as f:
            f.truncate(size_gib * GIB)

    def delete(self, name: str) -> None:
        self.path_of(name).unlink(missing_ok=True)

    def extend(self, name: str, size_gib: int, fmt: str = "raw") -> None:
        os.truncate(self.path_of(name), size_gib * GIB)

    def clone(self, source: str, target: str) -> str:
        subprocess.run(["cp", "--sparse=always", str(self.path_of(source)),
                        str(self.path_of(target))], check=True, timeout=60)
        return "copy"

    def stats(self) -> dict[str, Any]:
        st = os.statvfs(self.root)
        return {"total_capacity_gb": st.f_blocks * st.f_frsize / GIB,
                "free_capacity_gb": st.f_bavail * st.f_frsize / GIB}

    def close(self, *, release: bool = False) -> None:
        self.closed = True
        self.released = release


@pytest.fixture
def tgtd(tmp_path: Path) -> Iterator[BareTgtd]:
    reason = available()
    if reason:
        pytest.skip(reason)
    server = BareTgtd(tmp_path / "tgt")
    server.start()
    yield server
    server.stop()


def make_driver(tgtd: BareTgtd, tmp_path: Path, **config: Any) -> IscsiDriver:
    settings: dict[str, Any] = {
        "target_port": tgtd.port,
        "tgt_control_port": tgtd.control,
        "target_prefix": "iqn.2026-01.test.storconn:",
    }
    settings.update(config)
    driver = IscsiDriver(
        "gl1", parse_share(f"localfs://{tmp_path / 'share'}"), None,
        files=DirFiles(tmp_path / "share"), **settings,
    )
    driver.do_setup()
    return driver


def new_volume(driver: IscsiDriver, size: int = 1) -> VolumeRecord:
    volume = VolumeRecord(backend="gl1", size=size)
    driver.create_volume(volume)
    return volume


def libiscsi(tool: str, conn_info: dict[str, Any], initiator: str, *, index: int = 0,
             password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a libiscsi tool on one path of ``conn_info`` as ``initiator``."""
    data = conn_info["data"]
    portal = data.get("target_portals", [data["target_portal"]])[index]
    iqn = data.get("target_iqns", [data["target_iqn"]])[index]
    lun = data.get("target_luns", [data["target_lun"]])[index]
    env = {"PATH": os.environ["PATH"]}
    if data.get("auth_method") == "CHAP":
        env["LIBISCSI_CHAP_USERNAME"] = data["auth_username"]
        env["LIBISCSI_CHAP_PASSWORD"] = password or data["auth_password"]
    return subprocess.run(
        [tool, "-i", initiator, f"iscsi://{portal}/{iqn}/{lun}"],
        capture_output=True, text=True, timeout=30, check=False, env=env,
    )


def capacity(conn_info: dict[str, Any], initiator: str, **kw: Any) -> int:
    done = libiscsi("iscsi-readcapacity16", conn_info, initiator, **kw)
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("Total size:")]
    return int(line.split(":")[1])


# -- the client against tgtd ------------------------------------------------------------


def test_the_client_builds_what_tgtadm_then_shows(tgtd: BareTgtd, tmp_path: Path) -> None:
    client = TgtClient(tgtd.control)
    image = tmp_path / "lun.img"
    with image.open("wb") as f:
        f.truncate(64 * 2**20)
    client.new_target(1, "iqn.2026-01.test.storconn:client")
    client.new_lun(1, 1, str(image))
    client.new_lun(1, 2, str(image), readonly=True)
    client.bind_initiator(1, HOST_A)
    client.bind_address(1, "127.0.0.2")
    client.new_account("client-user", "Password0123456789")
    client.bind_account(1, "client-user")

    shown = tgtd.tgtadm("--mode", "target", "--op", "show").stdout
    assert client.show_targets() == parse_show(shown)
    (target,) = parse_show(shown)
    assert target.iqn == "iqn.2026-01.test.storconn:client"
    assert target.luns[1].path == str(image) and not target.luns[1].readonly
    assert target.luns[2].readonly and target.luns[2].online and target.luns[2].size_mb == 67
    assert target.acl_names == [HOST_A] and target.acl_addresses == ["127.0.0.2"]
    assert target.accounts == ["client-user"]
    accounts = tgtd.tgtadm("--mode", "account", "--op", "show").stdout
    assert client.show_accounts() == ["client-user"] and "client-user" in accounts

    client.unbind_initiator(1, HOST_A)
    client.unbind_address(1, "127.0.0.2")
    client.unbind_account(1, "client-user")
    client.delete_lun(1, 2)
    (target,) = client.show_targets()
    assert (target.acl_names, target.acl_addresses, target.accounts) == ([], [], [])
    assert sorted(target.luns) == [0, 1]
    client.delete_account("client-user")
    assert client.show_accounts() == []
    client.delete_target(1)
    assert client.show_targets() == []


def test_tgtds_refusals_carry_its_error(tgtd: BareTgtd) -> None:
    client = TgtClient(tgtd.control)
    client.new_target(1, "iqn.2026-01.test.storconn:dup")
    with pytest.raises(TgtError, match="this target already exists") as caught:
        client.new_target(1, "iqn.2026-01.test.storconn:other")
    assert caught.value.err == 9
    with pytest.raises(TgtError, match="can't find the logical unit"):
        client.delete_lun(1, 5)


def test_a_grown_file_is_seen_after_a_size_reread(tgtd: BareTgtd, tmp_path: Path) -> None:
    client = TgtClient(tgtd.control)
    image = tmp_path / "grow.img"
    with image.open("wb") as f:
        f.truncate(64 * 2**20)
    client.new_target(1, "iqn.2026-01.test.storconn:grow")
    client.new_lun(1, 1, str(image))
    client.bind_initiator(1, HOST_A)
    info = {"data": {"target_portal": tgtd.portal, "target_iqn": "iqn.2026-01.test.storconn:grow",
                     "target_lun": 1}}
    assert capacity(info, HOST_A) == 64 * 2**20
    os.truncate(image, 128 * 2**20)
    client.reread_lun_size(1, 1, str(image))
    assert capacity(info, HOST_A) == 128 * 2**20


# -- the driver --------------------------------------------------------------------------


def test_an_export_is_seen_by_its_initiator_with_the_right_size(
    tgtd: BareTgtd, tmp_path: Path
) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver, size=1)
    driver.create_export(volume)
    conn_info = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")

    data = conn_info["data"]
    assert conn_info["driver_volume_type"] == "iscsi"
    assert data["target_portal"] == tgtd.portal
    assert data["target_iqn"] == "iqn.2026-01.test.storconn:gl1"
    assert data["target_lun"] == volume.extra["target_lun"] == 1
    assert data["volume_id"] == volume.id and data["access_mode"] == "rw"
    assert "auth_method" not in data
    assert capacity(conn_info, HOST_A) == GIB
    inquiry = libiscsi("iscsi-inq", conn_info, HOST_A)
    assert inquiry.returncode == 0 and "VIRTUAL-DISK" in inquiry.stdout, inquiry.stdout


def test_another_initiator_name_is_refused(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver)
    driver.create_export(volume)
    conn_info = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")
    refused = libiscsi("iscsi-readcapacity16", conn_info, HOST_B)
    assert refused.returncode != 0
    assert "Target not found" in refused.stdout + refused.stderr


def test_volumes_of_a_backend_share_one_target_with_their_own_luns(
    tgtd: BareTgtd, tmp_path: Path
) -> None:
    driver = make_driver(tgtd, tmp_path)
    first, second = new_volume(driver, 1), new_volume(driver, 2)
    driver.create_export(first)
    driver.create_export(second)
    driver.create_export(second)  # idempotent: the same LUN, no second one
    a = driver.initialize_connection(first, {"initiator": HOST_A}, access_mode="rw")
    b = driver.initialize_connection(second, {"initiator": HOST_A}, access_mode="rw")
    assert a["data"]["target_iqn"] == b["data"]["target_iqn"]
    assert (a["data"]["target_lun"], b["data"]["target_lun"]) == (1, 2)
    assert capacity(a, HOST_A) == GIB and capacity(b, HOST_A) == 2 * GIB
    (target,) = TgtClient(tgtd.control).show_targets()
    assert sorted(target.luns) == [0, 1, 2] and target.acl_names == [HOST_A]


def test_an_initiators_acl_goes_only_when_the_backend_says_it_is_done(
    tgtd: BareTgtd, tmp_path: Path
) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver)
    driver.create_export(volume)
    conn_info = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")
    driver.terminate_connection(volume, {"initiator": HOST_A}, initiator_done=False)
    assert capacity(conn_info, HOST_A) == GIB
    driver.terminate_connection(volume, {"initiator": HOST_A}, initiator_done=True)
    driver.terminate_connection(volume, {"initiator": HOST_A}, initiator_done=True)  # idempotent
    refused = libiscsi("iscsi-readcapacity16", conn_info, HOST_A)
    assert refused.returncode != 0 and "Target not found" in refused.stdout + refused.stderr


def test_chap_lets_the_right_secret_in_and_refuses_a_wrong_one(
    tgtd: BareTgtd, tmp_path: Path
) -> None:
    driver = make_driver(tgtd, tmp_path, use_chap_auth=True)
    volume = new_volume(driver)
    assert volume.provider_auth is not None
    user, password = parse_provider_auth(volume.provider_auth)
    driver.create_export(volume)
    conn_info = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")
    data = conn_info["data"]
    assert (data["auth_method"], data["auth_username"], data["auth_password"]) == (
        "CHAP", user, password)
    assert capacity(conn_info, HOST_A) == GIB
    wrong = libiscsi("iscsi-readcapacity16", conn_info, HOST_A, password="Wrong0123456789xyz")
    assert wrong.returncode != 0 and "Authentication failure" in wrong.stdout + wrong.stderr
    no_chap = {"data": {k: v for k, v in data.items() if not k.startswith("auth_")}}
    missing = libiscsi("iscsi-readcapacity16", no_chap, HOST_A)
    assert missing.returncode != 0


def test_every_volume_of_a_chap_backend_shares_its_account(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path, use_chap_auth=True)
    first, second = new_volume(driver), new_volume(driver)
    assert first.provider_auth == second.provider_auth
    # A new controller process learns the account from the first record it is handed.
    again = make_driver(tgtd, tmp_path, use_chap_auth=True)
    again.create_export(first)
    third = new_volume(again)
    assert third.provider_auth == first.provider_auth
    assert TgtClient(tgtd.control).show_accounts() == [parse_provider_auth(first.provider_auth or "")[0]]


def test_an_extend_is_seen_by_the_initiator(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver, 1)
    driver.create_export(volume)
    conn_info = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")
    assert capacity(conn_info, HOST_A) == GIB
    driver.extend_volume(volume, 3)
    assert capacity(conn_info, HOST_A) == 3 * GIB


def test_remove_export_takes_the_lun_away(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path)
    keep, gone = new_volume(driver), new_volume(driver)
    for volume in (keep, gone):
        driver.create_export(volume)
    kept = driver.initialize_connection(keep, {"initiator": HOST_A}, access_mode="rw")
    removed = driver.initialize_connection(gone, {"initiator": HOST_A}, access_mode="rw")
    driver.remove_export(gone)
    driver.remove_export(gone)  # idempotent
    assert libiscsi("iscsi-readcapacity16", removed, HOST_A).returncode != 0
    assert capacity(kept, HOST_A) == GIB
    (target,) = TgtClient(tgtd.control).show_targets()
    assert sorted(target.luns) == [0, 1]
    assert "target_lun" not in gone.extra


def test_a_volume_tgtd_exports_is_not_deleted(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver)
    driver.create_export(volume)
    with pytest.raises(InvalidVolume, match="still exported"):
        driver.delete_volume(volume)
    assert (tmp_path / "share" / f"volume-{volume.id}").exists()
    driver.remove_export(volume)
    driver.delete_volume(volume)
    assert not (tmp_path / "share" / f"volume-{volume.id}").exists()
    driver.delete_volume(volume)  # already gone: fine


def test_a_target_per_volume_lives_and_goes_with_its_export(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path, shared_targets=False, use_chap_auth=True)
    first, second = new_volume(driver), new_volume(driver)
    driver.create_export(first)
    driver.create_export(second)
    a = driver.initialize_connection(first, {"initiator": HOST_A}, access_mode="rw")
    b = driver.initialize_connection(second, {"initiator": HOST_A}, access_mode="ro")
    assert a["data"]["target_iqn"] == f"iqn.2026-01.test.storconn:volume-{first.id}"
    assert b["data"]["target_iqn"] == f"iqn.2026-01.test.storconn:volume-{second.id}"
    assert a["data"]["target_lun"] == b["data"]["target_lun"] == 1
    assert b["data"]["access_mode"] == "ro"
    assert capacity(a, HOST_A) == GIB and capacity(b, HOST_A) == GIB
    driver.remove_export(first)
    assert [t.iqn for t in TgtClient(tgtd.control).show_targets()] == [b["data"]["target_iqn"]]


def test_multipath_lists_every_portal_and_each_one_answers(tgtd: BareTgtd, tmp_path: Path) -> None:
    tgtd.tgtadm("--mode", "portal", "--op", "new", "--param", f"portal=127.0.0.2:{tgtd.port}")
    driver = make_driver(tgtd, tmp_path, target_secondary_ip_addresses=["127.0.0.2"])
    volume = new_volume(driver)
    driver.create_export(volume)
    single = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")
    assert "target_portals" not in single["data"]
    multi = driver.initialize_connection(
        volume, {"initiator": HOST_A, "multipath": True}, access_mode="rw")
    data = multi["data"]
    assert data["target_portals"] == [tgtd.portal, f"127.0.0.2:{tgtd.port}"]
    assert data["target_iqns"] == [data["target_iqn"]] * 2 and data["target_luns"] == [1, 1]
    assert capacity(multi, HOST_A, index=0) == GIB
    assert capacity(multi, HOST_A, index=1) == GIB


def test_a_restarted_tgtd_gets_exports_acls_and_chap_back(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path, use_chap_auth=True)
    first, second = new_volume(driver, 1), new_volume(driver, 2)
    for volume in (first, second):
        driver.create_export(volume)
    a = driver.initialize_connection(first, {"initiator": HOST_A}, access_mode="rw")
    driver.remove_export(first)  # LUN 1 free now: the rebuild must not hand it to `second`
    driver.create_export(first)
    a = driver.initialize_connection(first, {"initiator": HOST_A}, access_mode="rw")
    b = driver.initialize_connection(second, {"initiator": HOST_B}, access_mode="rw")
    assert (a["data"]["target_lun"], b["data"]["target_lun"]) == (1, 2)

    tgtd.kill()
    tgtd.start()
    assert TgtClient(tgtd.control).show_targets() == []
    # A new controller process: it knows only the stored records.
    rebuilt = make_driver(tgtd, tmp_path, use_chap_auth=True)
    stored = [v.copy() for v in (second, first)]
    assert rebuilt.missing_exports(stored) == [second.id, first.id]
    rebuilt.ensure_exports(stored, {first.id: [HOST_A], second.id: [HOST_B]})
    assert rebuilt.missing_exports(stored) == []

    assert capacity(a, HOST_A) == GIB
    assert capacity(b, HOST_B) == 2 * GIB
    # ACLs as they were: host C was never bound. (A and B both see every LUN of the
    # shared target: its ACL is per target, as with Cinder's shared targets.)
    assert libiscsi("iscsi-readcapacity16", b, HOST_C).returncode != 0
    assert libiscsi("iscsi-readcapacity16", a, HOST_A, password="Wrong0123456789xyz").returncode != 0


def test_no_driver_call_puts_the_chap_password_on_a_command_line_or_in_a_log(
    tgtd: BareTgtd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="storconn")
    with CmdlineWatch() as watch:
        driver = make_driver(tgtd, tmp_path, use_chap_auth=True, shared_targets=False)
        volume = new_volume(driver)
        driver.create_export(volume)
        conn_info = driver.initialize_connection(volume, {"initiator": HOST_A}, access_mode="rw")
        driver.extend_volume(volume, 2)
        driver.terminate_connection(volume, {"initiator": HOST_A}, initiator_done=True)
        driver.remove_export(volume)
        driver.create_export(volume)
        seen = watch.wait_for("tgtd", f"portal=127.0.0.1:{tgtd.port}", timeout=5)
    password = conn_info["data"]["auth_password"]
    assert seen, "the watcher saw no process at all"
    assert not watch.containing(password)
    assert "exported volume" in caplog.text  # the driver did log
    assert password not in caplog.text and password not in repr(driver)


def test_a_connector_without_an_initiator_is_refused(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver)
    driver.create_export(volume)
    before = TgtClient(tgtd.control).show_targets()
    with pytest.raises(InvalidParameter) as caught:
        driver.initialize_connection(volume, {"host": "node1"}, access_mode="rw")
    assert caught.value.field == "connector_info.initiator"
    with pytest.raises(InvalidParameter) as caught:
        driver.initialize_connection(
            volume, {"initiator": "iqn.x:a,initiator-address=ALL"}, access_mode="rw")
    assert caught.value.field == "connector_info.initiator"
    assert TgtClient(tgtd.control).show_targets() == before


def test_snapshots_and_clones_are_files_beside_the_volume(tgtd: BareTgtd, tmp_path: Path) -> None:
    driver = make_driver(tgtd, tmp_path)
    volume = new_volume(driver, 1)
    with (tmp_path / "share" / f"volume-{volume.id}").open("r+b") as f:
        f.write(b"data")
    snapshot = SnapshotRecord(backend="gl1", volume_id=volume.id, volume_size=1)
    driver.create_snapshot(snapshot, volume)
    assert snapshot.provider_location == f"snapshot-{snapshot.id}"
    clone = VolumeRecord(backend="gl1", size=2)
    driver.create_volume_from_snapshot(clone, snapshot)
    path = tmp_path / "share" / f"volume-{clone.id}"
    with path.open("rb") as f:
        assert f.read(4) == b"data"
    assert path.stat().st_size == 2 * GIB
    driver.delete_snapshot(snapshot)
    assert not (tmp_path / "share" / f"snapshot-{snapshot.id}").exists()


def test_concurrent_exports_from_two_controllers_get_distinct_luns(
    tgtd: BareTgtd, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # Two drivers on one tgtd stand for two controller processes: their locks
    # do not see each other, only tgtd's "already exists" does.
    drivers = [make_driver(tgtd, tmp_path), make_driver(tgtd, tmp_path)]
    volumes = [new_volume(drivers[0]) for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: drivers[i % 2].create_export(volumes[i]), range(16)))
    (target,) = TgtClient(tgtd.control).show_targets()
    assert sorted(target.luns) == list(range(17))
    for volume in volumes:
        path = str(tmp_path / "share" / f"volume-{volume.id}")
        assert target.lun_of(path) == volume.extra["target_lun"]


def test_a_hung_tgtd_costs_one_timeout_and_a_clear_error(tgtd: BareTgtd, tmp_path: Path) -> None:
    import time

    from storconn.volumes.errors import BackendError

    driver = make_driver(tgtd, tmp_path, tgt_timeout=0.5)
    volume = new_volume(driver)
    tgtd.pause()
    try:
        started = time.monotonic()
        with pytest.raises(BackendError, match="no answer within 0.5 s"):
            driver.create_export(volume)
        assert time.monotonic() - started < 3
    finally:
        tgtd.resume()
    driver.create_export(volume)
    assert volume.extra["target_lun"] == 1


# -- through the public API (the Backend owns the lifecycle) -------------------------------


def iscsi_backend(library: Any, tgtd: BareTgtd, name: str = "isc", **config: Any) -> Any:
    return library.backend(
        name, volume_driver="iscsi", target_port=tgtd.port, tgt_control_port=tgtd.control,
        target_prefix="iqn.2026-01.test.storconn:", **config,
    )


def test_the_export_lives_exactly_as_long_as_its_last_connection(
    library: Any, tgtd: BareTgtd
) -> None:
    backend = iscsi_backend(library, tgtd, use_chap_auth=True)
    volume = backend.create_volume(size=1, multiattach=True)
    on_a = volume.connect({"initiator": HOST_A, "host": "a"}, attached_host="a")
    on_b = volume.connect({"initiator": HOST_B, "host": "b"}, attached_host="b")
    assert capacity(on_a.conn_info, HOST_A) == GIB
    assert capacity(on_b.conn_info, HOST_B) == GIB
    volume.extend(2)
    assert capacity(on_a.conn_info, HOST_A) == 2 * GIB

    on_a.disconnect()
    # A's ACL went with its last connection; the export stays for B.
    assert libiscsi("iscsi-readcapacity16", on_b.conn_info, HOST_A).returncode != 0
    assert capacity(on_b.conn_info, HOST_B) == 2 * GIB

    conn_info = on_b.conn_info
    on_b.disconnect()
    assert libiscsi("iscsi-readcapacity16", conn_info, HOST_B).returncode != 0
    (target,) = TgtClient(tgtd.control).show_targets()
    assert sorted(target.luns) == [0] and target.acl_names == []
    volume.delete()


def test_an_initiator_keeps_its_acl_while_it_has_another_volume_on_the_target(
    library: Any, tgtd: BareTgtd
) -> None:
    backend = iscsi_backend(library, tgtd)
    first, second = backend.create_volume(size=1), backend.create_volume(size=2)
    one = first.connect({"initiator": HOST_A}, attached_host="a")
    two = second.connect({"initiator": HOST_A}, attached_host="a")
    one.disconnect()
    assert capacity(two.conn_info, HOST_A) == 2 * GIB
    two.disconnect()
    (target,) = TgtClient(tgtd.control).show_targets()
    assert target.acl_names == []


def test_a_connector_without_an_initiator_changes_nothing(library: Any, tgtd: BareTgtd) -> None:
    backend = iscsi_backend(library, tgtd)
    volume = backend.create_volume(size=1)
    with pytest.raises(InvalidParameter) as caught:
        volume.connect({"host": "a"}, attached_host="a")
    assert caught.value.field == "connector_info.initiator"
    assert volume.connections == []
    for target in TgtClient(tgtd.control).show_targets():
        assert sorted(target.luns) == [0] and target.acl_names == []


def write_test(conn_info: dict[str, Any], initiator: str) -> subprocess.CompletedProcess[str]:
    """libiscsi's WRITE(10) test: it writes 0xa6 blocks at the LUN's start and end (destructive)."""
    data = conn_info["data"]
    env = {"PATH": os.environ["PATH"]}
    if data.get("auth_method") == "CHAP":
        env["LIBISCSI_CHAP_USERNAME"] = data["auth_username"]
        env["LIBISCSI_CHAP_PASSWORD"] = data["auth_password"]
    url = f"iscsi://{data['target_portal']}/{data['target_iqn']}/{data['target_lun']}"
    return subprocess.run(
        ["iscsi-test-cu", "--dataloss", "--silent", "-i", initiator, "-t", "ALL.Write10.Simple",
         url], capture_output=True, text=True, timeout=120, check=False, env=env,
    )


def first_bytes(path: Path, size: int = 512) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def test_data_written_through_the_export_lands_in_that_volumes_file(
    tgtd: BareTgtd, tmp_path: Path
) -> None:
    if shutil.which("iscsi-test-cu") is None:
        pytest.skip("needs iscsi-test-cu (libiscsi-bin)")
    driver = make_driver(tgtd, tmp_path, use_chap_auth=True)
    untouched, written = new_volume(driver), new_volume(driver)
    for volume in (untouched, written):
        driver.create_export(volume)
    driver.initialize_connection(untouched, {"initiator": HOST_A}, access_mode="rw")
    conn_info = driver.initialize_connection(written, {"initiator": HOST_A}, access_mode="rw")
    assert conn_info["data"]["target_lun"] == 2

    done = write_test(conn_info, HOST_A)
    assert done.returncode == 0, done.stdout + done.stderr
    share = tmp_path / "share"
    assert first_bytes(share / f"volume-{written.id}") == b"\xa6" * 512
    assert first_bytes(share / f"volume-{untouched.id}") == b"\0" * 512


def test_a_read_only_lun_takes_no_write(tgtd: BareTgtd, tmp_path: Path) -> None:
    if shutil.which("iscsi-test-cu") is None:
        pytest.skip("needs iscsi-test-cu (libiscsi-bin)")
    client = TgtClient(tgtd.control)
    image = tmp_path / "ro.img"
    with image.open("wb") as f:
        f.truncate(16 * 2**20)
    client.new_target(1, "iqn.2026-01.test.storconn:ro")
    client.new_lun(1, 1, str(image), readonly=True)
    client.bind_initiator(1, HOST_A)
    info = {"data": {"target_portal": tgtd.portal, "target_iqn": "iqn.2026-01.test.storconn:ro",
                     "target_lun": 1}}
    assert capacity(info, HOST_A) == 16 * 2**20  # readable
    write_test(info, HOST_A)
    assert first_bytes(image, 16 * 2**20) == b"\0" * 16 * 2**20
