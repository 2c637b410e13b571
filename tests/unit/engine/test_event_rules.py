"""The event rules on their own: the search subset for events, the texts, and scrubbing secrets."""

from __future__ import annotations

import pytest

from storconn.engine.errors import BadRequest
from storconn.engine.model import Host, StorageConnection, StorageType
from storconn.engine.rules import events as ev
from storconn.engine.rules.events import Condition


def test_terms_joined_by_and_bind_before_or() -> None:
    assert ev.parse_search("type=839 or type=887 and host.name=h1") == [
        [Condition("code", "=", 839, "int")],
        [Condition("code", "=", 887, "int"), Condition("host_name", "=", "h1", "text")],
    ]


def test_severity_compares_by_ovirts_numbers_and_ignores_case() -> None:
    assert ev.parse_search("Severity >= WARNING") == [[Condition("severity", ">=", 1, "severity")]]
    assert ev.parse_search("severity=alert") == [[Condition("severity", "=", 10, "severity")]]


def test_quoted_values_and_the_events_prefix() -> None:
    assert ev.parse_search('Events: event_host = "my host" AND origin!=\'x y\'') == [
        [Condition("host_name", "=", "my host", "text"), Condition("origin", "!=", "x y", "text")]
    ]


@pytest.mark.parametrize(
    ("query", "part"),
    [
        ("", "expected field=value"),
        ("type", "expected field=value"),
        ("type=", "expected field=value"),
        ("nope=1", "no field 'nope'"),
        ("type=1 and", "expected field=value"),
        ("type=1 xor type=2", "joined by"),
        ("type=99999999999", "integer"),
        ("severity=meh", "severity is one of"),
        ("origin<x", "takes = or != only"),
    ],
)
def test_what_it_cannot_read_is_unsupported_search(query: str, part: str) -> None:
    with pytest.raises(BadRequest) as failure:
        ev.parse_search(query)
    assert failure.value.key == "UNSUPPORTED_SEARCH"
    assert part in failure.value.message


def test_values_are_printed_never_expanded() -> None:
    host = Host(id="h", name="${UserName}", address="a", port=1)
    added = ev.build(ev.EventKind.HOST_ADDED, host=host)
    assert ev.render(added, "admin@internal") == "Host ${UserName} was added by admin@internal."
    assert ev.render(ev.build(ev.EventKind.HOST_UP, host=host), None) == "Status of host ${UserName} was set to Up."


def test_a_connectivity_failure_never_carries_the_chap_password_or_the_token() -> None:
    conn = StorageConnection(id="c", type=StorageType.ISCSI, connection="10.0.0.1", port=3260,
                             iqn="iqn.x:t", username="u", password="s3cret")
    host = Host(id="h", name="h1", address="a", port=1, token="tok-tok")
    event = ev.connection_tested(conn, host, connected=False,
                                 error="login iscsi://u%s3cret@10.0.0.1 with tok-tok failed")
    text = ev.render(event, "admin@internal")
    assert "s3cret" not in text and "tok-tok" not in text
    assert "iscsi://u%********@10.0.0.1" in text
    assert ev.describe_connection(conn) == "iscsi 10.0.0.1:3260 iqn.x:t"
