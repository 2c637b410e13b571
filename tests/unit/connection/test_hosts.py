"""Host names and server:/path forms."""

from __future__ import annotations

import pytest

from storconn.connection.hosts import bracket, host_key, normalize_spec, split_remote


def test_host_names_compare_lower_cased() -> None:
    assert host_key("NFS.Example.COM") == "nfs.example.com"


def test_a_trailing_dot_names_the_same_host() -> None:
    assert host_key("server.example.") == host_key("server.example")


def test_ipv6_addresses_are_compressed() -> None:
    assert host_key("FE80:0000:0000:0000:0000:0000:0000:0001") == "fe80::1"


def test_ipv6_addresses_may_come_in_brackets() -> None:
    assert host_key("[::1]") == "::1"


@pytest.mark.parametrize(
    "host", ["", "-oProxyCommand", "a b", "host/x", "[server]", "10.1", "fe80::1%eth0", "a..b"]
)
def test_refuses_what_is_not_a_host(host: str) -> None:
    with pytest.raises(ValueError):
        host_key(host)


def test_bracket_wraps_only_ipv6() -> None:
    assert (bracket("::1"), bracket("host"), bracket("[::1]")) == ("[::1]", "host", "[::1]")


def test_split_remote_keeps_the_server_as_spelled() -> None:
    assert split_remote("Server:/a:b") == ("Server", "/a:b")


def test_split_remote_reads_bracketed_ipv6() -> None:
    assert split_remote("[fe80::1]:/export") == ("[fe80::1]", "/export")


def test_split_remote_needs_a_server() -> None:
    with pytest.raises(ValueError):
        split_remote(":/export")


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        ("/dev//sdb1/", "/dev/sdb1"),
        ("//SRV/share//dir/", "//srv/share/dir"),
        ("root@Host.Example:/remote//dir/", "root@host.example:/remote/dir"),
        ("[FE80::1]:/x/", "[fe80::1]:/x"),
        ("Host:rel/./dir/", "host:rel/dir"),
        ("tmpfs", "tmpfs"),
        ("UUID=AB:CD", "UUID=AB:CD"),
    ],
)
def test_normalize_spec(spec: str, normalized: str) -> None:
    assert normalize_spec(spec) == normalized


def test_normalize_spec_refuses_dot_dot_in_a_path() -> None:
    with pytest.raises(ValueError):
        normalize_spec("host:/a/../b")
