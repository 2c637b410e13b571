"""Names, hosts, users, LUN disks (rules/inventory.py)."""

from __future__ import annotations

import pytest

from storconn.engine.errors import BadRequest, Conflict
from storconn.engine.model import (
    ConnectionFields,
    DiskAttachment,
    LunDisk,
    StorageType,
    Vm,
    VmStatus,
)
from storconn.engine.rules import (
    IncompleteParameters,
    check_disk_removable,
    check_host_address,
    check_lun_disk,
    check_name,
    check_name_free,
    user_name,
)


def test_missing_name_is_incomplete() -> None:
    with pytest.raises(IncompleteParameters):
        check_name("  ", entity="Host")


def test_name_with_control_characters_is_refused() -> None:
    with pytest.raises(BadRequest):
        check_name("a\nb", entity="Host")


def test_taken_name_is_a_conflict() -> None:
    with pytest.raises(Conflict) as err:
        check_name_free("h1", True, entity="host")
    assert err.value.key == "ACTION_TYPE_FAILED_NAME_ALREADY_USED"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "host.example.com"])
def test_host_addresses(address: str) -> None:
    check_host_address(address, 54321)


def test_host_bad_address() -> None:
    with pytest.raises(BadRequest):
        check_host_address("not a host", 54321)


def test_host_bad_port() -> None:
    with pytest.raises(BadRequest):
        check_host_address("127.0.0.1", 70000)


def test_user_name_defaults_to_internal() -> None:
    assert user_name("admin") == "admin@internal"
    assert user_name("bob@example") == "bob@example"


def test_lun_disk_needs_a_connection() -> None:
    with pytest.raises(IncompleteParameters):
        check_lun_disk("d", "3600", [])


def test_lun_disk_only_over_iscsi() -> None:
    with pytest.raises(BadRequest):
        check_lun_disk("d", "3600", [ConnectionFields(type=StorageType.NFS)])


def test_disk_plugged_into_running_vm_is_not_removable() -> None:
    disk = LunDisk(id="d1", name="d", lun_id="x")
    running = Vm(id="v", name="v", status=VmStatus.UP, disk_attachments=[DiskAttachment("d1")])
    with pytest.raises(Conflict):
        check_disk_removable(disk, [running])
    check_disk_removable(disk, [Vm(id="v", name="v", disk_attachments=[DiskAttachment("d1")])])
