"""A host's LUNs and a discovery's answer on the wire, read back by the official SDK's readers.

The real engine test (tests/integration/engine/test_api_host_actions.py) runs
on a kernel without iscsi_tcp, where a host has no LUNs; here the documents
carry some, and the SDK must read every field the Ansible collection uses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from storconn.engine.api import encode, schema
from storconn.engine.api.document import Collection, Obj, to_json, to_xml
from storconn.engine.model import DiscoveredTarget, HostLun

sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
from ovirtsdk4 import types  # noqa: E402
from ovirtsdk4.reader import Reader  # noqa: E402
from ovirtsdk4.writer import Writer  # noqa: E402

BASE = "/ovirt-engine/api"
LUN = HostLun(id="36001405f0a8c5b6d8e4f1a2b3c4d5e6", address="10.0.0.5", port=3260, target="iqn.2026-01.test:a",
              portal="10.0.0.5:3260,1", lun_mapping=1, size=64 * 1024 * 1024, vendor_id="IET",
              product_id="VIRTUAL-DISK", serial="beaf11", device="sdb", status="LOGGED_IN")
TARGETS = [DiscoveredTarget("10.0.0.5", 3260, "iqn.2026-01.test:a", 1),
           DiscoveredTarget("10.0.0.5", 3260, "iqn.2026-01.test:b", None)]


def sdk_read(document: Obj | Collection) -> Any:
    return Reader.read(to_xml(document))


def test_the_sdk_reads_a_hosts_luns() -> None:
    storages = sdk_read(encode.host_storages([LUN], "h1", BASE))
    assert len(storages) == 1
    storage = storages[0]
    assert isinstance(storage, types.HostStorage)
    assert storage.id == LUN.id and storage.type == types.StorageType.ISCSI and storage.host.id == "h1"
    unit = storage.logical_units[0]
    assert (unit.id, unit.address, unit.port, unit.target, unit.portal) == \
        (LUN.id, "10.0.0.5", 3260, "iqn.2026-01.test:a", "10.0.0.5:3260,1")
    assert (unit.lun_mapping, unit.size, unit.serial, unit.vendor_id, unit.product_id) == \
        (1, 64 * 1024 * 1024, "beaf11", "IET", "VIRTUAL-DISK")


def test_an_empty_list_is_an_empty_document() -> None:
    assert sdk_read(encode.host_storages([], "h1", BASE)) == []
    assert json.loads(to_json(encode.host_storages([], "h1", BASE))) == {}


def test_the_json_form_of_a_lun() -> None:
    data = json.loads(to_json(encode.host_storages([LUN], "h1", BASE)))
    item = data["host_storage"][0]
    assert item["id"] == LUN.id and item["href"] == f"{BASE}/hosts/h1/storage/{LUN.id}"
    assert item["logical_units"]["logical_unit"][0]["lun_mapping"] == "1"


def test_the_sdk_reads_both_forms_of_a_discovery() -> None:
    action = sdk_read(encode.discovered_targets(TARGETS))
    assert action.status == "complete"
    assert action.iscsi_targets == ["iqn.2026-01.test:a", "iqn.2026-01.test:b"]
    assert [(d.address, d.port, d.target, d.portal) for d in action.discovered_targets] == [
        ("10.0.0.5", 3260, "iqn.2026-01.test:a", "10.0.0.5:3260,1"),
        ("10.0.0.5", 3260, "iqn.2026-01.test:b", "10.0.0.5:3260"),
    ]
    data = json.loads(to_json(encode.discovered_targets(TARGETS)))
    assert data["iscsi_targets"] == {"iscsi_target": ["iqn.2026-01.test:a", "iqn.2026-01.test:b"]}
    assert json.loads(to_json(encode.discovered_targets([])))["iscsi_targets"] == {}


def test_we_read_the_iscsi_details_the_sdk_sends() -> None:
    details = types.IscsiDetails(address="10.0.0.5", port=3260, target="iqn.2026-01.test:a",
                                 portal="10.0.0.5:3260,1", username="u", password="p")
    body = Writer.write(types.Action(iscsi=details), indent=True).encode()
    fields = schema.read_xml(body, schema.HOST_ACTION)
    assert fields["iscsi"] == {"address": "10.0.0.5", "port": 3260, "target": "iqn.2026-01.test:a",
                               "portal": "10.0.0.5:3260,1", "username": "u", "password": "p"}
