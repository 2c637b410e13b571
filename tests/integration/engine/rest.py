"""The engine's REST API as the engine's integration tests speak it: bodies, answers and faults in XML or JSON.

Plain helpers the test modules import; the fixtures built on them (``api``,
``engine``, ``server``...) are in ``conftest.py``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from storconn.engine import secrets
from storconn.engine.db import Database, Repository
from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine
from tests.peers.agent import free_port

MEDIA = {"xml": "application/xml", "json": "application/json"}
KEY = "Storconn-Message-Key"
COLLECTIONS = ("storageconnections", "storagedomains", "datacenters", "hosts", "disks", "vms")
FAILED = "Operation Failed"
INCOMPLETE = "Incomplete parameters"

NFS = {"type": "nfs", "address": "filer.example.com", "path": "/exports/data"}
ISCSI = {"type": "iscsi", "address": "10.0.0.5", "port": 3260, "target": "iqn.2026-01.test:lun1"}
NFS_FIELDS = ConnectionFields(
    type=StorageType.NFS, address="filer.example.com", path="/exports/data"
)


def iscsi_fields(address: str = "10.0.0.5", **extra: Any) -> ConnectionFields:
    return ConnectionFields(
        type=StorageType.ISCSI, address=address, port=3260, target="iqn.2026-01.test:lun1", **extra
    )


# -- bodies and answers in either format -------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_element(tag: str, fields: dict[str, Any]) -> ET.Element:
    """``{"id": ..}`` is an attribute, a dict a nested element, a list ``<plural><singular/>..</plural>``."""
    element = ET.Element(tag)
    for name, value in fields.items():
        if name == "id":
            element.set("id", value)
        elif isinstance(value, dict):
            element.append(_xml_element(name, value))
        elif isinstance(value, list):
            plural = ET.SubElement(element, name)
            for item in value:
                plural.append(_xml_element(name[:-1], item))
        else:
            ET.SubElement(element, name).text = _scalar(value)
    return element


def _json_value(value: Any, name: str = "") -> Any:
    """oVirt's JSON: a list element is ``{"logical_unit": [...]}``."""
    if isinstance(value, dict):
        return {key: _json_value(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return {name[:-1]: [_json_value(item) for item in value]}
    return value


def encode_body(fmt: str, tag: str, fields: dict[str, Any]) -> bytes:
    if fmt == "xml":
        return bytes(ET.tostring(_xml_element(tag, fields), encoding="utf-8"))
    return json.dumps(_json_value(fields)).encode()


def _xml_dict(element: ET.Element) -> Any:
    """An XML element as the JSON form of the same document (so tests read both alike)."""
    if not len(element) and not element.attrib:
        return element.text or ""
    out: dict[str, Any] = dict(element.attrib)
    children = list(element)
    if (
        children
        and all(child.tag == children[0].tag for child in children)
        and (element.tag == children[0].tag + "s")
    ):
        return {**out, children[0].tag: [_xml_dict(child) for child in children]}
    for child in children:
        if child.tag == "link":
            out.setdefault("link", []).append(dict(child.attrib))
        else:
            out[child.tag] = _xml_dict(child)
    return out


class Api:
    """A client of ``/ovirt-engine/api`` that speaks one format for bodies and answers."""

    def __init__(self, client: httpx.Client, fmt: str) -> None:
        self.fmt = fmt
        self.media = MEDIA[fmt]
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: tuple[str, dict[str, Any]] | None = None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = None
        all_headers = dict(headers or {})
        if body is not None:
            content = encode_body(self.fmt, *body)
            all_headers.setdefault("Content-Type", self.media)
        return self.client.request(
            method, path, content=content, params=params, headers=all_headers
        )

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.call("GET", path, **options)

    def post(self, path: str, tag: str, fields: dict[str, Any], **options: Any) -> httpx.Response:
        return self.call("POST", path, (tag, fields), **options)

    def put(self, path: str, tag: str, fields: dict[str, Any], **options: Any) -> httpx.Response:
        return self.call("PUT", path, (tag, fields), **options)

    def delete(self, path: str, **options: Any) -> httpx.Response:
        return self.call("DELETE", path, **options)

    # -- answers --

    def read(self, answer: httpx.Response) -> dict[str, Any]:
        """An entity answer as a dict (XML read into the JSON form); asserts the format."""
        assert answer.headers["content-type"].startswith(self.media), answer.headers
        if self.fmt == "xml":
            found = _xml_dict(ET.fromstring(answer.content))
            return found if isinstance(found, dict) else {}
        data: dict[str, Any] = answer.json()
        return data

    def read_list(self, answer: httpx.Response, singular: str) -> list[dict[str, Any]]:
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(self.media), answer.headers
        if self.fmt == "xml":
            return [_xml_dict(child) for child in ET.fromstring(answer.content).findall(singular)]
        items: list[dict[str, Any]] = answer.json().get(singular, [])
        return items

    def ids(self, path: str, singular: str) -> list[str]:
        return [item["id"] for item in self.read_list(self.get(path), singular)]

    def add_connection(self, fields: dict[str, Any], **options: Any) -> dict[str, Any]:
        answer = self.post("/storageconnections", "storage_connection", fields, **options)
        assert answer.status_code == 201, answer.text
        return self.read(answer)

    def fault(self, answer: httpx.Response) -> tuple[str, str]:
        assert answer.headers["content-type"].startswith(self.media), answer.headers
        if self.fmt == "xml":
            root = ET.fromstring(answer.content)
            assert root.tag == "fault", answer.text
            return root.findtext("reason") or "", root.findtext("detail") or ""
        data = answer.json()
        assert set(data) == {"reason", "detail"}, data
        return data["reason"], data["detail"]

    def expect_fault(
        self,
        answer: httpx.Response,
        status: int,
        key: str,
        *,
        detail: str | None = None,
        reason: str = FAILED,
        contains: tuple[str, ...] = (),
    ) -> str:
        """Assert a fault answer: status, message key header, reason, and the detail (exact or parts)."""
        assert answer.status_code == status, answer.text
        assert answer.headers.get(KEY) == key, (answer.headers.get(KEY), answer.text)
        got_reason, got_detail = self.fault(answer)
        assert got_reason == reason
        if detail is not None:
            assert got_detail == detail
        for part in contains:
            assert part in got_detail, (part, got_detail)
        return got_detail

    def snapshot(self) -> dict[str, bytes]:
        """Every collection, and every domain's connections and VM's disks, as answered.

        Equal snapshots mean nothing stored changed.
        """
        found = {name: self.client.get(f"/{name}").content for name in COLLECTIONS}
        for plural, singular, sub in (
            ("storagedomains", "storage_domain", "storageconnections"),
            ("vms", "vm", "diskattachments"),
            ("datacenters", "data_center", "storagedomains"),
        ):
            listed = self.client.get(f"/{plural}", headers={"Accept": "application/json"}).json()
            for item in listed.get(singular, []):
                found[f"{plural}/{item['id']}/{sub}"] = self.client.get(
                    f"/{plural}/{item['id']}/{sub}"
                ).content
        return found


Clients = Callable[[str, str, "tuple[str, str] | None"], Api]


# -- the engine behind the API -----------------------------------------------------------------


class CurrentEngine:
    """What the module's one server serves: the Engine of the test running now.

    One uvicorn per module instead of one per test (starting and stopping
    one costs more than most tests); each test still gets a fresh Engine
    and database behind it.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def __getattr__(self, name: str) -> Any:
        assert self.engine is not None, "no engine behind the server"
        return getattr(self.engine, name)


@contextmanager
def repository(tmp_path: Path) -> Iterator[Repository]:
    """The engine's database directly, for states the API cannot produce (an FCP connection...)."""
    db = Database(f"sqlite:///{tmp_path / 'engine.db'}")
    try:
        with db.transaction() as session:
            yield Repository(session, secrets.SecretBox(tmp_path / "key"))
    finally:
        db.close()


def unreachable_host(engine: Engine, name: str = "h1", data_center_id: str | None = None) -> Any:
    """A host whose agent does not answer (a closed loopback port): it stays non-responsive."""
    return engine.add_host(
        name, address="127.0.0.1", port=free_port(), token="token", data_center_id=data_center_id
    )


def lun_disk(engine: Engine, name: str, *addresses: str, lun_id: str = "36001405aa") -> Any:
    return engine.add_lun_disk(
        name, lun_id=lun_id, connections=[iscsi_fields(a) for a in addresses]
    )
