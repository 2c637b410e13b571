"""Bad bodies are refused with a 400 that names the element, in XML and in JSON; never a crash."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storconn.engine.api import decode, schema
from storconn.engine.api.schema import BodyError, IncompleteParameters
from storconn.engine.errors import BadRequest

SC = schema.STORAGE_CONNECTION


def refused(data: bytes, wanted: schema.Schema = SC, *, as_json: bool = False) -> BodyError:
    with pytest.raises(BodyError) as caught:
        schema.read_body(data, wanted, as_json=as_json)
    error = caught.value
    assert isinstance(error, BadRequest) and error.status == 400
    return error


@pytest.mark.parametrize("data", [
    b"<storage_connection>",
    b"<storage_connection><address>a</storage_connection>",
    b"not xml at all",
    b"<storage_connection/><storage_connection/>",
    "<storage_connection><address>\u00e9</address></storage_connection>".encode("latin-1"),
])
def test_malformed_xml_is_a_bad_request(data: bytes) -> None:
    error = refused(data)
    assert error.key == "MALFORMED_REQUEST_BODY"
    assert "malformed XML" in error.message


def test_a_document_type_declaration_is_refused_before_any_entity_is_expanded() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b"<storage_connection><address>&lol2;</address></storage_connection>")
    assert "document type" in refused(bomb).message
    external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b"<storage_connection><address>&e;</address></storage_connection>")
    assert "document type" in refused(external).message


def test_an_unknown_element_is_named_by_its_path() -> None:
    error = refused(b"<storage_connection><adress>a</adress></storage_connection>")
    assert error.element == "storage_connection/adress"
    assert error.key == "UNKNOWN_ELEMENT"
    assert "storage_connection/adress" in error.detail


def test_an_unknown_nested_element_is_named_by_its_path() -> None:
    error = refused(b"<disk><lun_storage><logical_units><logical_unit><bogus/></logical_unit></logical_units>"
                    b"</lun_storage></disk>", schema.DISK)
    assert error.element == "disk/lun_storage/logical_units/logical_unit[0]/bogus"


@pytest.mark.parametrize(("body", "element", "text"), [
    (b"<storage_connection><port>abc</port></storage_connection>", "storage_connection/port", "not an integer"),
    (b"<storage_connection><port>1.5</port></storage_connection>", "storage_connection/port", "not an integer"),
    (b"<storage_connection><port>99999999999999999999</port></storage_connection>", "storage_connection/port",
     "integer"),
    (b"<storage_connection><nfs_timeo></nfs_timeo></storage_connection>", "storage_connection/nfs_timeo",
     "not an integer"),
    (b"<storage_connection><nfs_version>v5</nfs_version></storage_connection>", "storage_connection/nfs_version",
     "not one of"),
    (b"<storage_connection><type>cinder</type></storage_connection>", "storage_connection/type", "not one of"),
    (b"<storage_connection><address><x/></address></storage_connection>", "storage_connection/address",
     "not elements"),
    (b"<storage_connection><host>h1</host></storage_connection>", "storage_connection/host", "text is not allowed"),
    (b"<storage_connection><path>a</path><path>b</path></storage_connection>", "storage_connection/path",
     "more than once"),
    (b"<data_center><local>maybe</local></data_center>", "data_center/local", "not a boolean"),
], ids=lambda v: v if isinstance(v, str) and "/" in v else None)
def test_a_wrong_type_is_named(body: bytes, element: str, text: str) -> None:
    wanted = schema.DATA_CENTER if body.startswith(b"<data_center") else SC
    error = refused(body, wanted)
    assert error.element == element
    assert text in error.message


def test_unknown_attributes_are_refused_but_href_is_ignored() -> None:
    assert refused(b'<storage_connection foo="1"/>').element == "storage_connection/@foo"
    assert refused(b'<storage_connection><port unit="x">1</port></storage_connection>').element == (
        "storage_connection/port/@unit")
    assert schema.read_xml(b'<storage_connection href="/x" id="c1"/>', SC) == {"id": "c1"}


def test_links_and_actions_sent_back_are_ignored() -> None:
    body = (b'<storage_domain><name>n</name><actions><link rel="x" href="/y"/></actions>'
            b'<link rel="storageconnections" href="/z"/></storage_domain>')
    assert schema.read_xml(body, schema.STORAGE_DOMAIN_UPDATE) == {"name": "n"}


def test_the_wrong_root_element_is_named() -> None:
    error = refused(b"<storage_domain><name>x</name></storage_domain>")
    assert error.element == "storage_domain"
    assert "<storage_connection>" in error.message


def test_an_empty_body_is_refused() -> None:
    assert refused(b"").element == "storage_connection"
    assert refused(b"  \n", as_json=True).element == "storage_connection"


def test_deep_nesting_is_refused() -> None:
    depth = 200
    body = b"<storage_connection>" + b"<host>" * depth + b"</host>" * depth + b"</storage_connection>"
    assert "nested" in refused(body).message
    deep_json = b'{"host": ' * 5000 + b"{}" + b"}" * 5000
    refused(deep_json, as_json=True)


@pytest.mark.parametrize(("body", "element"), [
    (b'{"port": true}', "storage_connection/port"),
    (b'{"port": "x"}', "storage_connection/port"),
    (b'{"port": 1.5}', "storage_connection/port"),
    (b'{"address": 5}', "storage_connection/address"),
    (b'{"address": ["a"]}', "storage_connection/address"),
    (b'{"host": "h1"}', "storage_connection/host"),
    (b'{"id": 7}', "storage_connection/id"),
    (b'{"bogus": "x"}', "storage_connection/bogus"),
    (b'{"address": "a\\u0000b"}', "storage_connection/address"),
    (b'{"storage_connection": {"address": "a"}}', "storage_connection/storage_connection"),
])
def test_json_wrong_types_and_unknown_keys_are_named(body: bytes, element: str) -> None:
    assert refused(body, as_json=True).element == element


@pytest.mark.parametrize("body", [b"{", b"[1, 2", b"\xff\xfe\x00", b"nul", b'"a string"', b"[]"])
def test_malformed_or_non_object_json_is_a_bad_request(body: bytes) -> None:
    refused(body, as_json=True)


def test_json_lists_take_ovirts_form_or_a_bare_list() -> None:
    wrapped = schema.read_json(b'{"lun_storage": {"logical_units": {"logical_unit": [{"id": "L"}]}}}', schema.DISK)
    bare = schema.read_json(b'{"lun_storage": {"logical_units": [{"id": "L"}]}}', schema.DISK)
    assert wrapped == bare
    assert refused(b'{"lun_storage": {"logical_units": {"unit": []}}}', schema.DISK, as_json=True).element == (
        "disk/lun_storage/logical_units/unit")
    assert refused(b'{"lun_storage": {"logical_units": "L"}}', schema.DISK, as_json=True).element == (
        "disk/lun_storage/logical_units")


def test_json_null_means_not_given() -> None:
    assert schema.read_json(b'{"address": null, "path": "/p"}', SC) == {"path": "/p"}


def test_required_elements_are_incomplete_parameters() -> None:
    with pytest.raises(IncompleteParameters) as caught:
        decode.storage_domain(schema.read_xml(b"<storage_domain><type>data</type></storage_domain>",
                                              schema.STORAGE_DOMAIN))
    assert caught.value.reason == "Incomplete parameters"
    assert "[name, storage]" in caught.value.message
    with pytest.raises(IncompleteParameters):
        decode.storage_domain(schema.read_xml(b"<storage_domain><name>n</name><storage/></storage_domain>",
                                              schema.STORAGE_DOMAIN))
    with pytest.raises(IncompleteParameters):
        decode.lun_disk(schema.read_xml(b"<disk><alias>d</alias></disk>", schema.DISK))
    with pytest.raises(IncompleteParameters):
        decode.host({"name": "h"}, default_port=1)


def test_storage_id_and_connection_fields_together_are_refused() -> None:
    body = schema.read_xml(b'<storage_domain><name>n</name><storage id="c1"><address>a</address></storage>'
                           b"</storage_domain>", schema.STORAGE_DOMAIN)
    with pytest.raises(BodyError) as caught:
        decode.storage_domain(body)
    assert caught.value.element == "storage_domain/storage"


def test_a_disk_must_name_one_lun() -> None:
    body = schema.read_xml(b'<disk><alias>d</alias><lun_storage><logical_units><logical_unit id="a"/>'
                           b'<logical_unit id="b"/></logical_units></lun_storage></disk>', schema.DISK)
    with pytest.raises(BodyError):
        decode.lun_disk(body)


def test_changing_an_id_on_update_is_a_conflict() -> None:
    with pytest.raises(decode.ImmutableField) as caught:
        decode.storage_connection_update({"id": "other"}, "c1")
    assert caught.value.status == 409
    assert caught.value.reason == "Broken immutability constraint"
    assert decode.storage_connection_update({"id": "c1"}, "c1").id is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_no_bytes_crash_the_xml_reader(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        schema.read_body(data, SC, as_json=False)


_xmlish = st.lists(st.sampled_from([
    "<storage_connection>", "</storage_connection>", "<address>", "</address>", "<port>", "</port>", "<host>",
    "</host>", "<name>", "</name>", "12", "x", "&amp;", "<!--c-->", " ", '<host id="1"/>', "<logical_units>",
]), max_size=20).map(lambda parts: "".join(parts).encode())


# Declarations naming encodings pyexpat hands to Python's codecs: UTF-7 and
# idna raised ValueError and UnicodeError through the reader (a 500).
_declarations = st.sampled_from(
    ["", '<?xml version="1.0"?>']
    + [f'<?xml version="1.0" encoding="{name}"?>' for name in (
        "UTF-8", "utf-16", "UTF-7", "utf-32", "idna", "punycode", "undefined", "unicode_escape",
        "rot13", "base64", "cp037", "charmap", "latin-1", "x" * 100, "utf-8\x00")]
)


@settings(max_examples=300, deadline=None)
@given(_declarations, _xmlish)
def test_no_xml_like_input_crashes_the_reader_or_the_decoder(declaration: str, data: bytes) -> None:
    with contextlib.suppress(BodyError):
        decode.storage_connection(schema.read_body(declaration.encode() + data, SC, as_json=False))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**40) | st.floats()
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "address", "port", "host", "name", "id", "logical_units", "logical_unit",
                         "lun_storage", "alias", "x"]), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_no_json_value_crashes_the_reader_or_the_decoders(value: object) -> None:
    data = json.dumps(value).encode()
    for wanted, decoder in ((SC, decode.storage_connection), (schema.DISK, decode.lun_disk),
                            (schema.STORAGE_DOMAIN, decode.storage_domain)):
        with contextlib.suppress(BadRequest):
            decoder(schema.read_body(data, wanted, as_json=True))  # type: ignore[operator]
