"""Reference ids and what each host should hold (rules/references.py)."""

from __future__ import annotations

from storconn.engine.model import DomainStatus, Host, StorageConnection, StorageDomain, StorageType
from storconn.engine.rules import references as refs

CONN = StorageConnection(id="c1", type=StorageType.NFS, connection="s:/e", revision=3)


def host(hid: str, dc: str | None = "dc1") -> Host:
    return Host(id=hid, name=hid, address="127.0.0.1", port=1, data_center_id=dc)


def domain(status: DomainStatus, dc: str | None = "dc1") -> StorageDomain:
    return StorageDomain(
        id="d1",
        name="d",
        storage_type=StorageType.NFS,
        status=status,
        data_center_id=dc,
        connection_ids=["c1"],
    )


def test_ref_id_format() -> None:
    assert refs.ref_id("d1", "c1", 3) == "engine:d1:c1:3"


def test_domain_prefix_matches_every_revision() -> None:
    assert refs.ref_id("d1", "c1", 9).startswith(refs.domain_prefix("d1"))


def test_flow_uuid_of_flow_ids_only() -> None:
    assert refs.flow_uuid("engine-flow:abc:0") == "abc"
    assert refs.flow_uuid("engine:abc:0") is None
    assert refs.flow_uuid("engine-flow:") is None


def test_flow_refs_are_not_engine_refs() -> None:
    assert not refs.is_engine_ref("engine-flow:abc:0")
    assert refs.is_engine_ref("engine:d1:c1:1")


def test_every_host_of_the_data_center_holds_active_domains() -> None:
    wanted = refs.desired_refs(
        [host("h1"), host("h2")], [domain(DomainStatus.ACTIVE)], {"c1": CONN}
    )
    assert {(r.host_id, r.ref_id) for r in wanted} == {
        ("h1", "engine:d1:c1:3"),
        ("h2", "engine:d1:c1:3"),
    }


def test_domains_in_maintenance_are_not_held() -> None:
    assert (
        refs.desired_refs([host("h1")], [domain(DomainStatus.MAINTENANCE)], {"c1": CONN}) == set()
    )


def test_hosts_of_other_data_centers_hold_nothing() -> None:
    assert (
        refs.desired_refs(
            [host("h1", "dc2"), host("h2", None)], [domain(DomainStatus.ACTIVE)], {"c1": CONN}
        )
        == set()
    )
