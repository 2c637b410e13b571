"""Which keys each command locks (rules/locks.py)."""

from __future__ import annotations

from storconn.engine.model import StorageConnection, StorageType
from storconn.engine.rules import locks

NFS = StorageConnection(id="n1", type=StorageType.NFS, connection="Srv:/export/")
NFS_SPELLED_OTHERWISE = StorageConnection(id="n2", type=StorageType.NFS, connection="srv:/export")
ISCSI = StorageConnection(
    id="i1", type=StorageType.ISCSI, connection="10.0.0.1", port=3260, iqn="iqn.x:t"
)


def test_add_locks_the_normalized_target() -> None:
    assert locks.add_connection_keys(NFS) == locks.add_connection_keys(NFS_SPELLED_OTHERWISE)


def test_add_of_iscsi_locks_address_port_and_iqn() -> None:
    other_user = StorageConnection(
        id="i2",
        type=StorageType.ISCSI,
        connection="10.0.0.1",
        port=3260,
        iqn="iqn.x:t",
        username="u",
        password="p",
    )
    other_port = StorageConnection(
        id="i3", type=StorageType.ISCSI, connection="10.0.0.1", port=3261, iqn="iqn.x:t"
    )
    assert locks.add_connection_keys(ISCSI) == locks.add_connection_keys(other_user)
    assert locks.add_connection_keys(ISCSI) != locks.add_connection_keys(other_port)


def test_edit_locks_target_id_domains_and_disks() -> None:
    keys = locks.edit_connection_keys(ISCSI, domain_ids=["sd2", "sd1"], disk_ids=["d1"])
    assert keys == [locks.target_key(ISCSI), "connection:i1", "domain:sd1", "domain:sd2", "disk:d1"]


def test_remove_locks_target_and_id() -> None:
    assert locks.remove_connection_keys(NFS) == [locks.target_key(NFS), "connection:n1"]


def test_edit_and_remove_of_one_connection_collide() -> None:
    assert set(locks.edit_connection_keys(NFS)) & set(locks.remove_connection_keys(NFS))


def test_add_and_edit_to_the_same_target_collide() -> None:
    assert set(locks.add_connection_keys(NFS_SPELLED_OTHERWISE)) & set(
        locks.edit_connection_keys(NFS)
    )


def test_attach_locks_the_connection() -> None:
    assert "connection:i1" in locks.attach_connection_keys("sd1", "i1")


def test_describe_is_readable() -> None:
    assert locks.describe(locks.target_key(NFS)) == "storage target nfs srv /export"
