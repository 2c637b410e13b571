"""Duplicate connections by normalized identity (rules/duplicates.py)."""

from __future__ import annotations

import pytest

from storconn.engine.errors import Conflict
from storconn.engine.model import StorageConnection, StorageDomain, StorageType
from storconn.engine.rules import Candidate, check_duplicates, duplicate_scope, find_duplicate


def conn(cid: str, type: StorageType, connection: str, **extra: object) -> StorageConnection:
    return StorageConnection(id=cid, type=type, connection=connection, **extra)  # type: ignore[arg-type]


def test_same_nfs_export_spelled_differently_is_a_duplicate() -> None:
    old = Candidate(conn("old", StorageType.NFS, "Server:/export/"))
    assert find_duplicate(conn("new", StorageType.NFS, "server:/export"), [old]) is old


def test_another_nfs_export_is_not_a_duplicate() -> None:
    old = Candidate(conn("old", StorageType.NFS, "server:/other"))
    assert find_duplicate(conn("new", StorageType.NFS, "server:/export"), [old]) is None


def test_a_connection_is_not_its_own_duplicate() -> None:
    same = conn("c1", StorageType.NFS, "server:/export")
    assert find_duplicate(same, [Candidate(same)]) is None


def test_posix_duplicate_needs_the_same_vfs_type() -> None:
    old = Candidate(conn("old", StorageType.POSIXFS, "/dev/sdb1", vfs_type="ext4"))
    assert (
        find_duplicate(conn("n", StorageType.POSIXFS, "/dev/sdb1", vfs_type="xfs"), [old]) is None
    )
    assert (
        find_duplicate(conn("n", StorageType.POSIXFS, "/dev//sdb1/", vfs_type="ext4"), [old]) is old
    )


def test_gluster_duplicate_anywhere() -> None:
    old = Candidate(
        conn("old", StorageType.GLUSTERFS, "g:/vol", vfs_type="glusterfs"), data_center_id="dc1"
    )
    new = conn("new", StorageType.GLUSTERFS, "G:/vol/", vfs_type="glusterfs")
    assert find_duplicate(new, [old], data_center_id="dc2") is old


def test_localfs_duplicate_only_in_the_same_data_center() -> None:
    old = Candidate(conn("old", StorageType.LOCALFS, "/srv/data"), data_center_id="dc1")
    new = conn("new", StorageType.LOCALFS, "/srv/data/")
    assert find_duplicate(new, [old], data_center_id="dc1") is old
    assert find_duplicate(new, [old], data_center_id="dc2") is None


def test_localfs_in_no_data_center_is_never_a_duplicate() -> None:
    old = Candidate(conn("old", StorageType.LOCALFS, "/srv/data"))
    assert find_duplicate(conn("new", StorageType.LOCALFS, "/srv/data"), [old]) is None


def test_iscsi_duplicate_by_address_port_and_iqn() -> None:
    old = Candidate(
        conn(
            "old",
            StorageType.ISCSI,
            "10.0.0.1",
            port=3260,
            iqn="iqn.x:t",
            username="a",
            password="p",
        )
    )
    new = conn("new", StorageType.ISCSI, "10.0.0.1", port=3260, iqn="IQN.x:t")
    assert find_duplicate(new, [old]) is old
    other_port = conn("new", StorageType.ISCSI, "10.0.0.1", port=3261, iqn="iqn.x:t")
    assert find_duplicate(other_port, [old]) is None


def test_conflict_names_the_existing_connection_and_its_domain() -> None:
    domain = StorageDomain(id="sd1", name="data1", storage_type=StorageType.NFS)
    old = Candidate(conn("old-id", StorageType.NFS, "srv:/e"), domains=(domain,))
    with pytest.raises(Conflict) as err:
        check_duplicates(conn("new", StorageType.NFS, "srv:/e"), [old])
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS"
    assert err.value.status == 409
    # oVirt's text names the existing connection and the domain using it.
    assert err.value.message == "Storage connection old-id already exists for data1."


def test_scope_is_global_except_for_local_storage() -> None:
    assert duplicate_scope(conn("c", StorageType.NFS, "s:/e"), "dc1") == ""
    assert duplicate_scope(conn("c", StorageType.LOCALFS, "/e"), "dc1") == "dc:dc1"
    assert duplicate_scope(conn("c", StorageType.LOCALFS, "/e"), None) == "connection:c"
