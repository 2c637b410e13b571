"""Fault bodies and status codes of the API over the real Engine, in XML and JSON, with a plain HTTP client."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from .conftest import ADMIN, VIEWER

NFS = b"<storage_connection><type>nfs</type><address>filer</address><path>/exp</path></storage_connection>"


def _login(base: str, user: tuple[str, str]) -> dict[str, str]:
    answer = httpx.post(f"{base}/ovirt-engine/sso/oauth/token", data={
        "grant_type": "password", "username": user[0], "password": user[1], "scope": "ovirt-app-api"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def admin(base: str) -> dict[str, str]:
    return _login(base, ADMIN)


def _fault(answer: httpx.Response) -> tuple[str, str]:
    assert answer.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(answer.content)
    assert root.tag == "fault"
    return root.findtext("reason") or "", root.findtext("detail") or ""


def test_duplicate_is_409_with_ovirts_fault_in_xml_and_json(base: str, admin: dict[str, str]) -> None:
    url = f"{base}/ovirt-engine/api/storageconnections"
    first = httpx.post(url, content=NFS, headers=admin)
    assert first.status_code == 201
    assert first.headers["location"].endswith(f"/ovirt-engine/api/storageconnections/{first.text and ET.fromstring(first.content).attrib['id']}")
    again = httpx.post(url, content=NFS, headers=admin)
    assert again.status_code == 409
    reason, detail = _fault(again)
    assert reason == "Operation Failed"
    assert detail.startswith("[Cannot add Storage Connection.") and detail.endswith("]")
    as_json = httpx.post(url, json={"type": "nfs", "address": "filer", "path": "/exp"},
                         headers={**admin, "Accept": "application/json"})
    assert as_json.status_code == 409
    assert as_json.headers["content-type"].startswith("application/json")
    assert set(as_json.json()) == {"reason", "detail"}


@pytest.mark.parametrize(("body", "content_type"), [
    (b"<storage_connection><type>iscsi</type><address>a</address><port>abc</port></storage_connection>",
     "application/xml"),
    (b'{"type": "iscsi", "address": "a", "port": "abc"}', "application/json"),
    (b"<storage_connection><type>nfs</type><address>filer</address></storage_connection>", "application/xml"),
    (b"<storage_connection><unknown/></storage_connection>", "application/xml"),
    (b"<storage_connection>", "application/xml"),
    (b"{", "application/json"),
])
def test_bad_input_is_400_with_a_fault(base: str, admin: dict[str, str], body: bytes, content_type: str) -> None:
    accept = content_type
    answer = httpx.post(f"{base}/ovirt-engine/api/storageconnections", content=body,
                        headers={**admin, "Content-Type": content_type, "Accept": accept})
    assert answer.status_code == 400, answer.text
    if accept == "application/json":
        assert set(answer.json()) == {"reason", "detail"}
    else:
        assert _fault(answer)[1]


def test_unknown_id_is_404(base: str, admin: dict[str, str]) -> None:
    answer = httpx.get(f"{base}/ovirt-engine/api/storageconnections/00000000-0000-0000-0000-000000000001",
                       headers=admin)
    assert answer.status_code == 404
    _fault(answer)


def test_unauthenticated_is_401_and_a_viewer_is_403(base: str) -> None:
    url = f"{base}/ovirt-engine/api/storageconnections"
    assert httpx.get(url).status_code == 401
    viewer = _login(base, VIEWER)
    assert httpx.get(url, headers=viewer).status_code == 200
    denied = httpx.post(url, content=NFS, headers=viewer)
    assert denied.status_code == 403
    _fault(denied)
