"""Issue 9 item 8: iSCSI domains on LUNs across targets, their ``volume_group``, and extending them.

Through the REST API of the real Engine, in XML and in JSON (the ``api``
fixture of ``conftest.py``), and with the official SDK making the calls
the oVirt Ansible collection's ``ovirt_storage_domain`` makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storconn.engine.api import create_app
from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine
from tests.unit.engine_api.server import serve

from .conftest import ADMIN
from .rest import INCOMPLETE, Api

T1 = "iqn.2026-01.test:target1"
T2 = "iqn.2026-01.test:target2"
LVM_UUID = re.compile(r"[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}")


def unit(lun_id: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": lun_id, "address": "10.0.0.5", "port": 3260, "target": target, **extra}


def iscsi_domain(name: str, *units: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": "data", "storage": {"type": "iscsi", "logical_units": list(units)}}


def luns_of(domain: dict[str, Any]) -> list[dict[str, Any]]:
    group = domain["storage"]["volume_group"]
    units = group.get("logical_units") or {}
    listed: list[dict[str, Any]] = units.get("logical_unit", []) if isinstance(units, dict) else []
    return listed


def add(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/storagedomains", "storage_domain", body)
    assert answer.status_code == 201, answer.text
    return api.read(answer)


def test_a_domain_takes_luns_on_two_targets_with_one_connection_per_target(api: Api) -> None:
    added = add(api, iscsi_domain(
        "block1",
        unit("36001405aa", T1, username="chap-user", password="chap-Secret-42", lun_mapping=1),
        unit("36001405bb", T2),
        unit("36001405cc", T1, username="chap-user", password="chap-Secret-42", lun_mapping=2),
    ))
    assert added["storage"]["type"] == "iscsi"
    group = added["storage"]["volume_group"]
    assert LVM_UUID.fullmatch(group["id"]), group
    got = [(u["id"], u["target"], u["address"], str(u["port"]), u.get("lun_mapping")) for u in luns_of(added)]
    assert got == [("36001405aa", T1, "10.0.0.5", "3260", "1"), ("36001405bb", T2, "10.0.0.5", "3260", None),
                   ("36001405cc", T1, "10.0.0.5", "3260", "2")]
    assert all(u["volume_group_id"] == group["id"] and u["storage_domain_id"] == added["id"] for u in luns_of(added))
    connections = api.read_list(api.get(f"/storagedomains/{added['id']}/storageconnections"), "storage_connection")
    assert sorted(c["target"] for c in connections) == [T1, T2]
    assert len(api.ids("/storageconnections", "storage_connection")) == 2
    # The same answer on a GET, and no password anywhere.
    again = api.get(f"/storagedomains/{added['id']}")
    assert api.read(again)["storage"] == added["storage"]
    assert "chap-Secret-42" not in again.text
    assert "chap-Secret-42" not in api.get("/storageconnections").text


def test_a_target_that_has_a_connection_shares_it(api: Api, engine: Engine) -> None:
    chap = engine.add_connection(ConnectionFields(
        type=StorageType.ISCSI, address="10.0.0.5", port=3260, target=T1, username="chap-user",
        password="chap-Secret-42"))
    added = add(api, iscsi_domain("block1", unit("36001405aa", T1), unit("36001405bb", T2)))
    connections = api.read_list(api.get(f"/storagedomains/{added['id']}/storageconnections"), "storage_connection")
    assert chap.id in [c["id"] for c in connections] and len(connections) == 2
    shared = next(u for u in luns_of(added) if u["target"] == T1)
    assert shared["username"] == "chap-user"  # the stored connection, whose password the hosts get
    assert len(api.ids("/storageconnections", "storage_connection")) == 2


def test_a_lun_of_another_domain_or_of_a_disk_is_refused(api: Api, engine: Engine) -> None:
    add(api, iscsi_domain("block1", unit("36001405aa", T1)))
    engine.add_lun_disk("disk1", lun_id="36001405dd", connections=[ConnectionFields(
        type=StorageType.ISCSI, address="10.0.0.6", port=3260, target=T2)])
    before = api.snapshot()
    taken = api.post("/storagedomains", "storage_domain", iscsi_domain(
        "block2", unit("36001405bb", T2), unit("36001405aa", T1)))
    api.expect_fault(taken, 409, "ACTION_TYPE_FAILED_LUNS_ALREADY_PART_OF_STORAGE_DOMAINS", detail=(
        "[Cannot add Storage. The following LUNs are already part of existing storage domains: "
        "36001405aa.]"))
    used = api.post("/storagedomains", "storage_domain", iscsi_domain("block2", unit("36001405dd", T2)))
    api.expect_fault(used, 409, "ACTION_TYPE_FAILED_LUNS_ALREADY_USED_BY_DISKS", contains=("36001405dd",))
    assert api.snapshot() == before


@pytest.mark.parametrize(
    ("units", "missing"),
    [
        ([{"address": "10.0.0.5", "target": T1}], "storage.logical_units.logical_unit.id"),
        ([unit("36001405aa", T1), {"id": "36001405bb", "address": "10.0.0.5"}], "target"),
    ],
    ids=["no-lun-id", "no-target"],
)
def test_a_lun_without_its_id_or_target_is_refused(api: Api, units: list[dict[str, Any]], missing: str) -> None:
    before = api.snapshot()
    answer = api.post("/storagedomains", "storage_domain", iscsi_domain("block1", *units))
    assert answer.status_code == 400, answer.text
    reason, detail = api.fault(answer)
    assert reason == INCOMPLETE and missing in detail, detail
    assert api.snapshot() == before


def test_logical_units_make_no_file_domain(api: Api) -> None:
    body = {"name": "nfs1", "type": "data", "storage": {
        "type": "nfs", "address": "filer", "path": "/x", "logical_units": [unit("36001405aa", T1)]}}
    answer = api.post("/storagedomains", "storage_domain", body)
    assert answer.status_code == 400, answer.text
    assert "storage_domain/storage/logical_units" in api.fault(answer)[1]


def test_an_fcp_domain_keeps_its_lun_ids(api: Api) -> None:
    added = add(api, {"name": "fc1", "type": "data", "storage": {
        "type": "fcp", "logical_units": [{"id": "3600a0b80001"}, {"id": "3600a0b80002"}]}})
    assert [u["id"] for u in luns_of(added)] == ["3600a0b80001", "3600a0b80002"]
    assert "address" not in luns_of(added)[0]
    assert api.ids("/storageconnections", "storage_connection") == []


def test_an_update_with_new_luns_extends_the_domain_and_a_repeat_changes_nothing(api: Api) -> None:
    added = add(api, iscsi_domain("block1", unit("36001405aa", T1)))
    path = f"/storagedomains/{added['id']}"
    body = {"name": "block1", "storage": {"type": "iscsi", "logical_units": [
        unit("36001405aa", T1), unit("36001405bb", T2)]}}
    extended = api.put(path, "storage_domain", body)
    assert extended.status_code == 200, extended.text
    assert [(u["id"], u["target"]) for u in luns_of(api.read(extended))] == [("36001405aa", T1), ("36001405bb", T2)]
    assert api.read(extended)["storage"]["volume_group"]["id"] == added["storage"]["volume_group"]["id"]
    connections = api.read_list(api.get(f"{path}/storageconnections"), "storage_connection")
    assert sorted(c["target"] for c in connections) == [T1, T2]
    before = api.snapshot()
    again = api.put(path, "storage_domain", body)
    assert again.status_code == 200, again.text
    # What a GET shows may be sent back as it is (LUNs under <volume_group>): nothing changes.
    shown = api.read(api.get(path))
    round_trip = {"name": "block1", "type": "data", "storage": {"type": "iscsi", "volume_group": {
        "logical_units": [{k: v for k, v in u.items() if k in ("id", "address", "port", "target")}
                          for u in luns_of(shown)]}}}
    assert api.put(path, "storage_domain", round_trip).status_code == 200
    assert api.snapshot() == before
    changed = api.put(path, "storage_domain", {"type": "iso"})
    assert changed.status_code == 400 and "storage_domain/type" in api.fault(changed)[1]


def test_an_extension_with_a_lun_of_another_domain_changes_nothing(api: Api) -> None:
    add(api, iscsi_domain("block1", unit("36001405aa", T1)))
    other = add(api, iscsi_domain("block2", unit("36001405bb", T2)))
    before = api.snapshot()
    answer = api.put(f"/storagedomains/{other['id']}", "storage_domain", {"storage": {
        "type": "iscsi", "logical_units": [unit("36001405aa", T1)]}})
    api.expect_fault(answer, 409, "ACTION_TYPE_FAILED_LUNS_ALREADY_PART_OF_STORAGE_DOMAINS",
                     contains=("Cannot edit Storage.", "36001405aa"))
    assert api.snapshot() == before


# -- the official SDK, as the Ansible collection's ovirt_storage_domain calls it -----------------------------

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402


@pytest.fixture
def system(root: str) -> Iterator[Any]:
    connection = sdk.Connection(url=f"{root}/ovirt-engine/api", username=ADMIN[0], password=ADMIN[1],
                                insecure=True)
    yield connection.system_service()
    connection.close()


def _ansible_entity(*targets_and_luns: tuple[str, str]) -> Any:
    """What ``ovirt_storage_domain``'s ``build_entity`` sends for ``iscsi: {address, port, target_lun_map}``."""
    return types.StorageDomain(
        name="data_iscsi", type=types.StorageDomainType.DATA, host=types.Host(name="h1"),
        storage=types.HostStorage(type=types.StorageType.ISCSI, logical_units=[
            types.LogicalUnit(id=lun, address="10.0.0.5", port=3260, target=target, username=None, password=None)
            for target, lun in targets_and_luns]),
    )


def test_the_sdk_creates_an_iscsi_domain_on_two_targets_and_a_rerun_changes_nothing(
    system: Any, engine: Engine
) -> None:
    engine.add_host("h1", address="127.0.0.1", port=1, token="t")  # named by the module; not contacted
    domains = system.storage_domains_service()
    entity = _ansible_entity((T1, "36001405aa"), (T2, "36001405bb"))
    entity.host = None  # with a host, the engine logs in through it first (a closed port here)
    added = domains.add(entity)
    assert added.storage.type == types.StorageType.ISCSI
    group = added.storage.volume_group
    assert LVM_UUID.fullmatch(group.id)
    assert [(lu.id, lu.target, lu.port) for lu in group.logical_units] == [
        ("36001405aa", T1, 3260), ("36001405bb", T2, 3260)]
    # The module's re-run: it finds the domain by name, and its update check finds nothing to change.
    found = domains.list(search="name=data_iscsi")
    assert [d.id for d in found] == [added.id]
    assert {lu.id for lu in found[0].storage.volume_group.logical_units} == {"36001405aa", "36001405bb"}
    # Its update, when one is due, sends the whole entity back: the known LUNs change nothing...
    service = domains.storage_domain_service(added.id)
    same = service.update(_ansible_entity((T1, "36001405aa"), (T2, "36001405bb")))
    assert [lu.id for lu in same.storage.volume_group.logical_units] == ["36001405aa", "36001405bb"]
    # ... and a new one extends the domain, as oVirt's update does.
    more = service.update(types.StorageDomain(storage=types.HostStorage(
        type=types.StorageType.ISCSI, logical_units=[types.LogicalUnit(
            id="36001405cc", address="10.0.0.7", port=3260, target=T2)])))
    assert [lu.id for lu in more.storage.volume_group.logical_units] == ["36001405aa", "36001405bb", "36001405cc"]
    assert more.storage.volume_group.id == group.id
    connections = service.storage_connections_service().list()
    assert sorted((c.address, c.target) for c in connections) == [
        ("10.0.0.5", T1), ("10.0.0.5", T2), ("10.0.0.7", T2)]


def test_the_sdk_domain_with_a_host_that_does_not_answer_is_refused_cleanly(system: Any, engine: Engine) -> None:
    engine.add_host("h1", address="127.0.0.1", port=1, token="t")
    with pytest.raises(sdk.Error) as caught:
        system.storage_domains_service().add(_ansible_entity((T1, "36001405aa"), (T2, "36001405bb")))
    assert caught.value.code == 400
    assert system.storage_domains_service().list() == []
    assert system.storage_connections_service().list() == []


# -- on PostgreSQL -----------------------------------------------------------------------------------------------


def test_a_domain_across_targets_and_its_extension_on_postgresql(postgres: Any, tmp_path: Path) -> None:
    real = Engine(postgres.new_database(), key_file=tmp_path / "key", admin_password=ADMIN[1])
    try:
        with serve(create_app(real)) as base, httpx.Client(
            base_url=f"{base}/ovirt-engine/api", auth=ADMIN, timeout=30, headers={"Accept": "application/json"}
        ) as client:
            api = Api(client, "json")
            added = add(api, iscsi_domain("block1", unit("36001405aa", T1), unit("36001405bb", T2)))
            body = {"storage": {"type": "iscsi", "logical_units": [unit("36001405cc", T2), unit("36001405aa", T1)]}}
            extended = api.read(api.put(f"/storagedomains/{added['id']}", "storage_domain", body))
            assert [u["id"] for u in luns_of(extended)] == ["36001405aa", "36001405bb", "36001405cc"]
            assert len(api.ids("/storageconnections", "storage_connection")) == 2
            api.expect_fault(api.post("/storagedomains", "storage_domain", iscsi_domain("b2", unit("36001405bb", T2))),
                             409, "ACTION_TYPE_FAILED_LUNS_ALREADY_PART_OF_STORAGE_DOMAINS", contains=("36001405bb",))
    finally:
        real.close()
