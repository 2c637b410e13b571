"""ConnectionInfo models: validation, wire form, secrets."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from .connection_examples import PASSWORD, chap, iscsi, nfs
from .connection_strategies import infos
from hypothesis import given
from hypothesis import strategies as st

from storconn.connection import (
    ConnectionInfo,
    FcpInfo,
    GlusterfsInfo,
    InvalidParameter,
    IscsiInfo,
    LocalfsInfo,
    NfsInfo,
    NfsParams,
    PosixfsInfo,
    parse_info,
)


def rejection(data: object) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        parse_info(data)
    return caught.value


# --- parsing each type ---------------------------------------------------


def test_parses_nfs() -> None:
    info = parse_info(nfs(version="4.1", timeout=600, retrans=6, options="noatime"))
    assert isinstance(info, NfsInfo)
    assert (info.params.version, info.params.timeout, info.params.retrans) == ("4.1", 600, 6)


def test_parses_posixfs_with_its_wire_name_vfstype() -> None:
    info = parse_info({"type": "posixfs", "params": {"spec": "/dev/sdb1", "vfsType": "ext4"}})
    assert isinstance(info, PosixfsInfo)
    assert info.params.vfs_type == "ext4"


def test_parses_glusterfs_backup_servers_as_a_list_or_a_string() -> None:
    spec = {"spec": "gluster1:/vol/sub"}
    as_list = parse_info({"type": "glusterfs", "params": {**spec, "backupServers": ["g2", "g3"]}})
    as_text = parse_info({"type": "glusterfs", "params": {**spec, "backupServers": "g2, g3"}})
    assert isinstance(as_list, GlusterfsInfo)
    assert as_list == as_text
    assert as_list.params.backup_servers == ("g2", "g3")


def test_parses_localfs() -> None:
    info = parse_info({"type": "localfs", "params": {"path": "/srv/domain"}})
    assert isinstance(info, LocalfsInfo)


def test_parses_iscsi_filling_in_port_and_iface() -> None:
    info = parse_info(iscsi())
    assert isinstance(info, IscsiInfo)
    assert (info.params.target.portal.port, info.params.iface) == (3260, "default")


def test_parses_fcp_with_or_without_params() -> None:
    assert parse_info({"type": "fcp", "params": {}}) == parse_info({"type": "fcp"}) == FcpInfo()


def test_nfs_version_may_be_an_integer_and_is_stored_as_text() -> None:
    info = parse_info(nfs(version=3))
    assert isinstance(info, NfsInfo)
    assert info.params.version == "3"


def test_a_port_given_as_digits_is_accepted() -> None:
    info = parse_info(iscsi(target={"portal": {"hostname": "h", "port": "3261"}, "iqn": "i"}))
    assert isinstance(info, IscsiInfo)
    assert info.params.target.portal.port == 3261


def test_empty_options_mean_no_options() -> None:
    assert parse_info(nfs(options="")) == parse_info(nfs())


def test_python_code_may_use_field_names() -> None:
    assert NfsInfo(params=NfsParams(export="s:/e")) == parse_info(nfs(export="s:/e"))


# --- rejections name the field -------------------------------------------


@pytest.mark.parametrize("timeout", [0, 6001, -1])
def test_a_timeout_out_of_range_is_refused(timeout: int) -> None:
    err = rejection(nfs(timeout=timeout))
    assert (err.field, err.reason) == ("params.timeout", "must be between 1 and 6000")


def test_a_boolean_is_not_an_integer() -> None:
    assert rejection(nfs(timeout=True)).field == "params.timeout"


def test_retrans_out_of_range_is_refused() -> None:
    assert rejection(nfs(retrans=32768)).field == "params.retrans"


@pytest.mark.parametrize("version", ["5", "v4", 4.1, True, "4.3"])
def test_an_unknown_nfs_version_is_refused(version: object) -> None:
    assert rejection(nfs(version=version)).field == "params.version"


def test_a_missing_export_is_refused() -> None:
    err = rejection({"type": "nfs", "params": {}})
    assert (err.field, err.reason) == ("params.export", "field required")


@pytest.mark.parametrize("export", ["server", "server:relative", ":/x", "fe80::1:/x", "a b:/x"])
def test_a_malformed_export_is_refused(export: str) -> None:
    assert rejection(nfs(export=export)).field == "params.export"


def test_ipv6_exports_go_in_brackets() -> None:
    assert "brackets" in rejection(nfs(export="fe80::1:/x")).reason


def test_a_relative_localfs_path_is_refused() -> None:
    err = rejection({"type": "localfs", "params": {"path": "srv/domain"}})
    assert (err.field, err.reason) == ("params.path", "must be an absolute path")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "localfs", "params": {"path": "/srv/../etc"}}, "params.path"),
        (nfs(export="server:/export/../etc"), "params.export"),
        ({"type": "glusterfs", "params": {"spec": "g:/vol/../x"}}, "params.spec"),
        ({"type": "posixfs", "params": {"spec": "h:/a/../b", "vfsType": "nfs"}}, "params.spec"),
    ],
)
def test_dot_dot_in_a_path_is_refused(data: dict[str, Any], field: str) -> None:
    err = rejection(data)
    assert (err.field, err.reason) == (field, err.reason)
    assert ".." in err.reason


def test_an_unknown_type_is_refused_with_the_known_ones() -> None:
    err = rejection({"type": "foo", "params": {}})
    assert err.field == "type"
    expected = "fcp, glusterfs, iscsi, localfs, nfs, posixfs"
    assert err.reason == f"unknown connection type 'foo'; expected one of {expected}"


def test_a_missing_type_is_refused() -> None:
    assert (rejection({"params": {}}).field, rejection({}).reason) == ("type", "field required")


def test_an_unknown_param_is_refused_by_name() -> None:
    err = rejection(nfs(nfsvers=4))
    assert (err.field, err.reason) == ("params.nfsvers", "unknown parameter")


def test_python_field_names_are_not_wire_names() -> None:
    err = rejection({"type": "posixfs", "params": {"spec": "/dev/sdb", "vfs_type": "ext4"}})
    assert err.field in ("params.vfsType", "params.vfs_type")


def test_something_else_than_an_object_is_refused() -> None:
    assert rejection(["nfs"]).reason == "must be an object"


def test_an_option_starting_with_dash_is_refused() -> None:
    assert rejection(nfs(options="-oProxyCommand=x")).field == "params.options"


def test_ssh_command_is_refused_in_posixfs_options() -> None:
    data = {
        "type": "posixfs",
        "params": {"spec": "root@h:/d", "vfsType": "fuse.sshfs", "options": "ssh_command=sh"},
    }
    err = rejection(data)
    assert err.field == "params.options"
    assert "ssh_command" in err.reason


def test_a_managed_nfs_option_is_refused() -> None:
    err = rejection(nfs(options="rw,vers=3"))
    assert (err.field, err.reason) == (
        "params.options",
        "option 'vers' is set by storconn and may not be given",
    )


@pytest.mark.parametrize("port", [0, 65536, "http"])
def test_a_bad_port_is_refused(port: object) -> None:
    data = iscsi(target={"portal": {"hostname": "h", "port": port}, "iqn": "i"})
    assert rejection(data).field == "params.target.portal.port"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"type": "posixfs", "params": {"spec": "-oProxyCommand=x", "vfsType": "x"}},
            "params.spec",
        ),
        ({"type": "posixfs", "params": {"spec": "/dev/sdb", "vfsType": "-t"}}, "params.vfsType"),
        ({"type": "posixfs", "params": {"spec": "/dev/sdb", "vfsType": ""}}, "params.vfsType"),
        (nfs(export="-server:/x"), "params.export"),
        (iscsi(iface="-n"), "params.iface"),
        (iscsi(credentials=chap(username="-u")), "params.credentials.params.username"),
    ],
)
def test_a_param_starting_with_dash_or_empty_is_refused(data: dict[str, Any], field: str) -> None:
    assert rejection(data).field == field


def test_an_iqn_with_a_slash_is_refused() -> None:
    data = iscsi(target={"portal": {"hostname": "h"}, "iqn": "iqn.x/0"})
    assert rejection(data).field == "params.target.iqn"


def test_a_glusterfs_spec_needs_a_volume() -> None:
    assert rejection({"type": "glusterfs", "params": {"spec": "g:/"}}).field == "params.spec"


def test_credentials_must_be_chap() -> None:
    err = rejection(
        iscsi(credentials={"type": "md5", "params": {"username": "u", "password": "p"}})
    )
    assert err.field == "params.credentials.type"


def test_a_password_with_a_line_break_is_refused() -> None:
    err = rejection(iscsi(credentials=chap(password="a\nb")))
    assert err.field == "params.credentials.params.password"


# --- secrets stay secret -------------------------------------------------


def test_repr_and_str_hide_the_password() -> None:
    info = parse_info(iscsi(credentials=chap()))
    assert PASSWORD not in repr(info)
    assert PASSWORD not in str(info)
    assert "********" in repr(info)


@pytest.mark.parametrize(
    "data",
    [
        iscsi(credentials=chap(), iface="-bad"),
        iscsi(credentials=chap(), extra=1),
        iscsi(credentials={"type": "chap", "params": {"password": PASSWORD}}),
        iscsi(
            credentials={"type": "chap", "params": {"username": "u", "password": PASSWORD, "x": 1}}
        ),
        iscsi(credentials=chap(username="-u")),
        {"type": "iscsi", "params": {"credentials": chap()}},
    ],
)
def test_no_error_message_contains_the_password(data: dict[str, Any]) -> None:
    err = rejection(data)
    assert PASSWORD not in err.message
    assert PASSWORD not in repr(err)
    # Not even a chained exception may hold it: loggers print those too.
    assert err.__cause__ is None and err.__context__ is None


def test_wire_form_without_secrets_drops_the_password() -> None:
    wire = parse_info(iscsi(credentials=chap())).to_wire()
    assert wire["params"]["credentials"] == {"type": "chap", "params": {"username": "user"}}
    assert PASSWORD not in json.dumps(wire)


def test_wire_form_with_secrets_has_the_password_in_clear() -> None:
    wire = parse_info(iscsi(credentials=chap())).to_wire(secrets=True)
    assert wire["params"]["credentials"]["params"]["password"] == PASSWORD


def test_secrets_lists_the_chap_password() -> None:
    assert parse_info(iscsi(credentials=chap())).secrets() == [PASSWORD]


def test_an_info_without_credentials_has_no_secrets() -> None:
    assert parse_info(nfs()).secrets() == []


def test_password_mount_options_are_secrets_and_masked_on_the_wire() -> None:
    data = {
        "type": "posixfs",
        "params": {
            "spec": "/dev/sdb1",
            "vfsType": "ext4",
            "options": f"user=u,password={PASSWORD}",
        },
    }
    info = parse_info(data)
    assert info.secrets() == [PASSWORD]
    assert info.to_wire()["params"]["options"] == "user=u,password=********"
    assert info.to_wire(secrets=True) == data


def test_infos_are_hashable_and_frozen() -> None:
    info = parse_info(iscsi(credentials=chap()))
    assert {info: 1}[parse_info(iscsi(credentials=chap()))] == 1
    with pytest.raises(pydantic.ValidationError):
        info.type = "nfs"  # type: ignore[misc]


def test_repr_hides_password_mount_options() -> None:
    data = {
        "type": "posixfs",
        "params": {"spec": "/dev/sdb1", "vfsType": "ext4", "options": f"password={PASSWORD}"},
    }
    info = parse_info(data)
    assert PASSWORD not in repr(info)
    assert PASSWORD not in str(info)


# --- wire form -------------------------------------------------------------


def test_wire_form_omits_what_was_not_given() -> None:
    assert parse_info(nfs()).to_wire() == nfs()


def test_wire_form_fills_in_defaults() -> None:
    wire = parse_info(iscsi()).to_wire()
    assert wire["params"]["target"]["portal"]["port"] == 3260
    assert wire["params"]["iface"] == "default"
    assert "tpgt" not in wire["params"]["target"]


def test_wire_form_uses_wire_names() -> None:
    data = {"type": "glusterfs", "params": {"spec": "g:/v", "backupServers": ["a"]}}
    assert parse_info(data).to_wire() == data


def test_wire_form_is_json() -> None:
    info = parse_info(
        iscsi(credentials=chap(), target={"portal": {"hostname": "h"}, "tpgt": 1, "iqn": "i"})
    )
    assert json.loads(json.dumps(info.to_wire(secrets=True))) == info.to_wire(secrets=True)


# --- properties ------------------------------------------------------------------


@given(infos)
def test_wire_form_with_secrets_reads_back_equal(info: ConnectionInfo) -> None:
    assert parse_info(info.to_wire(secrets=True)) == info


@given(infos)
def test_stored_json_is_the_wire_form_with_secrets(info: ConnectionInfo) -> None:
    assert json.loads(info.stored_json()) == info.to_wire(secrets=True)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_types = st.sampled_from(["nfs", "posixfs", "glusterfs", "localfs", "iscsi", "fcp", "x"])
_junk_infos = st.one_of(
    _json,
    st.fixed_dictionaries({"type": _types, "params": _json}),
    st.fixed_dictionaries(
        {
            "type": _types,
            "params": st.dictionaries(
                st.sampled_from(
                    ["export", "spec", "vfsType", "path", "target", "options", "timeout"]
                ),
                _json,
            ),
        }
    ),
)


@given(_junk_infos)
def test_junk_raises_only_invalid_parameter(data: object) -> None:
    try:
        parse_info(data)
    except InvalidParameter:
        pass
