"""ConnectionFields → StorageConnection and back (rules/fields.py)."""

from __future__ import annotations

import pytest

from storconn.engine.model import ConnectionFields, StorageConnection, StorageType
from storconn.engine.rules import (
    IncompleteParameters,
    build_connection,
    clean_fields,
    merge_fields,
    output_fields,
    require_fields,
    split_connection,
    stored_fields,
)


def _build(**given: object) -> StorageConnection:
    return build_connection(clean_fields(ConnectionFields(**given)), connection_id="c1")  # type: ignore[arg-type]


def test_empty_strings_become_none() -> None:
    fields = clean_fields(ConnectionFields(type=StorageType.NFS, address="", mount_options=""))
    assert fields.address is None and fields.mount_options is None


def test_ovirt_nfs_version_spellings_are_stored_as_numbers() -> None:
    assert clean_fields(ConnectionFields(nfs_version="v4_1")).nfs_version == "4.1"
    assert clean_fields(ConnectionFields(nfs_version="V3")).nfs_version == "3"


def test_missing_type_is_incomplete() -> None:
    with pytest.raises(IncompleteParameters) as err:
        require_fields(ConnectionFields(address="a"))
    assert err.value.fields == ["type"]


def test_missing_nfs_fields_are_all_named() -> None:
    with pytest.raises(IncompleteParameters) as err:
        require_fields(clean_fields(ConnectionFields(type=StorageType.NFS, path="")))
    assert err.value.detail == "StorageConnection [address, path] required for add"
    assert err.value.reason == "Incomplete parameters" and err.value.status == 400


def test_iscsi_add_requires_address_target_and_port() -> None:
    with pytest.raises(IncompleteParameters) as err:
        require_fields(ConnectionFields(type=StorageType.ISCSI))
    assert err.value.fields == ["address", "target", "port"]


def test_nfs_connection_string_is_address_colon_path() -> None:
    assert _build(type=StorageType.NFS, address="srv", path="/export").connection == "srv:/export"


def test_ipv6_address_is_bracketed_in_the_connection_string() -> None:
    assert _build(type=StorageType.NFS, address="fd00::1", path="/e").connection == "[fd00::1]:/e"


def test_posix_without_address_stores_the_path() -> None:
    conn = _build(type=StorageType.POSIXFS, path="scratch", vfs_type="tmpfs")
    assert conn.connection == "scratch" and conn.vfs_type == "tmpfs"


def test_localfs_stores_the_path() -> None:
    assert _build(type=StorageType.LOCALFS, path="/srv/data").connection == "/srv/data"


def test_iscsi_defaults_port_3260_and_portal_1() -> None:
    conn = _build(type=StorageType.ISCSI, address="10.0.0.1", target="iqn.2026-01.t:1")
    assert (conn.connection, conn.port, conn.portal, conn.iqn) == (
        "10.0.0.1",
        3260,
        "1",
        "iqn.2026-01.t:1",
    )


def test_fields_of_other_types_are_dropped() -> None:
    conn = _build(type=StorageType.NFS, address="s", path="/e", vfs_type="ext4", target="iqn.x:y")
    assert conn.vfs_type is None and conn.iqn is None


def test_split_on_first_colon() -> None:
    assert split_connection("server:/a:b") == ("server", "/a:b")


def test_split_after_ipv6_bracket() -> None:
    assert split_connection("[fd00::1]:/export") == ("[fd00::1]", "/export")


def test_split_without_colon_has_no_address() -> None:
    assert split_connection("/dev/sdb1") == (None, "/dev/sdb1")
    assert split_connection("UUID=abc") == (None, "UUID=abc")


def test_stored_fields_round_trip() -> None:
    conn = _build(type=StorageType.NFS, address="srv", path="/e", nfs_timeo=100, nfs_version="4.1")
    assert build_connection(stored_fields(conn), connection_id="c1") == conn


def test_merge_replaces_given_fields_and_keeps_others() -> None:
    stored = stored_fields(_build(type=StorageType.NFS, address="old", path="/e", nfs_retrans=3))
    merged = merge_fields(stored, ConnectionFields(address="new"))
    assert (merged.address, merged.path, merged.nfs_retrans) == ("new", "/e", 3)


def test_put_without_password_keeps_it() -> None:
    conn = _build(
        type=StorageType.ISCSI, address="a", target="iqn.x:y", username="u", password="s3cret"
    )
    merged = merge_fields(stored_fields(conn), ConnectionFields(port=3261))
    assert merged.password == "s3cret"


def test_put_with_empty_string_clears_a_field() -> None:
    stored = stored_fields(
        _build(type=StorageType.NFS, address="s", path="/e", mount_options="noatime")
    )
    assert merge_fields(stored, ConnectionFields(mount_options="")).mount_options is None


def test_merge_never_takes_the_type() -> None:
    stored = stored_fields(_build(type=StorageType.NFS, address="s", path="/e"))
    assert merge_fields(stored, ConnectionFields(type=StorageType.ISCSI)).type is StorageType.NFS


def test_output_fields_never_show_the_password() -> None:
    conn = _build(
        type=StorageType.ISCSI, address="a", target="iqn.x:y", username="u", password="s3cret"
    )
    assert output_fields(conn).password is None and output_fields(conn).username == "u"


def test_unknown_type_is_a_bad_request() -> None:
    from storconn.engine.errors import BadRequest

    with pytest.raises(BadRequest) as err:
        clean_fields(ConnectionFields(type="cifs"))  # type: ignore[arg-type]
    assert err.value.key == "VALIDATION_STORAGE_TYPE_INVALID"


def test_type_given_as_text_is_converted() -> None:
    assert clean_fields(ConnectionFields(type="nfs")).type is StorageType.NFS  # type: ignore[arg-type]
