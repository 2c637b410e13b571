"""Stored connections as ConnectionInfo, identity and revision changes (rules/infos.py)."""

from __future__ import annotations

from dataclasses import replace

from storconn.engine.model import StorageConnection, StorageType
from storconn.engine.rules import details_changed, identity_key, info_wire, to_info


def nfs(connection: str = "srv:/export", **extra: object) -> StorageConnection:
    return StorageConnection(id="c1", type=StorageType.NFS, connection=connection, **extra)  # type: ignore[arg-type]


def iscsi(**extra: object) -> StorageConnection:
    values: dict[str, object] = {"port": 3260, "iqn": "iqn.2026-01.t:1", "portal": "1"}
    values.update(extra)
    return StorageConnection(id="i1", type=StorageType.ISCSI, connection="10.0.0.1", **values)  # type: ignore[arg-type]


def test_nfs_info_carries_version_timeout_retrans_and_options() -> None:
    info = info_wire(nfs(nfs_version="4.1", nfs_timeo=100, nfs_retrans=3, mount_options="noatime"))
    assert info == {
        "type": "nfs",
        "params": {
            "export": "srv:/export",
            "version": "4.1",
            "timeout": 100,
            "retrans": 3,
            "options": "noatime",
        },
    }


def test_posix_info_uses_the_connection_as_spec() -> None:
    conn = StorageConnection(
        id="p",
        type=StorageType.POSIXFS,
        connection="scratch",
        vfs_type="tmpfs",
        mount_options="size=16m",
    )
    assert info_wire(conn) == {
        "type": "posixfs",
        "params": {"spec": "scratch", "vfsType": "tmpfs", "options": "size=16m"},
    }


def test_localfs_info() -> None:
    conn = StorageConnection(id="l", type=StorageType.LOCALFS, connection="/srv/data")
    assert info_wire(conn) == {"type": "localfs", "params": {"path": "/srv/data"}}


def test_iscsi_default_portal_is_not_passed_as_tpgt() -> None:
    assert "tpgt" not in info_wire(iscsi())["params"]["target"]


def test_iscsi_chosen_portal_is_passed_as_tpgt() -> None:
    assert to_info(iscsi(portal="2")).params.target.tpgt == 2  # type: ignore[union-attr]


def test_iscsi_credentials_only_with_secrets() -> None:
    conn = iscsi(username="u", password="p")
    assert info_wire(conn, secrets=True)["params"]["credentials"]["params"] == {
        "username": "u",
        "password": "p",
    }
    assert "credentials" not in info_wire(conn, secrets=False)["params"]


def test_identity_ignores_host_case_and_path_spelling() -> None:
    assert identity_key(nfs("SRV.example.com:/export//data/")) == identity_key(
        nfs("srv.example.com:/export/data")
    )


def test_identity_ignores_ipv6_spelling() -> None:
    assert identity_key(nfs("[fd00:0::1]:/e")) == identity_key(nfs("[fd00::1]:/e"))


def test_identity_differs_by_path() -> None:
    assert identity_key(nfs("srv:/a")) != identity_key(nfs("srv:/b"))


def test_iscsi_identity_ignores_credentials_and_iqn_case() -> None:
    assert identity_key(iscsi(username="u", password="p")) == identity_key(
        iscsi(iqn="IQN.2026-01.T:1")
    )


def test_iscsi_identity_differs_by_port() -> None:
    assert identity_key(iscsi(port=3261)) != identity_key(iscsi())


def test_changed_options_change_the_details() -> None:
    assert details_changed(nfs(), nfs(mount_options="noatime"))


def test_new_chap_password_changes_the_details() -> None:
    assert details_changed(iscsi(username="u", password="a"), iscsi(username="u", password="b"))


def test_same_details_do_not_change() -> None:
    assert not details_changed(nfs(), replace(nfs(), revision=7))
