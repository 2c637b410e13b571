"""Bad input to the REST API of the real Engine: never a 500, always a fault naming what was wrong, nothing stored.

Malformed XML and JSON, unknown elements, wrong types, bodies over the
limit, empty bodies, document type declarations and entities, unknown ids.
Each answer is a 400, 404, 405, 413 or 415 fault (in the format the
``Accept`` header asks for: every test runs with XML and with JSON answers)
that names the element, the id or the place in the body, with the engine's
message key in ``Storconn-Message-Key``; and every collection reads the same
after the request as before it.

The Engine is on SQLite in ``tmp_path``, seeded with one of everything, and
served by uvicorn on loopback.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
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
from .rest import CurrentEngine

MEDIA = {"xml": "application/xml", "json": "application/json"}
XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json"}
KEY = "Storconn-Message-Key"
SYNTAX = "Request syntactically incorrect."
LIMIT = 1024 * 1024  # docs/engine.md: bodies over 1 MiB answer 413
UNKNOWN = "0b9e0000-0000-0000-0000-00000000dead"
COLLECTIONS = ("storageconnections", "storagedomains", "datacenters", "hosts", "disks", "vms")


def seed(engine: Engine) -> dict[str, str]:
    """One of everything; their ids by the names the tests' paths use (``{nfs}``, ``{sd}``...)."""
    nfs = engine.add_connection(
        ConnectionFields(type=StorageType.NFS, address="filer", path="/exports/data")
    )
    iscsi = engine.add_connection(
        ConnectionFields(
            type=StorageType.ISCSI, address="10.0.0.5", port=3260, target="iqn.2026-01.test:lun1"
        )
    )
    iscsi2 = engine.add_connection(
        ConnectionFields(
            type=StorageType.ISCSI, address="10.0.0.6", port=3260, target="iqn.2026-01.test:lun1"
        )
    )
    domain = engine.add_domain("data1", storage_type=StorageType.NFS, connection_id=nfs.id)
    iscsi_domain = engine.add_domain(
        "iscsi1", storage_type=StorageType.ISCSI, connection_id=iscsi.id
    )
    dc = engine.add_data_center("dc1")
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attaching activates; the seed keeps it in maintenance
    host = engine.add_host(
        "h1", address="127.0.0.1", port=free_port(), token="t", data_center_id=dc.id
    )
    disk = engine.add_lun_disk(
        "lun1",
        lun_id="36001405aa",
        connections=[
            ConnectionFields(
                type=StorageType.ISCSI,
                address="10.0.0.5",
                port=3260,
                target="iqn.2026-01.test:lun1",
            )
        ],
    )
    vm = engine.add_vm("vm1")
    engine.attach_disk(vm.id, disk.id)
    return {
        "nfs": nfs.id,
        "iscsi": iscsi.id,
        "iscsi2": iscsi2.id,
        "sd": domain.id,
        "iscsi_sd": iscsi_domain.id,
        "dc": dc.id,
        "host": host.id,
        "disk": disk.id,
        "vm": vm.id,
        "unknown": UNKNOWN,
    }


class Seeded:
    """A client of the seeded engine whose answers come in one format."""

    def __init__(self, client: httpx.Client, fmt: str, ids: dict[str, str]) -> None:
        self.fmt = fmt
        self.media = MEDIA[fmt]
        self.ids = ids
        self.client = client

    def path(self, template: str) -> str:
        """``template`` with each ``{name}`` of a seeded entity replaced by its id."""
        return re.sub(r"\{(\w+)\}", lambda match: self.ids.get(match[1], match[0]), template)

    def send(
        self,
        method: str,
        template: str,
        content: Any = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        return self.client.request(
            method, self.path(template), content=content, headers=headers, **options
        )

    def snapshot(self) -> dict[str, bytes]:
        """Every collection, and the seeded domains' connections, data center's domains and VM's disks.

        Equal snapshots mean nothing stored changed.
        """
        subs = (
            "storagedomains/{sd}/storageconnections",
            "storagedomains/{iscsi_sd}/storageconnections",
            "datacenters/{dc}/storagedomains",
            "vms/{vm}/diskattachments",
        )
        return {
            name: self.client.get(self.path(f"/{name}")).content for name in (*COLLECTIONS, *subs)
        }

    def fault(
        self,
        answer: httpx.Response,
        status: int,
        key: str,
        *,
        reason: str = SYNTAX,
        detail: str | None = None,
        contains: tuple[str, ...] = (),
    ) -> str:
        """Assert a fault answer in the format asked for; returns its detail."""
        assert answer.status_code == status, answer.text
        assert answer.headers.get(KEY) == key, (answer.headers.get(KEY), answer.text)
        assert answer.headers["content-type"].startswith(self.media), answer.headers
        if self.fmt == "xml":
            root = ET.fromstring(answer.content)
            assert root.tag == "fault" and [child.tag for child in root] == ["reason", "detail"], (
                answer.text
            )
            got_reason, got_detail = root.findtext("reason"), root.findtext("detail") or ""
        else:
            data = answer.json()
            assert set(data) == {"reason", "detail"}, data
            got_reason, got_detail = data["reason"], data["detail"]
        assert got_reason == reason
        if detail is not None:
            assert got_detail == detail
        for part in contains:
            assert part in got_detail, (part, got_detail)
        return got_detail


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, str]]]:
    """One seeded engine for the module: bad input changes nothing (each test checks), so it can be shared."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secrets, "SCRYPT_N", 2**10)
        real = open_engine(tmp_path_factory.mktemp("engine"))
        try:
            yield real, seed(real)
        finally:
            real.close()


@pytest.fixture(scope="module")
def clients(server: tuple[CurrentEngine, str]) -> Iterator[dict[str, httpx.Client]]:
    """One admin HTTP client per answer format for the whole module."""
    made = {
        fmt: httpx.Client(
            base_url=f"{server[1]}/ovirt-engine/api",
            auth=ADMIN,
            timeout=30.0,
            headers={"Accept": media},
        )
        for fmt, media in MEDIA.items()
    }
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def api(
    server: tuple[CurrentEngine, str],
    shared: tuple[Engine, dict[str, str]],
    clients: dict[str, httpx.Client],
    fmt: str,
) -> Iterator[Seeded]:
    server[0].engine = shared[0]
    yield Seeded(clients[fmt], fmt, shared[1])
    server[0].engine = None


@pytest.fixture
def fresh_api(
    server: tuple[CurrentEngine, str], clients: dict[str, httpx.Client], tmp_path: Path, fmt: str
) -> Iterator[Seeded]:
    """A client of an engine of this test's own, for a test whose bad input does change the state."""
    real = open_engine(tmp_path)
    server[0].engine = real
    yield Seeded(clients[fmt], fmt, seed(real))
    server[0].engine = None
    real.close()


@pytest.fixture
def unchanged(api: Seeded) -> Iterator[None]:
    """Fails the test if anything stored changed during it."""
    before = api.snapshot()
    yield
    assert api.snapshot() == before, "the stored state changed"


# -- malformed bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"<storage_connection>", "line 1, column 20: no element found"),
        (b"not xml at all", "line 1, column 0: syntax error"),
        (
            b"<storage_connection/><storage_connection/>",
            "line 1, column 21: junk after document element",
        ),
        (
            b"<storage_connection><type>nfs</tipe></storage_connection>",
            "line 1, column 31: mismatched tag",
        ),
        (b"<storage_connection>\n<type>nfs</type>\n<address", "line 3, column 0: unclosed token"),
    ],
    ids=["unclosed", "not-xml", "two-roots", "mismatched-tag", "unclosed-token"],
)
def test_malformed_xml_is_400_saying_where(
    api: Seeded, unchanged: None, body: bytes, where: str
) -> None:
    answer = api.send("POST", "/storageconnections", body, XML)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail=f"[Cannot parse the request body: malformed XML at {where}.]",
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (
            b"{'type': 'nfs'}",
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            b'{"type": "nfs",}',
            "Expecting property name enclosed in double quotes: line 1 column 16 (char 15)",
        ),
        (b'{"type": nfs}', "Expecting value: line 1 column 10 (char 9)"),
        (b'{"type": "nfs"} {}', "Extra data: line 1 column 17 (char 16)"),
    ],
    ids=["unclosed", "single-quotes", "trailing-comma", "bare-word", "two-documents"],
)
def test_malformed_json_is_400_saying_where(
    api: Seeded, unchanged: None, body: bytes, why: str
) -> None:
    answer = api.send("POST", "/storageconnections", body, JSON)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail=f"[Cannot parse the request body: malformed JSON: {why}.]",
    )


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"[]", "a list"),
        (b"null", "null"),
        (b'"nfs"', "a string"),
        (b"3", "a number"),
        (b"true", "a boolean"),
    ],
    ids=["list", "null", "string", "number", "boolean"],
)
def test_a_json_body_that_is_not_an_object_is_400_naming_the_entity(
    api: Seeded, unchanged: None, body: bytes, what: str
) -> None:
    answer = api.send("POST", "/storageconnections", body, JSON)
    api.fault(
        answer,
        400,
        "INVALID_VALUE",
        detail=f"[Element 'storage_connection': expected an object, not {what}.]",
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"<storage_connection><address>\xff</address></storage_connection>", XML),
        (b'{"address": "\xff"}', JSON),
    ],
    ids=["xml", "json"],
)
def test_a_body_that_is_not_utf8_is_400(
    api: Seeded, unchanged: None, body: bytes, headers: dict[str, str]
) -> None:
    answer = api.send("POST", "/storageconnections", body, headers)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        contains=("[Cannot parse the request body: malformed",),
    )


@pytest.mark.parametrize(
    "encoding",
    # UTF-7 and UTF-32 made pyexpat raise ValueError, idna a UnicodeError: each answered 500.
    ["no-such-encoding", "UTF-7", "utf-32", "idna", "undefined", "unicode_escape", "rot13", "cp037"],
)
def test_an_xml_declaration_with_an_unknown_encoding_is_400(
    api: Seeded, unchanged: None, encoding: str
) -> None:
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        "<storage_connection><type>localfs</type><path>/data</path></storage_connection>"
    ).encode()
    answer = api.send("POST", "/storageconnections", body, XML)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail=f"[Cannot parse the request body: the encoding {encoding!r} is not supported; "
        "use UTF-8 (or UTF-16, ISO-8859-1, US-ASCII).]",
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"NaN", "NaN is not a JSON value"),
        (b"Infinity", "Infinity is not a JSON value"),
        (b"-Infinity", "-Infinity is not a JSON value"),
        (b"9" * 5000, "a number has more than 40 digits"),
    ],
    ids=["nan", "infinity", "minus-infinity", "5000-digits"],
)
def test_json_numbers_json_does_not_have_are_400(
    api: Seeded, unchanged: None, value: bytes, why: str
) -> None:
    body = b'{"type": "nfs", "address": "filer", "path": "/e2", "nfs_timeo": ' + value + b"}"
    answer = api.send("POST", "/storageconnections", body, JSON)
    api.fault(
        answer, 400, "MALFORMED_REQUEST_BODY", detail=f"[Cannot parse the request body: malformed JSON: {why}.]"
    )


def test_an_id_with_a_lone_surrogate_is_400_saying_so(api: Seeded, unchanged: None) -> None:
    body = b'{"id": "\\ud800", "type": "nfs", "address": "filer", "path": "/e2"}'
    answer = api.send("POST", "/storageconnections", body, JSON)
    api.fault(
        answer,
        400,
        "INVALID_VALUE",
        detail="[Element 'storage_connection/id': contains characters that are not allowed.]",
    )


@pytest.mark.parametrize(
    ("body", "headers", "why"),
    [
        (
            b"<storage_connection>" + b"<host>" * 40 + b"</host>" * 40 + b"</storage_connection>",
            XML,
            "elements are nested deeper than 32 levels",
        ),
        (
            b"[" * 100_000 + b"]" * 100_000,
            JSON,
            "malformed JSON: maximum recursion depth exceeded while decoding a JSON array from a unicode string",
        ),
    ],
    ids=["xml", "json"],
)
def test_deep_nesting_is_400(
    api: Seeded, unchanged: None, body: bytes, headers: dict[str, str], why: str
) -> None:
    answer = api.send("POST", "/storageconnections", body, headers)
    api.fault(
        answer, 400, "MALFORMED_REQUEST_BODY", detail=f"[Cannot parse the request body: {why}.]"
    )


# -- XML document type declarations and entities ---------------------------------------------------

_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<storage_connection><type>nfs</type><address>&lol3;</address><path>/e</path></storage_connection>"""
_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<storage_connection><type>nfs</type><address>filer</address><path>/&xxe;</path></storage_connection>"""
_EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE storage_connection SYSTEM "http://127.0.0.1:9/evil.dtd">
<storage_connection><type>localfs</type><path>/data</path></storage_connection>"""
_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<storage_connection><type>localfs</type><path>/data</path></storage_connection>"""


@pytest.mark.parametrize(
    "body",
    [_LAUGHS, _FILE, _EXTERNAL_DTD, _PARAMETER],
    ids=["entity-expansion", "external-file-entity", "external-dtd", "parameter-entity"],
)
def test_a_document_type_declaration_is_refused(api: Seeded, unchanged: None, body: bytes) -> None:
    answer = api.send("POST", "/storageconnections", body, XML)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail="[Cannot parse the request body: document type declarations are not allowed.]",
    )
    assert "root:" not in answer.text and "lollol" not in answer.text


def test_an_undefined_entity_is_refused(api: Seeded, unchanged: None) -> None:
    body = b"<storage_connection><type>nfs</type><address>&xxe;</address></storage_connection>"
    answer = api.send("POST", "/storageconnections", body, XML)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail="[Cannot parse the request body: malformed XML at line 1, column 45: undefined entity.]",
    )


# -- unknown elements, wrong types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "element"),
    [
        (
            b"<storage_connection><type>nfs</type><bogus>1</bogus></storage_connection>",
            XML,
            "storage_connection/bogus",
        ),
        (b'{"type": "nfs", "bogus": 1}', JSON, "storage_connection/bogus"),
        (
            b"<storage_connection><host><bogus/></host></storage_connection>",
            XML,
            "storage_connection/host/bogus",
        ),
        (b'{"host": {"name": "h1", "bogus": "x"}}', JSON, "storage_connection/host/bogus"),
        (
            b'<storage_connection foo="1"><type>nfs</type></storage_connection>',
            XML,
            "storage_connection/@foo",
        ),
        (
            b'<storage_connection><port unit="s">3260</port></storage_connection>',
            XML,
            "storage_connection/port/@unit",
        ),
        (
            b'<storage_connection xmlns="urn:x"><type>nfs</type></storage_connection>',
            XML,
            "storage_connection/@xmlns",
        ),
        (
            b"<storage_connection><ns:type xmlns:ns='urn:x'>nfs</ns:type></storage_connection>",
            XML,
            "storage_connection/ns:type",
        ),
    ],
    ids=[
        "xml",
        "json",
        "nested-xml",
        "nested-json",
        "attribute",
        "attribute-on-a-value",
        "namespace",
        "prefixed-name",
    ],
)
def test_an_unknown_element_is_400_naming_it(
    api: Seeded, unchanged: None, body: bytes, headers: dict[str, str], element: str
) -> None:
    answer = api.send("POST", "/storageconnections", body, headers)
    api.fault(answer, 400, "UNKNOWN_ELEMENT", detail=f"[Element '{element}' is not known here.]")


def test_the_wrong_root_element_is_400_naming_it(api: Seeded, unchanged: None) -> None:
    body = b"<storage_domain><name>x</name></storage_domain>"
    answer = api.send("POST", "/storageconnections", body, XML)
    api.fault(
        answer,
        400,
        "INVALID_REQUEST_BODY",
        detail="[Expected the element <storage_connection>, but the body is <storage_domain>.]",
    )


_WRONG_TYPES = [
    (
        "port-abc-xml",
        b"<storage_connection><port>abc</port></storage_connection>",
        XML,
        "storage_connection/port",
        "'abc' is not an integer",
    ),
    (
        "port-abc-json",
        b'{"port": "abc"}',
        JSON,
        "storage_connection/port",
        "'abc' is not an integer",
    ),
    (
        "nfs_timeo-x-xml",
        b"<storage_connection><nfs_timeo>x</nfs_timeo></storage_connection>",
        XML,
        "storage_connection/nfs_timeo",
        "'x' is not an integer",
    ),
    (
        "nfs_timeo-x-json",
        b'{"nfs_timeo": "x"}',
        JSON,
        "storage_connection/nfs_timeo",
        "'x' is not an integer",
    ),
    (
        "nfs_retrans-decimal",
        b"<storage_connection><nfs_retrans>1.5</nfs_retrans></storage_connection>",
        XML,
        "storage_connection/nfs_retrans",
        "'1.5' is not an integer",
    ),
    ("port-float-json", b'{"port": 3.5}', JSON, "storage_connection/port", "3.5 is not an integer"),
    (
        "port-boolean-json",
        b'{"port": true}',
        JSON,
        "storage_connection/port",
        "expected an integer, not a boolean",
    ),
    (
        "port-list-json",
        b'{"port": [3260]}',
        JSON,
        "storage_connection/port",
        "expected an integer, not a list",
    ),
    (
        "port-huge",
        b"<storage_connection><port>99999999999999999999</port></storage_connection>",
        XML,
        "storage_connection/port",
        "'99999999999999999999' is not an integer",
    ),
    (
        "address-object-json",
        b'{"address": {"name": "x"}}',
        JSON,
        "storage_connection/address",
        "expected a string, not an object",
    ),
    (
        "address-elements-xml",
        b"<storage_connection><address><name>x</name></address></storage_connection>",
        XML,
        "storage_connection/address",
        "expected a string, not elements",
    ),
    (
        "address-nul-json",
        b'{"address": "a\\u0000b"}',
        JSON,
        "storage_connection/address",
        "contains characters that are not allowed",
    ),
    (
        "host-string-json",
        b'{"host": "h1"}',
        JSON,
        "storage_connection/host",
        "expected an object, not a string",
    ),
    (
        "type-unknown",
        b"<storage_connection><type>cifs</type></storage_connection>",
        XML,
        "storage_connection/type",
        "'cifs' is not one of fcp, glusterfs, iscsi, localfs, nfs, posixfs",
    ),
    (
        "nfs_version-unknown",
        b'{"nfs_version": "v9"}',
        JSON,
        "storage_connection/nfs_version",
        "'v9' is not one of auto, v3, v4, v4_0, v4_1, v4_2",
    ),
    (
        "id-number-json",
        b'{"id": 5}',
        JSON,
        "storage_connection/id",
        "expected a string, not a number",
    ),
    (
        "given-twice",
        b"<storage_connection><port>1</port><port>2</port></storage_connection>",
        XML,
        "storage_connection/port",
        "given more than once",
    ),
    (
        "text-in-entity",
        b"<storage_connection>hello<type>nfs</type></storage_connection>",
        XML,
        "storage_connection",
        "text is not allowed here, only elements",
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "element", "why"),
    [case[1:] for case in _WRONG_TYPES],
    ids=[case[0] for case in _WRONG_TYPES],
)
def test_a_wrong_type_is_400_naming_the_element(
    api: Seeded, unchanged: None, body: bytes, headers: dict[str, str], element: str, why: str
) -> None:
    answer = api.send("POST", "/storageconnections", body, headers)
    api.fault(answer, 400, "INVALID_VALUE", detail=f"[Element '{element}': {why}.]")


_ON_PUT = [
    case
    for case in _WRONG_TYPES
    if case[0]
    in ("port-abc-xml", "nfs_timeo-x-json", "port-float-json", "id-number-json", "given-twice")
]


@pytest.mark.parametrize(
    ("body", "headers", "element", "why"),
    [case[1:] for case in _ON_PUT],
    ids=[case[0] for case in _ON_PUT],
)
def test_a_wrong_type_in_a_put_is_400_and_keeps_the_connection(
    api: Seeded, unchanged: None, body: bytes, headers: dict[str, str], element: str, why: str
) -> None:
    answer = api.send("PUT", "/storageconnections/{iscsi}", body, headers)
    api.fault(answer, 400, "INVALID_VALUE", detail=f"[Element '{element}': {why}.]")


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "key", "detail"),
    [
        (
            "POST",
            "/storagedomains",
            b"<storage_domain><name>x</name><bogus/></storage_domain>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'storage_domain/bogus' is not known here.",
        ),
        (
            "POST",
            "/storagedomains",
            b'{"name": "x", "storage": {"type": "nfs", "port": "x"}}',
            JSON,
            "INVALID_VALUE",
            "Element 'storage_domain/storage/port': 'x' is not an integer.",
        ),
        (
            "PUT",
            "/storagedomains/{sd}",
            # <storage> is read on update now (new LUNs extend a block domain, issue 9 item 8).
            b"<storage_domain><storage><bogus/></storage></storage_domain>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'storage_domain/storage/bogus' is not known here.",
        ),
        (
            "POST",
            "/storagedomains/{iscsi_sd}/storageconnections",
            b'{"id": ["x"]}',
            JSON,
            "INVALID_VALUE",
            "Element 'storage_connection/id': expected a string, not a list.",
        ),
        (
            "POST",
            "/datacenters",
            b"<data_center><name>x</name><local>maybe</local></data_center>",
            XML,
            "INVALID_VALUE",
            "Element 'data_center/local': 'maybe' is not a boolean (true or false).",
        ),
        (
            "POST",
            "/datacenters/{dc}/storagedomains",
            b"<storage_domain><bogus/></storage_domain>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'storage_domain/bogus' is not known here.",
        ),
        (
            "POST",
            "/datacenters/{dc}/storagedomains/{sd}/activate",
            b'{"async": "soon"}',
            JSON,
            "INVALID_VALUE",
            "Element 'action/async': 'soon' is not a boolean (true or false).",
        ),
        (
            "POST",
            "/hosts",
            b"<host><name>h</name><address>a</address><port>x</port></host>",
            XML,
            "INVALID_VALUE",
            "Element 'host/port': 'x' is not an integer.",
        ),
        (
            "POST",
            "/disks",
            b"<disk><alias>d</alias><lun_storage><logical_units><bogus/></logical_units>"
            b"</lun_storage></disk>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'disk/lun_storage/logical_units/bogus' is not known here.",
        ),
        (
            "POST",
            "/disks",
            b'{"alias": "d", "lun_storage": {"logical_units": {"logical_unit": "x"}}}',
            JSON,
            "INVALID_VALUE",
            "Element 'disk/lun_storage/logical_units': expected a list, not a string.",
        ),
        (
            "POST",
            "/vms",
            b"[]",
            JSON,
            "INVALID_VALUE",
            "Element 'vm': expected an object, not a list.",
        ),
        (
            "POST",
            "/vms/{vm}/start",
            b"<action><bogus/></action>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'action/bogus' is not known here.",
        ),
        (
            "POST",
            "/vms/{vm}/diskattachments",
            b'{"disk": {"id": "x"}, "active": "perhaps"}',
            JSON,
            "INVALID_VALUE",
            "Element 'disk_attachment/active': 'perhaps' is not a boolean (true or false).",
        ),
        (
            "POST",
            "/storageconnections/{nfs}/test",
            b"<action><host><bogus/></host></action>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'action/host/bogus' is not known here.",
        ),
        (
            "DELETE",
            "/storageconnections/{nfs}",
            b"<host",
            XML,
            "MALFORMED_REQUEST_BODY",
            "Cannot parse the request body: malformed XML at line 1, column 0: unclosed token.",
        ),
        (
            "DELETE",
            "/storageconnections/{nfs}",
            b"<host><bogus/></host>",
            XML,
            "UNKNOWN_ELEMENT",
            "Element 'host/bogus' is not known here.",
        ),
    ],
    ids=[
        "domain-unknown",
        "domain-storage-port",
        "domain-update-storage",
        "attach-id-list",
        "datacenter-local",
        "datacenter-attach-unknown",
        "activate-async",
        "host-port",
        "disk-unknown-unit",
        "disk-units-string",
        "vm-list",
        "vm-start-unknown",
        "diskattachment-active",
        "test-host-unknown",
        "delete-malformed",
        "delete-host-unknown",
    ],
)
def test_bad_input_to_each_resource_is_400_naming_the_element(
    api: Seeded,
    unchanged: None,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    key: str,
    detail: str,
) -> None:
    answer = api.send(method, path, body, headers)
    api.fault(answer, 400, key, detail=f"[{detail}]")


# -- sizes and empty bodies ---------------------------------------------------------------------------


def _padded(size: int) -> bytes:
    """A well-formed ``<storage_connection/>`` body of exactly ``size`` bytes (white space inside)."""
    head, tail = b"<storage_connection>", b"</storage_connection>"
    return head + b" " * (size - len(head) - len(tail)) + tail


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_over_the_limit_is_413(api: Seeded, unchanged: None, method: str) -> None:
    path = "/storageconnections" if method == "POST" else "/storageconnections/{nfs}"
    answer = api.send(method, path, _padded(LIMIT + 1), XML)
    api.fault(
        answer,
        413,
        "REQUEST_BODY_TOO_LARGE",
        reason="Request Entity Too Large",
        detail=f"[The request body is larger than {LIMIT} bytes.]",
    )


def test_a_chunked_body_over_the_limit_is_413(api: Seeded, unchanged: None) -> None:
    """Without a Content-Length the engine counts what it reads, and stops at the limit."""
    answer = api.send("POST", "/storageconnections", _chunks(_padded(LIMIT + 1)), XML)
    assert "content-length" not in answer.request.headers
    api.fault(
        answer,
        413,
        "REQUEST_BODY_TOO_LARGE",
        reason="Request Entity Too Large",
        detail=f"[The request body is larger than {LIMIT} bytes.]",
    )


def test_a_body_of_exactly_the_limit_is_read(api: Seeded, unchanged: None) -> None:
    """The control for the 413s: a PUT that changes nothing, padded to exactly 1 MiB, is accepted."""
    answer = api.send("PUT", "/storageconnections/{nfs}", _padded(LIMIT), XML)
    assert answer.status_code == 200, answer.text


_EMPTY_TARGETS = [
    ("POST", "/storageconnections", "storage_connection"),
    ("PUT", "/storageconnections/{nfs}", "storage_connection"),
    ("POST", "/storagedomains", "storage_domain"),
    ("PUT", "/storagedomains/{sd}", "storage_domain"),
    ("POST", "/storagedomains/{iscsi_sd}/storageconnections", "storage_connection"),
    ("POST", "/datacenters", "data_center"),
    ("POST", "/datacenters/{dc}/storagedomains", "storage_domain"),
    ("POST", "/hosts", "host"),
    ("POST", "/disks", "disk"),
    ("POST", "/vms", "vm"),
    ("POST", "/vms/{vm}/diskattachments", "disk_attachment"),
]


@pytest.mark.parametrize(
    ("method", "path", "tag"), _EMPTY_TARGETS, ids=[f"{m} {p}" for m, p, _ in _EMPTY_TARGETS]
)
def test_an_empty_body_is_400_naming_the_expected_element(
    api: Seeded, unchanged: None, method: str, path: str, tag: str
) -> None:
    answer = api.send(method, path, b"", XML)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail=f"[The request body is empty; expected <{tag}>.]",
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"", JSON), (b" \n\t ", XML), (b"\r\n", JSON), (b"", {})],
    ids=["json", "white-space-xml", "white-space-json", "no-content-type"],
)
def test_an_empty_body_of_any_kind_is_400(
    api: Seeded, unchanged: None, body: bytes, headers: dict[str, str]
) -> None:
    answer = api.send("POST", "/storageconnections", body, headers)
    api.fault(
        answer,
        400,
        "MALFORMED_REQUEST_BODY",
        detail="[The request body is empty; expected <storage_connection>.]",
    )


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_of_another_media_type_is_415(
    api: Seeded, unchanged: None, content_type: str
) -> None:
    answer = api.send(
        "POST", "/storageconnections", b"<storage_connection/>", {"Content-Type": content_type}
    )
    api.fault(
        answer,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        reason="Unsupported Media Type",
        detail=f"[Bodies are application/xml or application/json, not '{content_type}'.]",
    )


# -- query parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "detail"),
    [
        (
            "PUT",
            "/storageconnections/{nfs}",
            {"force": "maybe"},
            "Query parameter 'force': 'maybe' is not a boolean (true or false).",
        ),
        (
            "GET",
            "/storageconnections",
            {"max": "abc"},
            "Query parameter 'max': 'abc' is not an integer.",
        ),
    ],
    ids=["force", "max"],
)
def test_a_bad_query_parameter_is_400_naming_it(
    api: Seeded, unchanged: None, method: str, path: str, params: dict[str, str], detail: str
) -> None:
    body = b'{"path": "/moved"}' if method == "PUT" else None
    answer = api.send(method, path, body, JSON if body else None, params=params)
    api.fault(answer, 400, "INVALID_VALUE", detail=f"[{detail}]")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/storageconnections", b'{"type": "localfs", "path": "/data/new"}'),
        ("/vms", b'{"name": "vm2"}'),
        ("/datacenters/{dc}/storagedomains/{sd}/activate", b"{}"),
        ("/storagedomains/{iscsi_sd}/storageconnections", b'{"id": "{iscsi2}"}'),
    ],
    ids=["add-connection", "add-vm", "activate", "attach-connection"],
)
def test_a_bad_async_parameter_is_refused_before_anything_changes(
    fresh_api: Seeded, path: str, body: bytes
) -> None:
    before = fresh_api.snapshot()
    answer = fresh_api.send(
        "POST", path, fresh_api.path(body.decode()).encode(), JSON, params={"async": "later"}
    )
    fresh_api.fault(
        answer,
        400,
        "INVALID_VALUE",
        detail="[Query parameter 'async': 'later' is not a boolean (true or false).]",
    )
    assert fresh_api.snapshot() == before


def test_a_max_too_large_for_the_database_is_400_naming_it(api: Seeded, unchanged: None) -> None:
    answer = api.send("GET", "/storageconnections", params={"max": str(10**23)})
    api.fault(answer, 400, "INVALID_VALUE", contains=("Query parameter 'max'",))


# -- unknown ids ------------------------------------------------------------------------------------------

_NOT_FOUND = "ACTION_TYPE_FAILED_ENTITY_NOT_FOUND"
_UNKNOWN_IDS = [
    # GET: an entity, and the sub-collections of an unknown parent
    (
        "GET",
        "/storageconnections/{unknown}",
        None,
        _NOT_FOUND,
        f"Entity not found: storage connection {UNKNOWN}",
    ),
    (
        "GET",
        "/storagedomains/{unknown}",
        None,
        _NOT_FOUND,
        f"Entity not found: storage domain {UNKNOWN}",
    ),
    ("GET", "/datacenters/{unknown}", None, _NOT_FOUND, f"Entity not found: data center {UNKNOWN}"),
    ("GET", "/hosts/{unknown}", None, _NOT_FOUND, f"Entity not found: host {UNKNOWN}"),
    ("GET", "/disks/{unknown}", None, _NOT_FOUND, f"Entity not found: disk {UNKNOWN}"),
    ("GET", "/vms/{unknown}", None, _NOT_FOUND, f"Entity not found: VM {UNKNOWN}"),
    (
        "GET",
        "/storagedomains/{unknown}/storageconnections",
        None,
        _NOT_FOUND,
        f"Entity not found: storage domain {UNKNOWN}",
    ),
    (
        "GET",
        "/datacenters/{unknown}/storagedomains",
        None,
        _NOT_FOUND,
        f"Entity not found: data center {UNKNOWN}",
    ),
    ("GET", "/vms/{unknown}/diskattachments", None, _NOT_FOUND, f"Entity not found: VM {UNKNOWN}"),
    (
        "GET",
        "/storagedomains/{sd}/storageconnections/{unknown}",
        None,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_NOT_EXIST",
        f"Storage connection {UNKNOWN} is not attached to storage domain {{sd}}.",
    ),
    (
        "GET",
        "/datacenters/{dc}/storagedomains/{unknown}",
        None,
        "ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_IN_STORAGE_POOL",
        f"Storage domain {UNKNOWN} is not attached to data center {{dc}}.",
    ),
    (
        "GET",
        "/vms/{vm}/diskattachments/{unknown}",
        None,
        "ACTION_TYPE_FAILED_DISK_NOT_ATTACHED_TO_VM",
        f"Disk {UNKNOWN} is not attached to VM {{vm}}.",
    ),
    # PUT (a connection's PUT is the rules' 400 ..._NOT_EXIST: test_api_rules.py)
    (
        "PUT",
        "/storagedomains/{unknown}",
        b'{"name": "renamed"}',
        _NOT_FOUND,
        f"Cannot edit Storage. Entity not found: storage domain {UNKNOWN}",
    ),
    # DELETE
    (
        "DELETE",
        "/storageconnections/{unknown}",
        None,
        _NOT_FOUND,
        f"Cannot remove Storage Connection. Entity not found: storage connection {UNKNOWN}",
    ),
    (
        "DELETE",
        "/storagedomains/{unknown}",
        None,
        _NOT_FOUND,
        f"Cannot remove Storage. Entity not found: storage domain {UNKNOWN}",
    ),
    (
        "DELETE",
        "/hosts/{unknown}",
        None,
        _NOT_FOUND,
        f"Cannot remove Host. Entity not found: host {UNKNOWN}",
    ),
    (
        "DELETE",
        "/disks/{unknown}",
        None,
        _NOT_FOUND,
        f"Cannot remove Virtual Disk. Entity not found: disk {UNKNOWN}",
    ),
    (
        "DELETE",
        "/datacenters/{dc}/storagedomains/{unknown}",
        None,
        _NOT_FOUND,
        f"Cannot detach Storage. Entity not found: storage domain {UNKNOWN}",
    ),
    (
        "DELETE",
        "/storagedomains/{unknown}/storageconnections/{iscsi}",
        None,
        _NOT_FOUND,
        f"Cannot detach Storage Connection. Entity not found: storage domain {UNKNOWN}",
    ),
    # actions and sub-collection adds under an unknown parent
    (
        "POST",
        "/storageconnections/{unknown}/test",
        b'{"host": {"name": "h1"}}',
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
        "Cannot test Storage Connection. Storage connection doesn't exist.",
    ),
    (
        "POST",
        "/storagedomains/{unknown}/storageconnections",
        b'{"id": "{iscsi}"}',
        _NOT_FOUND,
        f"Cannot attach Storage Connection. Entity not found: storage domain {UNKNOWN}",
    ),
    (
        "POST",
        "/datacenters/{unknown}/storagedomains",
        b'{"id": "{sd}"}',
        _NOT_FOUND,
        f"Cannot attach Storage. Entity not found: data center {UNKNOWN}",
    ),
    (
        "POST",
        "/datacenters/{dc}/storagedomains/{unknown}/activate",
        b"{}",
        _NOT_FOUND,
        f"Cannot activate Storage. Entity not found: storage domain {UNKNOWN}",
    ),
    (
        "POST",
        "/datacenters/{dc}/storagedomains/{unknown}/deactivate",
        b"{}",
        _NOT_FOUND,
        f"Cannot deactivate Storage. Entity not found: storage domain {UNKNOWN}",
    ),
    (
        "POST",
        "/vms/{unknown}/start",
        b"{}",
        _NOT_FOUND,
        f"Cannot edit VM. Entity not found: VM {UNKNOWN}",
    ),
    (
        "POST",
        "/vms/{unknown}/diskattachments",
        b'{"disk": {"id": "{disk}"}}',
        _NOT_FOUND,
        f"Cannot attach Virtual Disk. Entity not found: VM {UNKNOWN}",
    ),
    (
        "POST",
        "/vms/{vm}/diskattachments",
        b'{"disk": {"id": "{unknown}"}}',
        _NOT_FOUND,
        f"Cannot attach Virtual Disk. Entity not found: disk {UNKNOWN}",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "key", "detail"),
    _UNKNOWN_IDS,
    ids=[f"{c[0]} {c[1]}" for c in _UNKNOWN_IDS],
)
def test_an_unknown_id_is_404_naming_it(
    api: Seeded, unchanged: None, method: str, path: str, body: bytes | None, key: str, detail: str
) -> None:
    content = api.path(body.decode()).encode() if body else None
    answer = api.send(method, path, content, JSON if body else None)
    api.fault(answer, 404, key, reason="Not Found", detail=f"[{api.path(detail)}]")


def test_detaching_an_unknown_connection_is_404_like_getting_it(
    api: Seeded, unchanged: None
) -> None:
    path = "/storagedomains/{iscsi_sd}/storageconnections/{unknown}"
    assert api.send("GET", path).status_code == 404
    answer = api.send("DELETE", path)
    api.fault(
        answer,
        404,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
        reason="Not Found",
        detail="[Cannot detach Storage Connection. Storage connection doesn't exist.]",  # oVirt's text
    )


def test_an_unknown_path_is_a_404_fault(api: Seeded, unchanged: None) -> None:
    answer = api.send("GET", "/storageconnectionz")
    api.fault(
        answer,
        404,
        "HTTP_404",
        reason="Not Found",
        detail="[No resource at /ovirt-engine/api/storageconnectionz.]",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    # PUT /datacenters/{dc} was one until data centers became editable (issue 9 item 3).
    [("PATCH", "/datacenters/{dc}"), ("DELETE", "/vms/{vm}"), ("PATCH", "/storageconnections/{nfs}")],
)
def test_an_unsupported_method_is_a_405_fault(
    api: Seeded, unchanged: None, method: str, path: str
) -> None:
    answer = api.send(method, path, b"{}", JSON)
    api.fault(
        answer,
        405,
        "HTTP_405",
        reason="Method Not Allowed",
        detail=f"[{method} is not allowed on /ovirt-engine/api{api.path(path)}.]",
    )


def test_json_bodies_are_told_apart_from_xml_without_a_content_type(
    api: Seeded, unchanged: None
) -> None:
    """A body starting with ``{`` and no Content-Type is read as JSON, so its faults speak JSON's terms."""
    answer = api.send("POST", "/storageconnections", b'{"port": "abc"}', {})
    api.fault(
        answer,
        400,
        "INVALID_VALUE",
        detail="[Element 'storage_connection/port': 'abc' is not an integer.]",
    )


# -- control characters in paths and queries, on PostgreSQL --------------------------------------


@pytest.fixture(scope="module")
def postgres_api(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The API over an Engine on PostgreSQL, which refuses a NUL in any text (SQLite does not)."""
    server = request.getfixturevalue("postgres")
    workdir = tmp_path_factory.mktemp("postgres-engine")
    engine = Engine(server.new_database(), key_file=workdir / "key", admin_password=ADMIN[1])
    try:
        with serve(create_app(engine)) as root:
            yield root
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/storageconnections/%00", "The request path"),
        ("/storagedomains/a%00b", "The request path"),
        ("/hosts/h%0A1", "The request path"),
        ("/datacenters/%00/storagedomains", "The request path"),
        ("/storageconnections?search=name%3D%00", "The query parameter 'search'"),
        ("/storageconnections?max=%00", "The query parameter 'max'"),
    ],
)
def test_a_control_character_in_a_path_or_query_is_400_not_500(
    postgres_api: str, fmt: str, path: str, what: str
) -> None:
    """Issue 7, defect 14's class: looked up as given, a NUL made PostgreSQL raise and the API answer 500."""
    answer = httpx.get(
        f"{postgres_api}/ovirt-engine/api{path}", auth=ADMIN, headers={"Accept": MEDIA[fmt]}, timeout=30
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers.get(KEY) == "INVALID_VALUE"
    assert answer.headers["content-type"].startswith(MEDIA[fmt])
    assert f"{what} contains characters that are not allowed." in answer.text
