"""parse_uri and format_uri: every form of DESIGN.md section 2, both ways."""

from __future__ import annotations

from typing import Any

import pytest
from .connection_examples import PASSWORD, chap
from .connection_strategies import infos
from hypothesis import given
from hypothesis import strategies as st

from storconn.connection import (
    ConnectionInfo,
    FcpInfo,
    InvalidParameter,
    IscsiInfo,
    format_uri,
    parse_info,
    parse_uri,
)


def info(type_: str, **params: Any) -> ConnectionInfo:
    return parse_info({"type": type_, "params": params})


def target(host: str = "host", iqn: str = "iqn.2026-01.test:lun1", **more: Any) -> dict[str, Any]:
    return {"portal": {"hostname": host, **more.pop("portal", {})}, "iqn": iqn, **more}


def uri_error(uri: str, **kwargs: Any) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        parse_uri(uri, **kwargs)
    return caught.value


# --- reading each form ----------------------------------------------------------


def test_reads_nfs_with_its_query() -> None:
    assert parse_uri("nfs://server/export/path?version=4.1&timeout=100&retrans=3") == info(
        "nfs", export="server:/export/path", version="4.1", timeout=100, retrans=3
    )


def test_reads_nfs_options_from_the_query() -> None:
    assert parse_uri("nfs://s/e?options=noatime,rsize=65536") == info(
        "nfs", export="s:/e", options="noatime,rsize=65536"
    )


def test_reads_the_proposals_nfs_form() -> None:
    assert parse_uri("nfs://server:/export/path") == info("nfs", export="server:/export/path")


def test_reads_the_proposals_nfs_form_without_a_slash() -> None:
    assert parse_uri("nfs://server:export/dir") == info("nfs", export="server:/export/dir")


def test_digits_after_the_nfs_server_are_a_port_and_refused() -> None:
    err = uri_error("nfs://server:2049/export")
    assert (err.field, "port" in err.reason) == ("uri", True)


def test_reads_nfs_over_ipv6() -> None:
    assert parse_uri("nfs://[fe80::1]/export") == info("nfs", export="[fe80::1]:/export")


def test_reads_iscsi_with_the_default_port() -> None:
    assert parse_uri("iscsi://host/iqn.2026-01.test:lun1") == info("iscsi", target=target())


def test_reads_iscsi_with_a_port() -> None:
    parsed = parse_uri("iscsi://host:3261/iqn.2026-01.test:lun1")
    assert parsed == info("iscsi", target=target(portal={"port": 3261}))


def test_reads_the_proposals_portal_group_tag() -> None:
    parsed = parse_uri("iscsi://host/iqn.2026-01.test:lun1;portal=1")
    assert parsed == info("iscsi", target=target(tpgt=1))


def test_reads_the_portal_group_tag_from_the_query() -> None:
    assert parse_uri("iscsi://host/iqn.2026-01.test:lun1?tpgt=1") == parse_uri(
        "iscsi://host/iqn.2026-01.test:lun1;portal=1"
    )


def test_the_portal_group_tag_may_be_given_once() -> None:
    assert uri_error("iscsi://host/iqn.x;portal=1?tpgt=1").field == "uri"


def test_reads_the_iface_from_the_query() -> None:
    parsed = parse_uri("iscsi://host/iqn.2026-01.test:lun1?iface=iser")
    assert parsed == info("iscsi", target=target(), iface="iser")


def test_reads_iscsi_over_ipv6() -> None:
    parsed = parse_uri("iscsi://[fe80::1]:3261/iqn.x")
    assert parsed == info("iscsi", target=target("fe80::1", "iqn.x", portal={"port": 3261}))


def test_reads_iscsi_credentials() -> None:
    parsed = parse_uri(f"iscsi://user:{PASSWORD}@host/iqn.2026-01.test:lun1")
    assert parsed == info("iscsi", target=target(), credentials=chap())


def test_reads_libiscsi_user_percent_password() -> None:
    parsed = parse_uri("iscsi://user%secret@host/iqn.2026-01.test:lun1")
    assert parsed == info("iscsi", target=target(), credentials=chap(password="secret"))


def test_percent_encoded_credentials_are_decoded() -> None:
    parsed = parse_uri("iscsi://us%3Aer:p%40ss%3Aw%25rd@host/iqn.2026-01.test:lun1")
    assert parsed == info("iscsi", target=target(), credentials=chap("us:er", "p@ss:w%rd"))


def test_the_password_may_be_given_apart_from_the_uri() -> None:
    parsed = parse_uri("iscsi://user@host/iqn.2026-01.test:lun1", password=PASSWORD)
    assert parsed == info("iscsi", target=target(), credentials=chap())


def test_a_password_apart_needs_a_user_name() -> None:
    assert uri_error("iscsi://host/iqn.x", password=PASSWORD).field == "uri"


def test_a_password_apart_is_only_for_iscsi() -> None:
    assert uri_error("nfs://s/e", password=PASSWORD).field == "uri"


def test_a_user_without_a_password_is_refused() -> None:
    assert uri_error("iscsi://user@host/iqn.x").field == "params.credentials.params.password"


def test_reads_posixfs_from_the_query() -> None:
    parsed = parse_uri("posixfs://?spec=/dev/sdb1&vfsType=ext4&options=noatime")
    assert parsed == info("posixfs", spec="/dev/sdb1", vfsType="ext4", options="noatime")


def test_reads_glusterfs_with_a_subdir_and_backup_servers() -> None:
    parsed = parse_uri("glusterfs://g1/vol/sub?backupServers=g2,g3")
    assert parsed == info("glusterfs", spec="g1:/vol/sub", backupServers=["g2", "g3"])


def test_reads_localfs() -> None:
    assert parse_uri("localfs:///srv/domain") == info("localfs", path="/srv/domain")


def test_reads_file_as_localfs() -> None:
    assert parse_uri("file:///srv/domain") == parse_uri("localfs:///srv/domain")


def test_reads_fcp() -> None:
    assert parse_uri("fcp://") == FcpInfo()


def test_the_scheme_is_case_insensitive() -> None:
    assert parse_uri("NFS://s/e") == parse_uri("nfs://s/e")


# --- decoding ------------------------------------------------------------------


def test_plus_stays_a_plus() -> None:
    assert parse_uri("localfs:///a+b") == info("localfs", path="/a+b")


def test_plus_in_the_query_stays_a_plus() -> None:
    parsed = parse_uri("posixfs://?spec=/dev/a+b&vfsType=ext4")
    assert parsed == info("posixfs", spec="/dev/a+b", vfsType="ext4")


def test_percent_escapes_are_decoded() -> None:
    assert parse_uri("localfs:///my%20dir/%C3%A9t%C3%A9") == info("localfs", path="/my dir/été")


def test_percent_bytes_must_be_utf8() -> None:
    assert uri_error("localfs:///%FF").field == "uri"


# --- rejections ------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "smb://server/share",
        "no-scheme",
        "",
        "nfs://s/e#frag",
        "nfs://s/my dir",
        "nfs://s/e?x=1",
        "nfs://s/e?version=3&version=4",
        "nfs://s/e?version",
        "nfs://",
        "nfs://s",
        "nfs://u@s/e",
        "iscsi://host",
        "iscsi://host/",
        "iscsi://host:abc/iqn.x",
        "iscsi://host/iqn.x/0",
        "iscsi://host/iqn.x;lun=0",
        "iscsi://[fe80::1/iqn.x",
        "posixfs://host?spec=/d&vfsType=ext4",
        "glusterfs://g:24007/vol",
        "glusterfs://g/",
        "localfs://host/srv",
        "localfs:///srv?x=1",
        "fcp://host",
        "fcp://?x=1",
    ],
)
def test_malformed_uris_are_refused_naming_the_uri(uri: str) -> None:
    assert uri_error(uri).field == "uri"


def test_an_unknown_scheme_is_named() -> None:
    assert "'smb'" in uri_error("smb://server/share").reason


def test_an_unknown_query_key_is_named() -> None:
    assert "'foo'" in uri_error("nfs://s/e?foo=1").reason


@pytest.mark.parametrize(
    ("uri", "field"),
    [
        ("iscsi://host:0/iqn.x", "params.target.portal.port"),
        ("iscsi://host:65536/iqn.x", "params.target.portal.port"),
        ("nfs://s/e?timeout=0", "params.timeout"),
        ("nfs://s/e?version=5", "params.version"),
        ("nfs://s/e?options=vers%3D3", "params.options"),
        ("posixfs://?spec=/d&vfsType=fuse.sshfs&options=ssh_command%3Dsh", "params.options"),
        ("localfs:///a/../b", "params.path"),
        ("localfs:relative", "params.path"),
        ("posixfs://?vfsType=ext4", "params.spec"),
    ],
)
def test_a_wrong_value_names_its_param(uri: str, field: str) -> None:
    assert uri_error(uri).field == field


@pytest.mark.parametrize(
    "uri",
    [
        f"iscsi://user:{PASSWORD}@host:0/iqn.x",
        f"iscsi://user:{PASSWORD}@host/iqn.x?bad=1",
        f"iscsi://user:{PASSWORD}@host/iqn.x;lun=1",
        f"iscsi://-user:{PASSWORD}@host/iqn.x",
        f"iscsi://user:{PASSWORD}%FF@host/iqn.x",
    ],
)
def test_errors_never_show_the_password(uri: str) -> None:
    err = uri_error(uri)
    assert PASSWORD not in err.message
    assert err.__context__ is None


# --- writing ----------------------------------------------------------------------


def test_writes_nfs_canonically() -> None:
    parsed = info("nfs", export="server:/export/path", version="4.1", timeout=100, retrans=3)
    assert format_uri(parsed) == "nfs://server/export/path?version=4.1&timeout=100&retrans=3"


def test_writes_iscsi_without_defaults() -> None:
    assert format_uri(info("iscsi", target=target())) == "iscsi://host/iqn.2026-01.test:lun1"


def test_writes_iscsi_port_tpgt_and_iface() -> None:
    parsed = info("iscsi", target=target("::1", portal={"port": 3261}, tpgt=2), iface="iser")
    assert format_uri(parsed) == "iscsi://[::1]:3261/iqn.2026-01.test:lun1;portal=2?iface=iser"


def test_writes_no_password_unless_asked() -> None:
    parsed = info("iscsi", target=target(), credentials=chap())
    assert format_uri(parsed) == "iscsi://user@host/iqn.2026-01.test:lun1"
    assert format_uri(parsed, secrets=True) == f"iscsi://user:{PASSWORD}@host/iqn.2026-01.test:lun1"


def test_writes_posixfs_in_the_query() -> None:
    parsed = info("posixfs", spec="host:/a b&c", vfsType="fuse.sshfs", options="ro")
    assert format_uri(parsed) == "posixfs://?spec=host:/a%20b%26c&vfsType=fuse.sshfs&options=ro"


def test_writes_glusterfs_backup_servers() -> None:
    parsed = info("glusterfs", spec="g1:/vol/sub", backupServers=["g2", "g3"])
    assert format_uri(parsed) == "glusterfs://g1/vol/sub?backupServers=g2,g3"


def test_writes_localfs_and_fcp() -> None:
    assert format_uri(info("localfs", path="/srv/d")) == "localfs:///srv/d"
    assert format_uri(FcpInfo()) == "fcp://"


def test_writes_plus_and_percent_encoded() -> None:
    assert format_uri(info("localfs", path="/a+b%c")) == "localfs:///a%2Bb%25c"


def test_writes_secret_mount_options_masked_unless_asked() -> None:
    parsed = info("posixfs", spec="/dev/sdb1", vfsType="ext4", options="password=hunter2")
    assert "hunter2" not in format_uri(parsed)
    assert "hunter2" in format_uri(parsed, secrets=True)


# --- properties --------------------------------------------------------------------


@given(infos)
def test_a_written_uri_reads_back_equal(parsed: ConnectionInfo) -> None:
    assert parse_uri(format_uri(parsed, secrets=True)) == parsed


@given(infos)
def test_a_uri_without_secrets_shows_no_password(parsed: ConnectionInfo) -> None:
    uri = format_uri(parsed)
    if isinstance(parsed, IscsiInfo) and parsed.params.credentials:
        assert f":{parsed.params.credentials.params.password.get_secret_value()}@" not in uri


_schemes = st.sampled_from(
    ["nfs", "iscsi", "posixfs", "glusterfs", "localfs", "file", "fcp", "NFS", "x"]
)
_junk = st.one_of(
    st.text(),
    st.builds(lambda s, rest: f"{s}://{rest}", _schemes, st.text()),
    st.builds(
        lambda s, rest: f"{s}://{rest}",
        _schemes,
        st.text(st.sampled_from("ab1:/@[]%;?&=#+.-_ 09fF:")),
    ),
)


@given(_junk)
def test_junk_raises_only_invalid_parameter(uri: str) -> None:
    try:
        parse_uri(uri)
    except InvalidParameter:
        pass
