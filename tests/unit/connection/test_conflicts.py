"""conflict_with: infos of one identity whose other params differ."""

from __future__ import annotations

from typing import Any

import pytest
from .connection_examples import chap, iscsi, nfs
from .connection_strategies import infos
from hypothesis import given

from storconn.connection import ConnectionInfo, FcpInfo, parse_info


def conflict(first: dict[str, Any], second: dict[str, Any]) -> str | None:
    return parse_info(first).conflict_with(parse_info(second))


def test_equal_infos_do_not_conflict() -> None:
    assert conflict(iscsi(credentials=chap()), iscsi(credentials=chap())) is None


def test_spellings_of_one_identity_do_not_conflict() -> None:
    assert conflict(nfs(export="S:/e/"), nfs(export="s://e")) is None


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (nfs(options="noatime"), nfs(), "params.options"),
        (nfs(version="3"), nfs(version="4"), "params.version"),
        (nfs(version="4"), nfs(), "params.version"),
        (nfs(timeout=100), nfs(timeout=200), "params.timeout"),
        (nfs(timeout=100), nfs(), "params.timeout"),
        (nfs(retrans=3), nfs(retrans=4), "params.retrans"),
        (nfs(version="3", timeout=1), nfs(version="4", timeout=2), "params.version"),
        (iscsi(credentials=chap()), iscsi(), "params.credentials"),
        (
            iscsi(credentials=chap("a")),
            iscsi(credentials=chap("b")),
            "params.credentials.params.username",
        ),
        (
            iscsi(credentials=chap(password="x")),
            iscsi(credentials=chap()),
            "params.credentials.params.password",
        ),
    ],
)
def test_the_first_differing_param_is_named(
    first: dict[str, Any], second: dict[str, Any], field: str
) -> None:
    assert conflict(first, second) == field


def test_no_version_and_auto_agree() -> None:
    assert conflict(nfs(version="auto"), nfs()) is None


def test_glusterfs_backup_servers_must_agree() -> None:
    first = {"type": "glusterfs", "params": {"spec": "g:/v", "backupServers": ["a"]}}
    second = {"type": "glusterfs", "params": {"spec": "g:/v", "backupServers": ["b"]}}
    assert conflict(first, second) == "params.backupServers"


def test_posixfs_options_must_agree() -> None:
    first = {"type": "posixfs", "params": {"spec": "/dev/sdb", "vfsType": "ext4", "options": "ro"}}
    second = {"type": "posixfs", "params": {"spec": "/dev/sdb", "vfsType": "ext4"}}
    assert conflict(first, second) == "params.options"


def test_tpgt_is_compared_only_when_both_give_it() -> None:
    def with_tpgt(tpgt: int | None) -> dict[str, Any]:
        target: dict[str, Any] = {"portal": {"hostname": "h"}, "iqn": "i"}
        return iscsi(target=target if tpgt is None else {**target, "tpgt": tpgt})

    assert conflict(with_tpgt(1), with_tpgt(None)) is None
    assert conflict(with_tpgt(1), with_tpgt(2)) == "params.target.tpgt"


def test_infos_of_different_identities_cannot_be_compared() -> None:
    with pytest.raises(ValueError):
        conflict(nfs(export="a:/x"), nfs(export="b:/x"))


def test_infos_of_different_types_cannot_be_compared() -> None:
    with pytest.raises(ValueError):
        parse_info(nfs()).conflict_with(FcpInfo())


@given(infos)
def test_an_info_never_conflicts_with_itself(info: ConnectionInfo) -> None:
    assert info.conflict_with(info) is None
