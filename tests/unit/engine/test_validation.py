"""Per-type validation with oVirt's keys (rules/validation.py)."""

from __future__ import annotations

import pytest

from storconn.engine.errors import BadRequest
from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.rules import clean_fields, validate_fields


def _key(**given: object) -> str:
    with pytest.raises(BadRequest) as err:
        validate_fields(clean_fields(ConnectionFields(**given)))  # type: ignore[arg-type]
    assert err.value.status == 400
    return err.value.key


def _ok(**given: object) -> None:
    validate_fields(clean_fields(ConnectionFields(**given)))  # type: ignore[arg-type]


NFS = {"type": StorageType.NFS, "address": "nfs.example.com", "path": "/export/data"}
ISCSI = {
    "type": StorageType.ISCSI,
    "address": "10.0.0.1",
    "target": "iqn.2026-01.test:lun1",
    "port": 3260,
}


def test_valid_nfs_passes() -> None:
    _ok(**NFS)


@pytest.mark.parametrize("address", ["10.1.2.3", "[fd00::1]", "fd00::1", "nfs.example.com"])
def test_nfs_accepts_ip_ipv6_and_fqdn(address: str) -> None:
    _ok(**{**NFS, "address": address})


def test_nfs_relative_path_is_invalid() -> None:
    assert _key(**{**NFS, "path": "export"}) == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_nfs_white_space_is_invalid() -> None:
    assert _key(**{**NFS, "path": "/my export"}) == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_nfs_non_ascii_is_invalid() -> None:
    assert _key(**{**NFS, "path": "/exp\u00f6rt"}) == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_nfs_dot_dot_is_invalid() -> None:
    assert _key(**{**NFS, "path": "/export/../etc"}) == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_nfs_bad_host_is_invalid() -> None:
    assert _key(**{**NFS, "address": "bad_host!"}) == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_empty_nfs_address_names_the_field() -> None:
    with pytest.raises(BadRequest) as err:
        validate_fields(clean_fields(ConnectionFields(type=StorageType.NFS, path="/e")))
    assert err.value.key == "VALIDATION_STORAGE_CONNECTION_EMPTY_CONNECTION"
    assert "address" in err.value.message


@pytest.mark.parametrize("timeo", [0, 6001])
def test_nfs_timeo_out_of_range(timeo: int) -> None:
    assert _key(**NFS, nfs_timeo=timeo) == "VALIDATION_STORAGE_CONNECTION_NFS_TIMEO"


@pytest.mark.parametrize("timeo", [1, 6000])
def test_nfs_timeo_bounds_are_accepted(timeo: int) -> None:
    _ok(**NFS, nfs_timeo=timeo)


@pytest.mark.parametrize("retrans", [-1, 32768])
def test_nfs_retrans_out_of_range(retrans: int) -> None:
    assert _key(**NFS, nfs_retrans=retrans) == "VALIDATION_STORAGE_CONNECTION_NFS_RETRANS"


def test_nfs_retrans_zero_is_accepted() -> None:
    _ok(**NFS, nfs_retrans=0)


def test_unknown_nfs_version() -> None:
    assert _key(**NFS, nfs_version="5") == "VALIDATION_STORAGE_CONNECTION_INVALID_NFS_VERSION"


@pytest.mark.parametrize(
    "option", ["timeo=600", "vers=4", "nfsvers=3", "retrans=2", "minorversion=1", "clientaddr=1.2.3.4"]
)
def test_nfs_managed_mount_option(option: str) -> None:
    key = _key(**NFS, mount_options=f"noatime,{option}")
    assert key == "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_MANAGED_PROPERTY"


def test_managed_option_message_names_it_but_not_other_values() -> None:
    with pytest.raises(BadRequest) as err:
        validate_fields(clean_fields(ConnectionFields(**NFS, mount_options="timeo=600")))  # type: ignore[arg-type]
    assert "timeo" in err.value.message and "600" not in err.value.message


def _message(**given: object) -> str:
    with pytest.raises(BadRequest) as err:
        validate_fields(clean_fields(ConnectionFields(**given)))  # type: ignore[arg-type]
    assert err.value.status == 400
    return err.value.message


@pytest.mark.parametrize(("vfs_type", "proper"), [("nfs", "nfs"), ("nfs4", "nfs"), ("glusterfs", "glusterfs")])
def test_posix_of_a_network_type_points_to_its_own_type(vfs_type: str, proper: str) -> None:
    # Issue 7, defect 2: posixfs with vfs_type nfs bypassed NFS's managed options.
    given = dict(
        type=StorageType.POSIXFS, path="s:/e", vfs_type=vfs_type, mount_options="hard,nolock,vers=3"
    )
    assert _key(**given) == "VALIDATION_STORAGE_CONNECTION_INVALID"
    message = _message(**given)
    assert "vfs_type" in message and f"use the '{proper}' connection type" in message


@pytest.mark.parametrize("vfs_type", ["fuse.awk", "fuse", "fuseblk", "none", "bind", "cifs"])
def test_posix_types_outside_the_allow_list_are_invalid_naming_vfs_type(vfs_type: str) -> None:
    # Issue 7, defect 1: fuse.<program> ran the program as root on every host.
    given = dict(type=StorageType.POSIXFS, path="/etc", vfs_type=vfs_type)
    assert _key(**given) == "VALIDATION_STORAGE_CONNECTION_INVALID"
    assert "vfs_type:" in _message(**given)


@pytest.mark.parametrize("option", ["bind", "rbind", "X-mount.mkdir", "remount", "make-shared"])
def test_bind_like_options_are_refused(option: str) -> None:
    given = dict(type=StorageType.POSIXFS, path="/dev/sdb1", vfs_type="ext4", mount_options=option)
    key = _key(**given)
    assert key == "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_REFUSED_PROPERTY"
    assert option.lower() in _message(**given)


@pytest.mark.parametrize("path", ["../../etc", "etc", "/srv/disk.img"])
def test_posix_block_type_needs_a_device_or_a_loop_image(path: str) -> None:
    given = dict(type=StorageType.POSIXFS, path=path, vfs_type="ext4")
    assert _key(**given) == "VALIDATION_STORAGE_CONNECTION_INVALID"
    assert "path:" in _message(**given)


def test_glusterfs_log_file_is_refused() -> None:
    given = dict(
        type=StorageType.GLUSTERFS,
        address="g",
        path="/vol",
        vfs_type="glusterfs",
        mount_options="log-file=/etc/evil",
    )
    assert _key(**given) == "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_REFUSED_PROPERTY"
    assert "/etc/evil" not in _message(**given)


def test_posix_ext4_may_set_options_nfs_manages() -> None:
    _ok(type=StorageType.POSIXFS, path="/dev/sdb1", vfs_type="ext4", mount_options="noatime,lock")


@pytest.mark.parametrize(
    "option", ["ssh_command=/bin/sh", "ProxyCommand=nc x 22", "sftp_server=/tmp/x"]
)
def test_options_running_commands_are_refused(option: str) -> None:
    key = _key(
        type=StorageType.POSIXFS,
        address="u@h",
        path="/d",
        vfs_type="fuse.sshfs",
        mount_options=option,
    )
    assert key == "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_REFUSED_PROPERTY"


def test_option_starting_with_dash_is_invalid() -> None:
    key = _key(type=StorageType.POSIXFS, path="/dev/sdb1", vfs_type="ext4", mount_options="-oro")
    assert key == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_posix_without_vfs_type() -> None:
    assert (
        _key(type=StorageType.POSIXFS, path="/dev/sdb1")
        == "VALIDATION_STORAGE_CONNECTION_EMPTY_VFSTYPE"
    )


def test_posix_tmpfs_spec_is_valid() -> None:
    _ok(type=StorageType.POSIXFS, path="scratch", vfs_type="tmpfs", mount_options="size=16m")


def test_gluster_needs_glusterfs_vfs_type() -> None:
    key = _key(type=StorageType.GLUSTERFS, address="g", path="/vol", vfs_type="ext4")
    assert key == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_gluster_spec_is_valid() -> None:
    _ok(type=StorageType.GLUSTERFS, address="g.example.com", path="/vol/sub", vfs_type="glusterfs")


def test_gluster_managed_option() -> None:
    key = _key(
        type=StorageType.GLUSTERFS,
        address="g",
        path="/vol",
        vfs_type="glusterfs",
        mount_options="backup-volfile-servers=a:b",
    )
    assert key == "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_MANAGED_PROPERTY"


def test_localfs_needs_an_absolute_path() -> None:
    assert _key(type=StorageType.LOCALFS, path="data") == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_valid_iscsi_passes() -> None:
    _ok(**ISCSI)


def test_iscsi_empty_iqn() -> None:
    assert _key(**{**ISCSI, "target": ""}) == "VALIDATION_STORAGE_CONNECTION_EMPTY_IQN"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_iscsi_invalid_port(port: int) -> None:
    assert _key(**{**ISCSI, "port": port}) == "VALIDATION_STORAGE_CONNECTION_INVALID_PORT"


def test_iscsi_empty_address() -> None:
    assert _key(**{**ISCSI, "address": ""}) == "VALIDATION_STORAGE_CONNECTION_EMPTY_CONNECTION"


def test_iscsi_user_without_password() -> None:
    assert _key(**ISCSI, username="u") == "VALIDATION_STORAGE_CONNECTION_INCOMPLETE_CREDENTIALS"


def test_iscsi_invalid_password_message_hides_it() -> None:
    with pytest.raises(BadRequest) as err:
        validate_fields(
            clean_fields(ConnectionFields(**ISCSI, username="u", password="Zq9secret\nXy"))
        )  # type: ignore[arg-type]
    assert err.value.key == "VALIDATION_STORAGE_CONNECTION_INVALID"
    assert "Zq9secret" not in err.value.message and "password" in err.value.message


def test_iscsi_non_numeric_portal_is_invalid() -> None:
    assert _key(**ISCSI, portal="first") == "VALIDATION_STORAGE_CONNECTION_INVALID"


def test_fcp_connections_are_not_supported() -> None:
    key = _key(type=StorageType.FCP)
    assert key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_STORAGE_TYPE"


def test_checked_connection_builds_a_valid_complete_connection() -> None:
    from storconn.engine.rules import checked_connection

    conn = checked_connection(ConnectionFields(**NFS), connection_id="c1")  # type: ignore[arg-type]
    assert (conn.id, conn.connection) == ("c1", "nfs.example.com:/export/data")


def test_checked_connection_with_its_own_required_fields() -> None:
    from storconn.engine.rules import IncompleteParameters, checked_connection

    conn = checked_connection(
        ConnectionFields(type=StorageType.ISCSI, address="a", target="iqn.x:y"),
        connection_id="c1",
        required=("address", "target"),
    )
    assert conn.port == 3260
    with pytest.raises(IncompleteParameters) as err:
        checked_connection(
            ConnectionFields(type=StorageType.ISCSI, address="a"),
            connection_id="c1",
            entity="Disk",
            required=("address", "target"),
        )
    assert err.value.detail == "Disk [target] required for add"
