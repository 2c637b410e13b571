"""Domain connections (iSCSI multipath) and domain status moves (rules/domains.py)."""

from __future__ import annotations

import pytest

from storconn.engine.errors import BadRequest, Conflict, NotFound
from storconn.engine.model import (
    DataCenter,
    DomainStatus,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules import domains as rules

ISCSI = StorageConnection(
    id="i2", type=StorageType.ISCSI, connection="10.0.0.2", port=3260, iqn="iqn.x:t"
)
NFS = StorageConnection(id="n1", type=StorageType.NFS, connection="srv:/e")
DC = DataCenter(id="dc1", name="dc")
LOCAL_DC = DataCenter(id="dc2", name="local", local=True)


def iscsi_domain(
    status: DomainStatus = DomainStatus.MAINTENANCE, ids: list[str] | None = None
) -> StorageDomain:
    return StorageDomain(
        id="sd",
        name="san",
        storage_type=StorageType.ISCSI,
        status=status,
        connection_ids=ids if ids is not None else ["i1"],
        data_center_id="dc1",
    )


def nfs_domain(status: DomainStatus, dc: str | None = "dc1") -> StorageDomain:
    return StorageDomain(
        id="sd", name="data", storage_type=StorageType.NFS, status=status, data_center_id=dc
    )


def test_attach_connection_to_iscsi_domain_in_maintenance() -> None:
    rules.check_attach_connection(iscsi_domain(), ISCSI)


def test_attach_connection_to_unattached_domain() -> None:
    rules.check_attach_connection(iscsi_domain(DomainStatus.UNATTACHED), ISCSI)


def test_attach_connection_to_active_domain_is_refused() -> None:
    with pytest.raises(BadRequest) as err:
        rules.check_attach_connection(iscsi_domain(DomainStatus.ACTIVE), ISCSI)
    assert (
        err.value.key
        == "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED"
    )


def test_attach_connection_to_file_domain_is_refused() -> None:
    with pytest.raises(BadRequest) as err:
        rules.check_attach_connection(nfs_domain(DomainStatus.MAINTENANCE), NFS)
    assert err.value.key == "ACTION_TYPE_FAILED_ACTION_IS_SUPPORTED_ONLY_FOR_ISCSI_DOMAINS"


def test_attach_connection_of_another_type_is_refused() -> None:
    with pytest.raises(BadRequest) as err:
        rules.check_attach_connection(iscsi_domain(), NFS)
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_NOT_SAME_STORAGE_TYPE"


def test_attach_connection_twice_is_a_conflict() -> None:
    with pytest.raises(Conflict) as err:
        rules.check_attach_connection(iscsi_domain(ids=["i2"]), ISCSI)
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_ALREADY_EXISTS"


def test_detach_connection_not_attached() -> None:
    with pytest.raises(BadRequest) as err:
        rules.check_detach_connection(iscsi_domain(ids=["i1"]), ISCSI)
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_NOT_EXIST"


def test_detach_attached_connection_passes() -> None:
    rules.check_detach_connection(iscsi_domain(ids=["i1", "i2"]), ISCSI)


def test_detach_connection_from_active_domain_is_refused() -> None:
    with pytest.raises(BadRequest):
        rules.check_detach_connection(iscsi_domain(DomainStatus.ACTIVE, ids=["i2"]), ISCSI)


def test_new_domain_may_use_an_unused_file_connection() -> None:
    rules.check_domain_connection(StorageType.NFS, NFS, used_by=[])


def test_new_domain_may_not_share_a_file_connection() -> None:
    with pytest.raises(Conflict):
        rules.check_domain_connection(
            StorageType.NFS, NFS, used_by=[nfs_domain(DomainStatus.UNATTACHED)]
        )


def test_new_domain_may_share_an_iscsi_connection() -> None:
    rules.check_domain_connection(StorageType.ISCSI, ISCSI, used_by=[iscsi_domain()])


def test_new_domain_needs_a_connection_of_its_type() -> None:
    with pytest.raises(BadRequest):
        rules.check_domain_connection(StorageType.ISCSI, NFS, used_by=[])


def test_attach_to_data_center_lands_in_maintenance() -> None:
    assert (
        rules.attach_to_data_center(nfs_domain(DomainStatus.UNATTACHED, None), DC)
        is DomainStatus.MAINTENANCE
    )


def test_attach_an_attached_domain_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        rules.attach_to_data_center(nfs_domain(DomainStatus.MAINTENANCE), DC)


def test_local_domain_only_in_local_data_center() -> None:
    local = StorageDomain(id="l", name="l", storage_type=StorageType.LOCALFS)
    assert rules.attach_to_data_center(local, LOCAL_DC) is DomainStatus.MAINTENANCE
    with pytest.raises(BadRequest):
        rules.attach_to_data_center(local, DC)
    with pytest.raises(BadRequest):
        rules.attach_to_data_center(nfs_domain(DomainStatus.UNATTACHED, None), LOCAL_DC)


def test_activate_moves_maintenance_to_active() -> None:
    assert rules.activate(nfs_domain(DomainStatus.MAINTENANCE), "dc1") is DomainStatus.ACTIVE


def test_activate_an_active_domain_is_a_conflict() -> None:
    with pytest.raises(Conflict) as err:
        rules.activate(nfs_domain(DomainStatus.ACTIVE), "dc1")
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2"


def test_activate_in_another_data_center_is_not_found() -> None:
    with pytest.raises(NotFound):
        rules.activate(nfs_domain(DomainStatus.MAINTENANCE), "dc9")


def test_deactivate_moves_active_to_maintenance() -> None:
    assert rules.deactivate(nfs_domain(DomainStatus.ACTIVE), "dc1") is DomainStatus.MAINTENANCE


def test_deactivate_a_domain_in_maintenance_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        rules.deactivate(nfs_domain(DomainStatus.MAINTENANCE), "dc1")


def test_detach_moves_maintenance_to_unattached() -> None:
    assert (
        rules.detach_from_data_center(nfs_domain(DomainStatus.MAINTENANCE), "dc1")
        is DomainStatus.UNATTACHED
    )


def test_detach_an_active_domain_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        rules.detach_from_data_center(nfs_domain(DomainStatus.ACTIVE), "dc1")


def test_only_unattached_domains_are_removed() -> None:
    rules.check_remove_domain(nfs_domain(DomainStatus.UNATTACHED, None))
    with pytest.raises(Conflict):
        rules.check_remove_domain(nfs_domain(DomainStatus.MAINTENANCE))
