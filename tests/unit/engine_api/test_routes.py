"""The routes over the fake engine: status codes, Location, faults (XML and JSON), query parameters, limits."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import pytest

from storconn.engine.api.media import MESSAGE_KEY_HEADER
from storconn.engine.model import DomainStatus, VmStatus

from .fake_engine import FakeEngine

if TYPE_CHECKING:
    from starlette.testclient import TestClient

API = "/ovirt-engine/api"
NFS_BODY = b"<storage_connection><type>nfs</type><address>filer</address><path>/exp</path></storage_connection>"
XML_JSON = {"Accept": "application/json"}


def xml(answer: Any) -> ET.Element:
    assert answer.headers["content-type"].startswith("application/xml"), answer.headers
    return ET.fromstring(answer.content)


def fault(answer: Any) -> tuple[str, str]:
    root = xml(answer)
    assert root.tag == "fault"
    return root.findtext("reason") or "", root.findtext("detail") or ""


def add_nfs(client: TestClient, admin: dict[str, str], body: bytes = NFS_BODY) -> str:
    answer = client.post(f"{API}/storageconnections", content=body, headers=admin)
    assert answer.status_code == 201, answer.text
    return xml(answer).attrib["id"]


# --- storage connections ---


def test_add_answers_201_with_an_absolute_location_and_the_entity(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.post(f"{API}/storageconnections", content=NFS_BODY, headers=admin)
    assert answer.status_code == 201
    root = xml(answer)
    assert answer.headers["location"] == f"http://testserver{API}/storageconnections/{root.attrib['id']}"
    assert root.attrib["href"] == f"{API}/storageconnections/{root.attrib['id']}"
    assert (root.findtext("address"), root.findtext("path"), root.findtext("type")) == ("filer", "/exp", "nfs")


@pytest.mark.parametrize("how", [{"params": {"async": "true"}}, {"headers": {"Expect": "202-accepted"}}])
def test_add_answers_202_when_asked_for_async(client: TestClient, admin: dict[str, str], how: dict[str, Any]) -> None:
    headers = {**admin, **how.get("headers", {})}
    answer = client.post(f"{API}/storageconnections", content=NFS_BODY, headers=headers, params=how.get("params"))
    assert answer.status_code == 202
    assert xml(answer).tag == "storage_connection"


def test_add_passes_the_host_and_a_client_id(client: TestClient, admin: dict[str, str], engine: FakeEngine) -> None:
    client.post(f"{API}/hosts", content=b"<host><name>h1</name><address>127.0.0.1</address></host>", headers=admin)
    body = b"<storage_connection><type>localfs</type><path>/d</path><host><name>h1</name></host></storage_connection>"
    assert client.post(f"{API}/storageconnections", content=body, headers=admin).status_code == 201
    assert engine.calls[-1][2]["host"] == "h1"
    with_id = b'<storage_connection id="mine"><type>localfs</type><path>/e</path></storage_connection>'
    answer = client.post(f"{API}/storageconnections", content=with_id, headers=admin)
    assert answer.status_code == 400
    assert "id is not empty" in fault(answer)[1]
    assert answer.headers[MESSAGE_KEY_HEADER] == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ID_NOT_EMPTY"


def test_a_duplicate_is_a_409_fault_in_xml_and_json(client: TestClient, admin: dict[str, str]) -> None:
    add_nfs(client, admin)
    answer = client.post(f"{API}/storageconnections", content=NFS_BODY, headers=admin)
    assert answer.status_code == 409
    reason, detail = fault(answer)
    assert reason == "Operation Failed"
    assert detail.startswith("[Cannot add Storage Connection. Storage connection already exists")
    assert answer.headers[MESSAGE_KEY_HEADER] == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS"
    as_json = client.post(f"{API}/storageconnections", json={"type": "nfs", "address": "filer", "path": "/exp"},
                          headers={**admin, **XML_JSON})
    assert as_json.status_code == 409
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == {"reason": "Operation Failed", "detail": detail}


def test_bad_input_is_a_400_fault_naming_the_element(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.post(f"{API}/storageconnections", headers=admin,
                         content=b"<storage_connection><type>iscsi</type><port>x</port></storage_connection>")
    assert answer.status_code == 400
    assert "storage_connection/port" in fault(answer)[1]
    as_json = client.post(f"{API}/storageconnections", headers={**admin, **XML_JSON}, json={"prot": 1})
    assert as_json.status_code == 400
    assert "storage_connection/prot" in as_json.json()["detail"]
    malformed = client.post(f"{API}/storageconnections", headers={**admin, "Content-Type": "application/json"},
                            content=b"{nope")
    assert malformed.status_code == 400 and fault(malformed)[0] == "Request syntactically incorrect."


def test_list_get_update_remove(client: TestClient, admin: dict[str, str], engine: FakeEngine) -> None:
    first = add_nfs(client, admin)
    add_nfs(client, admin, NFS_BODY.replace(b"/exp", b"/exp2"))
    listed = xml(client.get(f"{API}/storageconnections", headers=admin))
    assert listed.tag == "storage_connections" and len(listed) == 2
    assert len(xml(client.get(f"{API}/storageconnections", params={"max": "1"}, headers=admin))) == 1
    assert len(xml(client.get(f"{API}/storageconnections", params={"max": "-1"}, headers=admin))) == 2
    assert xml(client.get(f"{API}/storageconnections/{first}", headers=admin)).findtext("path") == "/exp"
    updated = client.put(f"{API}/storageconnections/{first}", params={"force": "true", "async": "true"},
                         content=b"<storage_connection><path>/moved</path></storage_connection>", headers=admin)
    assert updated.status_code == 200  # the SDK's update accepts only 200
    assert xml(updated).findtext("path") == "/moved"
    assert engine.calls[-1][2]["force"] is True
    removed = client.delete(f"{API}/storageconnections/{first}", headers=admin, params={"async": "true"})
    assert (removed.status_code, removed.content) == (200, b"")
    missing = client.get(f"{API}/storageconnections/{first}", headers=admin)
    assert missing.status_code == 404 and fault(missing)[0] == "Not Found"


def test_bad_query_parameters_are_named(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.get(f"{API}/storageconnections", params={"max": "ten"}, headers=admin)
    assert answer.status_code == 400 and "'max'" in fault(answer)[1]
    cid = add_nfs(client, admin)
    answer = client.put(f"{API}/storageconnections/{cid}", params={"force": "perhaps"}, headers=admin,
                        content=b"<storage_connection/>")
    assert answer.status_code == 400 and "'force'" in fault(answer)[1]


def test_changing_the_id_on_update_is_409(client: TestClient, admin: dict[str, str]) -> None:
    cid = add_nfs(client, admin)
    answer = client.put(f"{API}/storageconnections/{cid}", content=b'<storage_connection id="other"/>', headers=admin)
    assert answer.status_code == 409
    assert fault(answer) == ("Broken immutability constraint", "[Attempt to set immutable field: id]")


def test_remove_takes_the_host_from_the_query_or_the_body(client: TestClient, admin: dict[str, str],
                                                          engine: FakeEngine) -> None:
    client.post(f"{API}/hosts", content=b"<host><name>h1</name><address>127.0.0.1</address></host>", headers=admin)
    for params, body, expected in (({"host": "h1"}, b"", "h1"), ({}, b"<host><name>h1</name></host>", "h1"),
                                   ({}, b"<action><host><name>h1</name></host></action>", "h1"), ({}, b"", None)):
        cid = add_nfs(client, admin)
        answer = client.request("DELETE", f"{API}/storageconnections/{cid}", params=params, content=body,
                                headers=admin)
        assert answer.status_code == 200, answer.text
        assert engine.calls[-1] == ("remove_connection", (cid,), {"host": expected})
    cid = add_nfs(client, admin)
    unknown = client.delete(f"{API}/storageconnections/{cid}", params={"host": "nobody"}, headers=admin)
    assert unknown.status_code == 404


# --- HTTP-level faults and limits ---


@pytest.mark.parametrize("path", ["/nothing", "/storageconnections/a/b/c", "/vms/x/migrate/y"])
def test_unknown_paths_are_404_faults(client: TestClient, admin: dict[str, str], path: str) -> None:
    answer = client.get(f"{API}{path}", headers=admin)
    assert answer.status_code == 404
    assert fault(answer)[0] == "Not Found"
    as_json = client.get(f"{API}{path}", headers={**admin, **XML_JSON})
    assert as_json.json()["reason"] == "Not Found"


def test_a_wrong_method_is_a_405_fault(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.patch(f"{API}/storageconnections", headers=admin, content=b"")
    assert answer.status_code == 405
    assert fault(answer)[0] == "Method Not Allowed"


def test_a_huge_body_is_413_with_or_without_a_length(client: TestClient, admin: dict[str, str]) -> None:
    huge = b"<storage_connection><address>" + b"a" * (1024 * 1024 + 1) + b"</address></storage_connection>"
    answer = client.post(f"{API}/storageconnections", content=huge, headers=admin)
    assert answer.status_code == 413
    assert fault(answer)[0] == "Request Entity Too Large"

    def chunks() -> Any:
        for _ in range(20):
            yield b"a" * 100_000

    streamed = client.post(f"{API}/storageconnections", content=chunks(), headers=admin)
    assert streamed.status_code == 413


def test_an_unsupported_content_type_is_415(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.post(f"{API}/storageconnections", content=NFS_BODY, headers={**admin, "Content-Type": "text/plain"})
    assert answer.status_code == 415


def test_a_body_without_content_type_is_sniffed(client: TestClient, admin: dict[str, str]) -> None:
    headers = {**admin, "Content-Type": ""}
    assert client.post(f"{API}/storageconnections", content=NFS_BODY, headers=headers).status_code == 201
    answer = client.post(f"{API}/storageconnections", headers=headers,
                         content=b'{"type": "localfs", "path": "/data"}')
    assert answer.status_code == 201


def test_accept_chooses_the_answer_format(client: TestClient, admin: dict[str, str]) -> None:
    add_nfs(client, admin)
    for accept, kind in (("application/json", "json"), ("application/xml", "xml"), ("*/*", "xml"), ("", "xml"),
                         ("application/xml;q=0.5, application/json", "json"), ("text/html", "xml")):
        answer = client.get(f"{API}/storageconnections", headers={**admin, "Accept": accept})
        assert answer.headers["content-type"].startswith(f"application/{kind}"), accept


def test_an_unexpected_error_is_a_500_fault_without_internals(client: TestClient, admin: dict[str, str],
                                                              engine: FakeEngine) -> None:
    def explode(**kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    engine.list_connections = explode  # type: ignore[method-assign]
    answer = client.get(f"{API}/storageconnections", headers=admin)
    assert answer.status_code == 500
    assert b"secret internals" not in answer.content
    assert fault(answer)[0] == "Internal Server Error"


# --- storage domains and their connections ---


def test_domain_on_an_existing_connection_and_on_new_fields(client: TestClient, admin: dict[str, str],
                                                             engine: FakeEngine) -> None:
    cid = add_nfs(client, admin)
    answer = client.post(f"{API}/storagedomains", headers=admin,
                         content=f'<storage_domain><name>d1</name><type>data</type><storage id="{cid}"/>'
                                 f"</storage_domain>".encode())
    assert answer.status_code == 201, answer.text
    root = xml(answer)
    assert root.findtext("storage/path") == "/exp" and root.findtext("status") == "unattached"
    assert engine.calls[-1][2]["storage_type"] == "nfs"
    embedded = client.post(f"{API}/storagedomains", headers={**admin, **XML_JSON}, json={
        "name": "d2", "storage": {"type": "posixfs", "path": "/dev/sdc1", "vfs_type": "xfs"}})
    assert embedded.status_code == 201, embedded.text
    assert embedded.json()["storage"]["vfs_type"] == "xfs"


def test_domain_on_an_unknown_connection_is_400(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.post(f"{API}/storagedomains", headers=admin,
                         content=b'<storage_domain><name>d1</name><storage id="nope"/></storage_domain>')
    assert answer.status_code == 400
    assert fault(answer)[1].startswith("[Cannot add Storage.")


def test_domain_update_search_and_remove(client: TestClient, admin: dict[str, str]) -> None:
    cid = add_nfs(client, admin)
    sd = xml(client.post(f"{API}/storagedomains", headers=admin, content=(
        f'<storage_domain><name>alpha</name><storage id="{cid}"/></storage_domain>').encode())).attrib["id"]
    updated = client.put(f"{API}/storagedomains/{sd}", headers=admin,
                         content=b"<storage_domain><name>beta</name><description>b</description></storage_domain>")
    assert xml(updated).findtext("name") == "beta"
    refused = client.put(f"{API}/storagedomains/{sd}", headers=admin,
                         content=b"<storage_domain><type>iso</type></storage_domain>")
    assert refused.status_code == 400 and "storage_domain/type" in fault(refused)[1]
    assert len(xml(client.get(f"{API}/storagedomains", params={"search": "name=be*"}, headers=admin))) == 1
    assert len(xml(client.get(f"{API}/storagedomains", params={"search": "name=alpha"}, headers=admin))) == 0
    assert len(xml(client.get(f"{API}/storagedomains", params={"search": "name=BETA", "case_sensitive": "false"},
                              headers=admin))) == 1
    odd = client.get(f"{API}/storagedomains", params={"search": "status=up"}, headers=admin)
    assert odd.status_code == 400
    assert client.delete(f"{API}/storagedomains/{sd}", headers=admin).status_code == 200
    assert client.get(f"{API}/storagedomains/{sd}", headers=admin).status_code == 404


def test_domain_connections_attach_list_get_detach(client: TestClient, admin: dict[str, str]) -> None:
    iscsi = b"<storage_connection><type>iscsi</type><address>10.0.0.5</address><target>iqn.x</target></storage_connection>"
    first = add_nfs(client, admin, iscsi)
    second = add_nfs(client, admin, iscsi.replace(b"10.0.0.5", b"10.0.0.6"))
    sd = xml(client.post(f"{API}/storagedomains", headers=admin, content=(
        f'<storage_domain><name>block</name><storage id="{first}"/></storage_domain>').encode())).attrib["id"]
    base = f"{API}/storagedomains/{sd}/storageconnections"
    attached = client.post(base, content=f'<storage_connection id="{second}"/>'.encode(), headers=admin)
    assert attached.status_code == 200
    assert xml(attached).attrib["href"] == f"{base}/{second}"
    twice = client.post(base, content=f'<storage_connection id="{second}"/>'.encode(), headers=admin)
    assert twice.status_code == 409
    no_id = client.post(base, content=b"<storage_connection/>", headers=admin)
    assert no_id.status_code == 400 and fault(no_id)[0] == "Incomplete parameters"
    assert {c.attrib["id"] for c in xml(client.get(base, headers=admin))} == {first, second}
    assert client.get(f"{base}/{second}", headers=admin).status_code == 200
    assert client.delete(f"{base}/{second}", headers=admin).status_code == 200
    assert client.get(f"{base}/{second}", headers=admin).status_code == 404
    assert client.delete(f"{base}/{second}", headers=admin).status_code == 400


# --- data centers ---


def test_data_center_attach_activate_deactivate_detach(client: TestClient, admin: dict[str, str],
                                                       engine: FakeEngine) -> None:
    cid = add_nfs(client, admin)
    sd = xml(client.post(f"{API}/storagedomains", headers=admin, content=(
        f'<storage_domain><name>d1</name><storage id="{cid}"/></storage_domain>').encode())).attrib["id"]
    dc = client.post(f"{API}/datacenters", headers=admin,
                     content=b"<data_center><name>Default</name><local>false</local></data_center>")
    assert dc.status_code == 201
    dc_id = xml(dc).attrib["id"]
    base = f"{API}/datacenters/{dc_id}/storagedomains"
    attached = client.post(base, content=b"<storage_domain><name>d1</name></storage_domain>", headers=admin)
    assert attached.status_code == 201
    assert attached.headers["location"].endswith(f"{base}/{sd}")
    assert xml(attached).findtext("status") == "maintenance"
    activated = client.post(f"{base}/{sd}/activate", content=b"<action/>", headers=admin)
    assert activated.status_code == 200
    assert xml(activated).findtext("status") == "complete"
    assert engine.domains[sd].status == DomainStatus.ACTIVE
    engine.fail_hosts = ["h2"]
    partly = client.post(f"{base}/{sd}/activate", content=b"", headers=admin)
    assert "h2" in (xml(partly).findtext("description") or "")
    asynchronous = client.post(f"{base}/{sd}/deactivate", content=b"<action><async>true</async></action>",
                               headers=admin)
    assert asynchronous.status_code == 202
    assert engine.domains[sd].status == DomainStatus.MAINTENANCE
    assert [d.attrib["id"] for d in xml(client.get(base, headers=admin))] == [sd]
    assert xml(client.get(f"{base}/{sd}", headers=admin)).find("data_center").attrib["id"] == dc_id  # type: ignore[union-attr]
    assert client.delete(f"{base}/{sd}", headers=admin).status_code == 200
    assert client.get(f"{base}/{sd}", headers=admin).status_code == 404
    bad_action = client.post(f"{base}/{sd}/activate", content=b"<action><bogus/></action>", headers=admin)
    assert bad_action.status_code == 400


# --- hosts, disks, VMs ---


def test_host_token_goes_in_and_never_comes_out(client: TestClient, admin: dict[str, str], engine: FakeEngine) -> None:
    dc_id = xml(client.post(f"{API}/datacenters", headers=admin,
                            content=b"<data_center><name>Default</name></data_center>")).attrib["id"]
    answer = client.post(f"{API}/hosts", headers=admin, content=(
        b"<host><name>h1</name><address>127.0.0.1</address><root_password>agent-token</root_password>"
        b"<cluster><data_center><name>Default</name></data_center></cluster></host>"))
    assert answer.status_code == 201
    assert engine.calls[-1] == ("add_host", ("h1",), {"address": "127.0.0.1", "port": 54321, "token": "agent-token",
                                                      "data_center_id": dc_id})
    host_id = xml(answer).attrib["id"]
    for path in (f"{API}/hosts", f"{API}/hosts/{host_id}", f"{API}/hosts/h1"):
        shown = client.get(path, headers=admin)
        assert shown.status_code == 200 and b"agent-token" not in shown.content
    assert client.delete(f"{API}/hosts/{host_id}", headers=admin).status_code == 200
    unknown_dc = client.post(f"{API}/hosts", headers=admin, content=(
        b"<host><name>h2</name><address>a</address><cluster><data_center id='x'/></cluster></host>"))
    assert unknown_dc.status_code == 404


def test_lun_disk_add_get_list_remove(client: TestClient, admin: dict[str, str]) -> None:
    body = (b"<disk><alias>lun1</alias><lun_storage><type>iscsi</type><logical_units>"
            b'<logical_unit id="36001"><address>10.0.0.5</address><port>3260</port><target>iqn.x</target>'
            b"<username>u</username><password>lun-secret</password></logical_unit>"
            b"</logical_units></lun_storage></disk>")
    answer = client.post(f"{API}/disks", content=body, headers=admin)
    assert answer.status_code == 201, answer.text
    assert b"lun-secret" not in answer.content
    disk_id = xml(answer).attrib["id"]
    assert xml(answer).find("lun_storage/logical_units/logical_unit").attrib["id"] == "36001"  # type: ignore[union-attr]
    assert len(xml(client.get(f"{API}/disks", params={"search": "name=lun*"}, headers=admin))) == 1
    assert b"lun-secret" not in client.get(f"{API}/storageconnections", headers=admin).content
    assert client.delete(f"{API}/disks/{disk_id}", headers=admin).status_code == 200


def test_vm_status_actions_and_disk_attachments(client: TestClient, admin: dict[str, str], engine: FakeEngine) -> None:
    disk = engine.add_lun_disk("lun1", lun_id="L", connections=[])
    answer = client.post(f"{API}/vms", headers=admin,
                         content=b"<vm><name>vm1</name><cluster><name>Default</name></cluster></vm>")
    assert answer.status_code == 201
    vm_id = xml(answer).attrib["id"]
    attach = client.post(f"{API}/vms/{vm_id}/diskattachments", headers=admin,
                         content=b"<disk_attachment><disk><name>lun1</name></disk><active>true</active>"
                                 b"<interface>virtio_scsi</interface></disk_attachment>")
    assert attach.status_code == 201
    assert xml(attach).findtext("active") == "true"
    assert client.post(f"{API}/vms/{vm_id}/start", content=b"<action/>", headers=admin).status_code == 200
    assert engine.vms[vm_id].status == VmStatus.UP
    followed = xml(client.get(f"{API}/vms/{vm_id}", params={"follow": "disk_attachments"}, headers=admin))
    assert followed.findtext("status") == "up"
    assert followed.find("disk_attachments/disk_attachment/disk").attrib["id"] == disk.id  # type: ignore[union-attr]
    assert client.post(f"{API}/vms/{vm_id}/shutdown", headers=admin).status_code == 200
    assert engine.vms[vm_id].status == VmStatus.DOWN
    assert len(xml(client.get(f"{API}/vms/{vm_id}/diskattachments", headers=admin))) == 1
    assert client.get(f"{API}/vms/{vm_id}/diskattachments/{disk.id}", headers=admin).status_code == 200
    assert client.get(f"{API}/vms/{vm_id}/diskattachments/other", headers=admin).status_code == 404
    assert client.post(f"{API}/vms/{vm_id}/migrate", headers=admin).status_code == 404


def test_api_root(client: TestClient, admin: dict[str, str]) -> None:
    root = xml(client.get(API, headers=admin))
    assert root.tag == "api"
    assert root.findtext("product_info/version/major") == "4"
    rels = {link.attrib["rel"] for link in root.findall("link")}
    assert {"storageconnections", "storagedomains", "datacenters", "hosts", "disks", "vms"} <= rels


def test_doubled_and_trailing_slashes_are_tolerated(client: TestClient, admin: dict[str, str]) -> None:
    cid = add_nfs(client, admin)
    assert client.get(f"{API}//storageconnections/", headers=admin).status_code == 200
    assert client.get(f"{API}/storageconnections//{cid}/", headers=admin).status_code == 200
    assert client.get(f"{API}/", headers=admin).status_code == 200
