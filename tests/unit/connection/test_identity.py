"""Identity: which infos are the same actual connection. Pure: no I/O."""

from __future__ import annotations

from .connection_examples import iscsi, nfs
from .connection_strategies import (
    absolute_paths,
    bare_hosts,
    gluster_subdirs,
    infos,
    messy,
    mixed_case,
    remote_hosts,
)
from hypothesis import given
from hypothesis import strategies as st

from storconn.connection import ConnectionInfo, FcpInfo, parse_info


def test_nfs_identity_lower_cases_the_server_and_normalizes_the_path() -> None:
    assert parse_info(nfs(export="NFS.Example:/a//b/./c/")).identity == (
        "nfs",
        "nfs.example",
        "/a/b/c",
    )


def test_nfs_identity_compresses_ipv6() -> None:
    info = parse_info(nfs(export="[2001:DB8:0:0::1]:/x"))
    assert info.identity == ("nfs", "2001:db8::1", "/x")


def test_posixfs_identity_includes_the_vfs_type() -> None:
    data = {"type": "posixfs", "params": {"spec": "root@Host:/d//x/", "vfsType": "fuse.sshfs"}}
    assert parse_info(data).identity == ("posixfs", "fuse.sshfs", "root@host:/d/x")


def test_glusterfs_identity_has_volume_and_subdir() -> None:
    info = parse_info({"type": "glusterfs", "params": {"spec": "G1:/vol//sub/"}})
    assert info.identity == ("glusterfs", "g1", "/vol/sub")


def test_localfs_identity_normalizes_the_path() -> None:
    assert parse_info({"type": "localfs", "params": {"path": "/srv//d/"}}).identity == (
        "localfs",
        "/srv/d",
    )


def test_iscsi_identity_fills_in_defaults_and_lower_cases() -> None:
    assert parse_info(iscsi()).identity == (
        "iscsi",
        "portal.example",
        "3260",
        "iqn.2026-01.test:lun1",
        "default",
    )


def test_fcp_identity_is_just_the_type() -> None:
    assert FcpInfo().identity == ("fcp",)


def test_identity_key_joins_the_identity() -> None:
    assert parse_info(nfs()).identity_key == "nfs\x1fserver\x1f/export"


@given(
    remote_hosts,
    absolute_paths().flatmap(lambda p: st.tuples(st.just(p), messy(p))),
    st.data(),
)
def test_nfs_identity_ignores_path_spelling_and_host_case(
    host: str, paths: tuple[str, str], data: st.DataObject
) -> None:
    clean, spelled = paths
    other_host = data.draw(mixed_case(st.just(host.lower())))
    assert (
        parse_info(nfs(export=f"{host}:{clean}")).identity
        == parse_info(nfs(export=f"{other_host}:{spelled}")).identity
    )


@given(absolute_paths().flatmap(lambda p: st.tuples(st.just(p), messy(p))))
def test_localfs_identity_ignores_path_spelling(paths: tuple[str, str]) -> None:
    first, second = ({"type": "localfs", "params": {"path": p}} for p in paths)
    assert parse_info(first).identity == parse_info(second).identity


@given(gluster_subdirs.flatmap(lambda p: st.tuples(st.just(p), messy(p))), st.data())
def test_glusterfs_identity_ignores_path_spelling_and_host_case(
    paths: tuple[str, str], data: st.DataObject
) -> None:
    clean, spelled = paths
    host = data.draw(remote_hosts)
    first = {"type": "glusterfs", "params": {"spec": f"{host.lower()}:/vol{clean}"}}
    second = {"type": "glusterfs", "params": {"spec": f"{host.upper()}:/vol{spelled}"}}
    assert parse_info(first).identity == parse_info(second).identity


@given(
    absolute_paths(1)
    .filter(lambda p: "#" not in p)
    .flatmap(lambda p: st.tuples(st.just(p), messy(p))),
    remote_hosts,
)
def test_posixfs_identity_ignores_path_spelling_and_host_case(
    paths: tuple[str, str], host: str
) -> None:
    clean, spelled = paths
    first = {"type": "posixfs", "params": {"spec": f"{host.lower()}:{clean}", "vfsType": "fuse.sshfs"}}
    second = {
        "type": "posixfs",
        "params": {"spec": f"{host.upper()}:{spelled}", "vfsType": "fuse.sshfs"},
    }
    assert parse_info(first).identity == parse_info(second).identity


@given(bare_hosts)
def test_iscsi_identity_ignores_host_case(host: str) -> None:
    def info(name: str) -> ConnectionInfo:
        return parse_info(iscsi(target={"portal": {"hostname": name}, "iqn": "IQN.x:Y"}))

    assert info(host.lower()).identity == info(host.upper()).identity


@given(infos)
def test_identity_key_is_one_string_per_identity(info: ConnectionInfo) -> None:
    assert info.identity_key.split("\x1f") == list(info.identity)
