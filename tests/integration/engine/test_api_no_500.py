"""Every route of the real Engine's REST API, with secret-bearing state and bad input: never a 500, never a secret.

On SQLite and on PostgreSQL. The routes come from the served application's own route table, so a route
added later is swept without touching this file. The engine holds what
made 500s before: iSCSI connections with CHAP (one shared by two domains,
one reused by a LUN disk), a domain on a CHAP target in a data center, a
VM with the disk, a host with a token. Each route is called with known
ids, unknown ids and ids that are no UUID, with no body, malformed XML and
JSON, wrong types, unknown elements and bodies that carry passwords, in
both formats; then every answer is checked: a status below 500, and none
of the secrets in it. ``PUT`` of an unknown id answers 404 on every route
that has one, as oVirt's REST layer does.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storconn.engine import secrets
from storconn.engine.api import create_app
from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine
from tests.peers.agent import free_port
from tests.unit.engine_api.server import serve

from .conftest import ADMIN, open_engine

API = "/ovirt-engine/api"
UNKNOWN = "0b9e0000-0000-0000-0000-00000000dead"
NOT_AN_ID = "not-an-id"
CHAP_PASSWORD = "chap-Secret-0451"
OTHER_PASSWORD = "chap-Secret-2187"
NEW_PASSWORD = "chap-Secret-9999"
HOST_TOKEN = "host-Token-7a7a7a"
SECRETS = (CHAP_PASSWORD, OTHER_PASSWORD, NEW_PASSWORD, HOST_TOKEN)
TARGET = "iqn.2026-01.test:chap"
XML = "application/xml"
JSON = "application/json"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "SCRYPT_N", 2**10)


def chap(address: str, password: str = CHAP_PASSWORD) -> ConnectionFields:
    return ConnectionFields(
        type=StorageType.ISCSI, address=address, port=3260, target=TARGET,
        username="chapuser", password=password,
    )


def iscsi_body(address: str, password: str = CHAP_PASSWORD) -> dict[str, Any]:
    return {"type": "iscsi", "address": address, "port": 3260, "target": TARGET,
            "username": "chapuser", "password": password}


def seed(engine: Engine) -> dict[str, str]:
    """The secret-bearing world; its ids by the path parameters' names."""
    dc = engine.add_data_center("dc1")
    host = engine.add_host("h1", address="127.0.0.1", port=free_port(), token=HOST_TOKEN,
                           data_center_id=dc.id)
    shared = engine.add_connection(chap("10.0.0.5"))
    one = engine.add_domain("iscsi1", storage_type=StorageType.ISCSI, connection_id=shared.id)
    # A second domain on the same CHAP target shares its connection (the old 500).
    two = engine.add_domain("iscsi2", storage_type=StorageType.ISCSI, connection=chap("10.0.0.5"))
    engine.attach_domain(dc.id, one.id)
    nfs = engine.add_connection(
        ConnectionFields(type=StorageType.NFS, address="filer", path="/exports/data")
    )
    file_domain = engine.add_domain("nfs1", storage_type=StorageType.NFS, connection_id=nfs.id)
    # A LUN disk reusing the CHAP connection.
    disk = engine.add_lun_disk("lun1", lun_id="36001405ab", connections=[chap("10.0.0.5")])
    vm = engine.add_vm("vm1")
    engine.attach_disk(vm.id, disk.id)
    return {
        "connection_id": shared.id, "nfs": nfs.id, "domain_id": one.id, "sd_id": one.id,
        "other_domain": two.id, "file_domain": file_domain.id, "dc_id": dc.id,
        "host_id": host.id, "disk_id": disk.id, "vm_id": vm.id, "attachment_id": disk.id,
    }


def routes() -> list[tuple[str, str]]:
    """(method, path) of every route the application serves under the API, DELETE last."""
    app = create_app(object())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI warns about duplicate operation ids
        paths = app.openapi()["paths"]
    found = [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(API)
        for method in operations
    ]
    # Removals last, so that the others see the whole world.
    return sorted(found, key=lambda route: (route[0] == "DELETE", route[1], route[0]))


ROUTES = routes()


def fill(path: str, ids: dict[str, str], replace: dict[str, str] | None = None) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return (replace or {}).get(name) or ids.get(name) or UNKNOWN

    return re.sub(r"\{(\w+)\}", one, path).removeprefix(API)


def variants(path: str, ids: dict[str, str]) -> list[str]:
    """The path with the world's ids, then with each parameter unknown or not an id."""
    params = re.findall(r"\{(\w+)\}", path)
    out = [fill(path, ids)]
    for name in params:
        for value in (UNKNOWN, NOT_AN_ID):
            out.append(fill(path, ids, {name: value}))
    return out


def bodies(method: str, path: str) -> list[tuple[str, bytes]]:
    """(content type, body) for a route: bad ones for all, secret-bearing ones for all."""
    out: list[tuple[str, bytes]] = [
        (XML, b""),
        (XML, b"<storage_connection><address>"),
        (JSON, b'{"address": '),
        (XML, b"<action><host id='x'/><zzz/></action>"),
        (JSON, b'{"port": "abc", "address": ["x"], "host": {"id": 7}}'),
        (JSON, b"[1, 2, 3]"),
        (JSON, b'"just a string"'),
        (XML, b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'y'>]><x>&e;</x>"),
    ]
    for address in ("10.0.0.5", "10.0.0.6"):
        for password in (CHAP_PASSWORD, NEW_PASSWORD):
            fields = iscsi_body(address, password)
            out.append((JSON, json.dumps(fields).encode()))
            out.append((XML, _xml("storage_connection", fields)))
            if password != CHAP_PASSWORD:
                continue
            domain = {"name": f"d-{address}-{password[-4:]}", "type": "data",
                      "storage": fields, "host": {"name": "h1"}}
            out.append((JSON, json.dumps(domain).encode()))
            out.append((XML, _xml("storage_domain", domain)))
            lun = {"name": f"l-{address}", "lun_storage": {"type": "iscsi", "logical_units": {
                "logical_unit": [{"id": "36001405cd", **{k: v for k, v in fields.items() if k != "type"}}]}}}
            out.append((JSON, json.dumps(lun).encode()))
    # An edit without a password (keeps the stored one) and one that changes it.
    out.append((JSON, b'{"address": "10.0.0.5", "username": "chapuser"}'))
    out.append((JSON, json.dumps({"password": NEW_PASSWORD}).encode()))
    out.append((XML, f"<action><host><name>h1</name></host><password>{NEW_PASSWORD}</password></action>".encode()))
    out.append((JSON, b'{"host": {"id": "00000000-0000-0000-0000-000000000000"}}'))
    out.append((XML, b"<host id='00000000-0000-0000-0000-000000000000'/>"))
    return out


def _xml(tag: str, fields: dict[str, Any]) -> bytes:
    def inner(value: Any) -> str:
        if isinstance(value, dict):
            return "".join(
                "".join(f"<{k}>{inner(i)}</{k}>" for i in v) if isinstance(v, list) else f"<{k}>{inner(v)}</{k}>"
                for k, v in value.items()
            )
        return str(value)

    return f"<{tag}>{inner(fields)}</{tag}>".encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[httpx.Client, dict[str, str], Engine]]:
    """The seeded engine served on loopback, on SQLite and on a real PostgreSQL (which refuses more)."""
    if request.param == "sqlite":
        engine = open_engine(tmp_path)
    else:
        url = request.getfixturevalue("postgres").new_database()
        engine = Engine(url, key_file=tmp_path / "key", admin_password=ADMIN[1])
    try:
        ids = seed(engine)
        with serve(create_app(engine)) as root:
            with httpx.Client(base_url=f"{root}{API}", auth=ADMIN, timeout=60.0) as client:
                yield client, ids, engine
    finally:
        engine.close()


def check(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, (what, answer.status_code, answer.text)
    for secret in SECRETS:
        assert secret not in answer.text, (what, "a secret in the answer", answer.text)
        for name, value in answer.headers.items():
            assert secret not in value, (what, "a secret in header", name)


def test_routes_are_found() -> None:
    assert ("POST", f"{API}/storageconnections") in ROUTES
    assert ("PUT", f"{API}/storageconnections/{{connection_id}}") in ROUTES


QUERIES = ({"host": "00000000-0000-0000-0000-000000000000"}, {"host": "h1"},
           {"force": "true", "async": "true"}, {"max": "-1"}, {"search": "name=*"})


def sweep(client: httpx.Client, ids: dict[str, str], methods: tuple[str, ...]) -> None:
    for method, template in ROUTES:
        if method not in methods:
            continue
        first, *others = variants(template, ids)
        # Every body and query on the world's ids; the unknown ids with a few.
        every = bodies(method, template) if method != "GET" else [(XML, b"")]
        few = [every[0], every[8]] if method != "GET" else every
        for path, sent, queries in ((first, every, QUERIES), *((p, few, ()) for p in others)):
            for index, (content_type, body) in enumerate(sent):
                # Answers alternate between the formats; both are covered on every route.
                accept = (XML, JSON)[index % 2]
                answer = client.request(
                    method, path, content=body or None,
                    headers={"Accept": accept, "Content-Type": content_type},
                )
                check(answer, f"{method} {path} {body[:60]!r}")
            for query in queries:
                for accept in (XML, JSON):
                    answer = client.request(method, path, params=query, headers={"Accept": accept})
                    check(answer, f"{method} {path} {query}")


@pytest.mark.timeout(900)
def test_no_reading_route_answers_500_or_a_secret(
    world: tuple[httpx.Client, dict[str, str], Engine],
) -> None:
    sweep(world[0], world[1], ("GET",))


@pytest.mark.timeout(900)
def test_no_changing_route_answers_500_or_a_secret(
    world: tuple[httpx.Client, dict[str, str], Engine],
) -> None:
    sweep(world[0], world[1], ("POST", "PUT", "DELETE"))


def test_secret_bearing_flows_answer_without_secrets(
    world: tuple[httpx.Client, dict[str, str], Engine],
) -> None:
    """The cases that once answered 500: each through REST, in both formats."""
    client, ids, engine = world
    for accept, content_type in ((XML, XML), (JSON, JSON)):
        headers = {"Accept": accept, "Content-Type": content_type}

        def send(method: str, path: str, tag: str, fields: dict[str, Any]) -> httpx.Response:
            body = _xml(tag, fields) if content_type == XML else json.dumps(fields).encode()
            answer = client.request(method, path, content=body, headers=headers)
            check(answer, f"{method} {path}")
            return answer

        # A new domain on a target that already has a CHAP connection shares it.
        name = f"shared-{accept[-3:]}"
        answer = send("POST", "/storagedomains", "storage_domain",
                      {"name": name, "type": "data", "storage": iscsi_body("10.0.0.5")})
        assert answer.status_code == 201, answer.text
        # Edits of the CHAP connection, with and without a password.
        path = f"/storageconnections/{ids['connection_id']}"
        assert send("PUT", path, "storage_connection", {"username": "chapuser"}).status_code < 500
        assert send("PUT", path, "storage_connection", {"password": NEW_PASSWORD}).status_code < 500
        # A LUN disk reusing it.
        lun = {"name": f"lun-{accept[-3:]}", "lun_storage": {"type": "iscsi", "logical_units": {
            "logical_unit": [{"id": "36001405ef", **{k: v for k, v in iscsi_body("10.0.0.5").items()
                                                     if k != "type"}}]}}}
        if content_type == JSON:
            assert send("POST", "/disks", "disk", lun).status_code == 201
        # The connectivity test on it, through a host whose agent does not answer.
        answer = send("POST", f"{path}/test", "action", {"host": {"name": "h1"}})
        assert answer.status_code in (200, 400, 409), answer.text


def test_put_of_an_unknown_id_is_404_on_every_route(
    world: tuple[httpx.Client, dict[str, str], Engine],
) -> None:
    client, ids, _ = world
    puts = [path for method, path in ROUTES if method == "PUT"]
    assert puts
    for template in puts:
        last = re.findall(r"\{(\w+)\}", template)[-1]
        path = fill(template, ids, {last: UNKNOWN})
        for accept in (XML, JSON):
            answer = client.put(path, content=b"{}", headers={"Accept": accept, "Content-Type": JSON})
            assert answer.status_code == 404, (template, accept, answer.text)
