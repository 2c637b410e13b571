"""The events the engine records: their codes, severities and texts, and how ``?search=`` filters them.

Codes are oVirt's ``AuditLogType`` numbers wherever oVirt logs the same
thing, so that clients matching on ``type=`` keep working (``ovirt_host``
does): a host added (42), removed (44), Up (13), non responsive (12); a
domain added (956), edited (958), removed (960), attached (962), detached
(964), activated (966), deactivated (968); a data center added (950); a
host that failed to connect a domain's storage (188) or a test connection
(994); external events (9801-9804); the engine starting (1). oVirt records
nothing when a storage connection is added, edited or removed, nor has a
connectivity test; those are storconn's own codes, in a block oVirt does
not use (19001-19004, ``STORCONN_CODES``).

Texts follow oVirt's ``AuditLogMessages``: a template with ``${Name}``
placeholders filled once (``string.Template``), so that a name holding
``${...}`` is printed, never expanded. They name objects by name and id and
never carry a secret: a connection is shown by its type and target, never
its mount options or credentials, and the agent's error text goes through
``scrub`` first.

Search: ``parse_search`` turns ``type=966 or severity>=warning and
host.name="h*"`` into an OR of ANDs of ``Condition`` over the event's
attributes, named in ``SEARCH_FIELDS``; the repository turns that into SQL.
When the shared search language (``rules/search.py``) lands, only the
parser changes: the field map and the conditions stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from string import Template

from storconn.engine.errors import BadRequest, Conflict
from storconn.engine.model import (
    SEVERITY_CODES,
    DataCenter,
    EventObjects,
    ExternalEvent,
    Host,
    Severity,
    StorageConnection,
    StorageDomain,
    StorageType,
)

__all__ = [
    "ORIGIN",
    "PLACEHOLDERS",
    "Code",
    "Condition",
    "EventKind",
    "NewEvent",
    "SEARCH_FIELDS",
    "build",
    "parse_search",
    "render",
    "scrub",
]

ORIGIN = "storconn"  # the origin of the engine's own events (oVirt writes "oVirt")
MAX_DESCRIPTION = 10_000  # oVirt's MaxAuditLogMessageLength: longer texts are cut
HIDDEN = "********"


class Code:
    """oVirt's AuditLogType numbers this engine records, and storconn's own."""

    ENGINE_START = 1  # VDC_START
    HOST_NON_RESPONSIVE = 12  # VDS_FAILURE
    HOST_UP = 13  # VDS_DETECTED: "Status of host ... was set to Up."
    HOST_ADDED = 42  # USER_ADD_VDS
    HOST_MAINTENANCE = 620  # USER_VDS_MAINTENANCE_WITHOUT_REASON
    HOST_REMOVED = 44  # USER_REMOVE_VDS
    HOST_STORAGE_FAILED = 188  # VDS_STORAGES_CONNECTION_FAILED
    DATA_CENTER_ADDED = 950  # USER_ADD_STORAGE_POOL
    DOMAIN_ADDED = 956  # USER_ADD_STORAGE_DOMAIN
    DOMAIN_UPDATED = 958  # USER_UPDATE_STORAGE_DOMAIN
    DOMAIN_REMOVED = 960  # USER_REMOVE_STORAGE_DOMAIN
    DOMAIN_ATTACHED = 962  # USER_ATTACH_STORAGE_DOMAIN_TO_POOL
    DOMAIN_DETACHED = 964  # USER_DETACH_STORAGE_DOMAIN_FROM_POOL
    DOMAIN_ACTIVATED = 966  # USER_ACTIVATED_STORAGE_DOMAIN
    DOMAIN_DEACTIVATED = 968  # USER_DEACTIVATED_STORAGE_DOMAIN
    TEST_FAILED = 994  # CONNECT_STORAGE_SERVERS_FAILED
    EXTERNAL = {  # EXTERNAL_EVENT_NORMAL/WARNING/ERROR, EXTERNAL_ALERT
        Severity.NORMAL: 9801,
        Severity.WARNING: 9802,
        Severity.ERROR: 9803,
        Severity.ALERT: 9804,
    }
    # storconn's own: oVirt records nothing for these.
    CONNECTION_ADDED = 19001
    CONNECTION_UPDATED = 19002
    CONNECTION_REMOVED = 19003
    TEST_CONNECTED = 19004


STORCONN_CODES = range(19001, 19100)


@dataclass(slots=True)
class NewEvent:
    """An event to record: ``template`` is filled with ``values`` and ``${UserName}`` by ``render``."""

    code: int
    template: str
    values: dict[str, str] = field(default_factory=dict)
    objects: EventObjects = field(default_factory=EventObjects)
    severity: Severity = Severity.NORMAL


def render(event: NewEvent, user: str | None) -> str:
    """The event's text: one pass of substitution, so values are printed as they are."""
    text = Template(event.template).safe_substitute({**event.values, "UserName": user or ORIGIN})
    return text[:MAX_DESCRIPTION]


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every given secret replaced: the agent's errors must not carry a CHAP password."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, HIDDEN)
    return text


# --- what the commands record --------------------------------------------------------------


class EventKind(Enum):
    """Every event the engine records of its own, one row each: its code, its text and its severity.

    A text's ``${Name}`` placeholders are filled by ``build`` from the objects
    the event is about (``PLACEHOLDERS`` says which object fills which), and
    ``${UserName}`` by ``render``.
    """

    code: int
    template: str
    severity: Severity

    def __init__(self, code: int, template: str, severity: Severity) -> None:
        self.code = code
        self.template = template
        self.severity = severity

    ENGINE_START = (Code.ENGINE_START, "Starting storconn engine.", Severity.NORMAL)
    HOST_ADDED = (Code.HOST_ADDED, "Host ${VdsName} was added by ${UserName}.", Severity.NORMAL)
    HOST_REMOVED = (Code.HOST_REMOVED, "Host ${VdsName} was removed by ${UserName}.", Severity.NORMAL)
    HOST_MAINTENANCE = (
        Code.HOST_MAINTENANCE,
        "Host ${VdsName} was switched to Maintenance mode by ${UserName}.",
        Severity.NORMAL,
    )
    HOST_UP = (Code.HOST_UP, "Status of host ${VdsName} was set to Up.", Severity.NORMAL)
    HOST_NON_RESPONSIVE = (Code.HOST_NON_RESPONSIVE, "Host ${VdsName} is non responsive.", Severity.ERROR)
    HOST_STORAGE_FAILED = (
        Code.HOST_STORAGE_FAILED,
        "Failed to connect Host ${VdsName} to the Storage Domains ${StorageDomainName}.",
        Severity.ERROR,
    )
    DATA_CENTER_ADDED = (
        Code.DATA_CENTER_ADDED,
        "Data Center ${StoragePoolName} was added by ${UserName}",
        Severity.NORMAL,
    )
    DOMAIN_ADDED = (
        Code.DOMAIN_ADDED,
        "Storage Domain ${StorageDomainName} was added by ${UserName}",
        Severity.NORMAL,
    )
    DOMAIN_UPDATED = (
        Code.DOMAIN_UPDATED,
        "Storage Domain ${StorageDomainName} was updated by ${UserName}",
        Severity.NORMAL,
    )
    DOMAIN_REMOVED = (
        Code.DOMAIN_REMOVED,
        "Storage Domain ${StorageDomainName} was removed by ${UserName}",
        Severity.NORMAL,
    )
    DOMAIN_ATTACHED = (
        Code.DOMAIN_ATTACHED,
        "Storage Domain ${StorageDomainName} was attached to Data Center ${StoragePoolName} by ${UserName}",
        Severity.NORMAL,
    )
    DOMAIN_DETACHED = (
        Code.DOMAIN_DETACHED,
        "Storage Domain ${StorageDomainName} was detached from Data Center ${StoragePoolName} by ${UserName}",
        Severity.NORMAL,
    )
    DOMAIN_ACTIVATED = (
        Code.DOMAIN_ACTIVATED,
        "Storage Domain ${StorageDomainName} (Data Center ${StoragePoolName}) was activated by ${UserName}",
        Severity.NORMAL,
    )
    # oVirt's text says "Preparing for maintenance"; here the domain is in maintenance at once.
    DOMAIN_DEACTIVATED = (
        Code.DOMAIN_DEACTIVATED,
        "Storage Domain ${StorageDomainName} (Data Center ${StoragePoolName}) was deactivated by "
        "${UserName} and moved to Maintenance.",
        Severity.NORMAL,
    )
    CONNECTION_ADDED = (
        Code.CONNECTION_ADDED,
        "Storage connection ${ConnectionId} (${Connection}) was added by ${UserName}.",
        Severity.NORMAL,
    )
    CONNECTION_UPDATED = (
        Code.CONNECTION_UPDATED,
        "Storage connection ${ConnectionId} (${Connection}) was updated by ${UserName}.",
        Severity.NORMAL,
    )
    CONNECTION_REMOVED = (
        Code.CONNECTION_REMOVED,
        "Storage connection ${ConnectionId} (${Connection}) was removed by ${UserName}.",
        Severity.NORMAL,
    )
    TEST_CONNECTED = (
        Code.TEST_CONNECTED,
        "Host ${VdsName} connected to storage connection ${ConnectionId} (${Connection}) "
        "in a connectivity test by ${UserName}.",
        Severity.NORMAL,
    )
    TEST_FAILED = (
        Code.TEST_FAILED,
        "Failed to connect Host ${VdsName} to storage connection ${ConnectionId} (${Connection}) "
        "in a connectivity test by ${UserName}: ${ErrorMessage}",
        Severity.WARNING,
    )


# Which of ``build``'s arguments fills each placeholder; ``${UserName}`` is ``render``'s.
PLACEHOLDERS: Mapping[str, str] = {
    "ConnectionId": "connection",
    "Connection": "connection",
    "StorageDomainName": "domain",
    "StoragePoolName": "data_center",
    "VdsName": "host",
    "ErrorMessage": "error",
}


def describe_connection(conn: StorageConnection) -> str:
    """A connection as the events show it: type and target, never options or credentials."""
    if conn.type is StorageType.ISCSI:
        port = f":{conn.port}" if conn.port else ""
        return f"{conn.type.value} {conn.connection}{port} {conn.iqn or ''}".rstrip()
    return f"{conn.type.value} {conn.connection}"


def build(
    kind: EventKind,
    *,
    connection: StorageConnection | None = None,
    domain: StorageDomain | None = None,
    data_center: DataCenter | None = None,
    host: Host | None = None,
    error: str | None = None,
) -> NewEvent:
    """The event ``kind`` about the objects given: its text's values and the ids and names it links to.

    ``error`` (the agent's text) is scrubbed of the connection's CHAP password
    and the host's token before it goes into the text.
    """
    values: dict[str, str] = {}
    objects = EventObjects()
    if connection is not None:
        values.update(ConnectionId=connection.id, Connection=describe_connection(connection))
        objects.storage_connection_id = connection.id
    if domain is not None:
        values["StorageDomainName"] = domain.name
        objects.storage_domain_id, objects.storage_domain_name = domain.id, domain.name
        # A domain of several connections (multipath iSCSI) links to none of them.
        if len(domain.connection_ids) == 1:
            objects.storage_connection_id = domain.connection_ids[0]
    if host is not None:
        values["VdsName"] = host.name
        objects.host_id, objects.host_name = host.id, host.name
        objects.data_center_id = host.data_center_id
    if data_center is not None:  # after the host: the data center the event names is the one it links to
        values["StoragePoolName"] = data_center.name
        objects.data_center_id, objects.data_center_name = data_center.id, data_center.name
    if error is not None:
        secrets = [connection.password if connection else None, host.token if host else None]
        values["ErrorMessage"] = scrub(error, secrets)
    return NewEvent(kind.code, kind.template, values, objects, kind.severity)


def connection_tested(
    conn: StorageConnection, host: Host, *, connected: bool, error: str | None = None
) -> NewEvent:
    """The connectivity test's result on ``host``: connected, or the agent's error (scrubbed)."""
    if connected:
        return build(EventKind.TEST_CONNECTED, connection=conn, host=host)
    return build(EventKind.TEST_FAILED, connection=conn, host=host, error=error or "no answer in time")


# --- search ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchField:
    attr: str  # the event's attribute (a column of ``events``)
    kind: str  # "int", "severity" or "text"


_HOST_NAME = SearchField("host_name", "text")
_DOMAIN_NAME = SearchField("storage_domain_name", "text")
_DC_NAME = SearchField("data_center_name", "text")

# oVirt's field names for events (AuditLogConditionFieldAutoCompleter), lower case,
# and the ``host.name`` form its clients send.
SEARCH_FIELDS: Mapping[str, SearchField] = {
    "type": SearchField("code", "int"),
    "severity": SearchField("severity", "severity"),
    "message": SearchField("description", "text"),
    "origin": SearchField("origin", "text"),
    "custom_event_id": SearchField("custom_id", "int"),
    "correlation_id": SearchField("correlation_id", "text"),
    "usrname": SearchField("user_name", "text"),
    "usrid": SearchField("user_id", "text"),
    "event_host": _HOST_NAME,
    "host.name": _HOST_NAME,
    "_event_host_id": SearchField("host_id", "text"),
    "host.id": SearchField("host_id", "text"),
    "event_storage": _DOMAIN_NAME,
    "storage.name": _DOMAIN_NAME,
    "_event_storage_id": SearchField("storage_domain_id", "text"),
    "event_datacenter": _DC_NAME,
    "datacenter.name": _DC_NAME,
    "_event_datacenter_id": SearchField("data_center_id", "text"),
    "_event_vm_id": SearchField("vm_id", "text"),
}

_TERM = re.compile(
    r"""\s*(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>"[^"]*"|'[^']*'|[^\s"']+)\s*"""
)
_JOIN = re.compile(r"\s*\b(and|or)\b\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Condition:
    """``attr op value``: an int for "int" and "severity" fields, a pattern (``*`` wildcards) for text."""

    attr: str
    op: str
    value: int | str
    kind: str


# An OR of ANDs: [[a, b], [c]] is (a and b) or c.
Filter = list[list[Condition]]


def _unsupported(query: str, why: str) -> BadRequest:
    return BadRequest("UNSUPPORTED_SEARCH", f"Unsupported search {query[:200]!r}: {why}.")


def _value(name: str, spec: SearchField, op: str, raw: str, query: str) -> int | str:
    text = raw[1:-1] if raw[:1] in "\"'" else raw
    if spec.kind == "text":
        if op not in ("=", "!="):
            raise _unsupported(query, f"{name} takes = or != only")
        return text
    if spec.kind == "severity":
        try:
            return SEVERITY_CODES[Severity(text.lower())]
        except ValueError:
            choices = ", ".join(s.value for s in Severity)
            raise _unsupported(query, f"{name} is one of {choices}, not {text[:40]!r}") from None
    if not re.fullmatch(r"-?[0-9]{1,10}", text) or not -(2**31) <= int(text) < 2**31:
        raise _unsupported(query, f"{name} is an integer, not {text[:40]!r}")
    return int(text)


def parse_search(query: str) -> Filter:
    """``field op value`` terms joined by ``and``/``or`` (``and`` binds first); fields are ``SEARCH_FIELDS``."""
    result: Filter = [[]]
    position = 0
    stripped = query.strip()
    if stripped.lower().startswith("events:"):  # oVirt's own prefix, as its web admin writes it
        stripped = stripped[len("events:") :]
    while True:
        term = _TERM.match(stripped, position)
        if term is None:
            raise _unsupported(query, "expected field=value terms joined by 'and' or 'or'")
        name = term["field"].lower()
        spec = SEARCH_FIELDS.get(name)
        if spec is None:
            known = ", ".join(sorted(n for n in SEARCH_FIELDS if not n.startswith("_")))
            raise _unsupported(query, f"events have no field {term['field'][:40]!r} (known: {known})")
        op = term["op"]
        result[-1].append(Condition(spec.attr, op, _value(name, spec, op, term["value"], query), spec.kind))
        position = term.end()
        if position >= len(stripped):
            return result
        join = _JOIN.match(stripped, position)
        if join is None:
            raise _unsupported(query, "terms are joined by 'and' or 'or'")
        if join[1].lower() == "or":
            result.append([])
        position = join.end()



# --- external events (POST /events) ------------------------------------------------------------

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INT32 = range(-(2**31), 2**31)
# The links an external event may carry, as the API names them, and where their ids go.
EXTERNAL_LINKS = {
    "host": "host_id",
    "storage_domain": "storage_domain_id",
    "data_center": "data_center_id",
    "cluster": "cluster_id",
    "vm": "vm_id",
    "user": "user_id",
}


def check_external(event: ExternalEvent) -> None:
    """oVirt's checks of an external event, in its order: the REST layer's, then AddExternalEvent's origin."""
    for name, value in (("custom_id", event.custom_id), ("flood_rate", event.flood_rate)):
        if value is not None and value not in _INT32:
            raise BadRequest("INVALID_VALUE", f"Element 'event/{name}': {value} is out of range.")
    for name, text in (("origin", event.origin), ("correlation_id", event.correlation_id)):
        if text is not None and len(text) > 255:
            raise BadRequest("INVALID_VALUE", f"Element 'event/{name}': longer than 255 characters.")
    for link, attr in EXTERNAL_LINKS.items():
        ident = getattr(event.objects, attr)
        if ident is not None and not _UUID.fullmatch(ident):
            raise BadRequest("INVALID_VALUE", f"Element 'event/{link}/@id': {ident[:40]!r} is not a UUID.")
    # The engine's own origins: an outside system may not write in their name.
    if event.origin.strip().lower() in (ORIGIN, "ovirt"):
        raise BadRequest(
            "ACTION_TYPE_FAILED_EXTERNAL_EVENT_ILLEGAL_ORIGIN",
            f"Illegal Origin for External Event : {event.origin.strip()}",
        )


def duplicate_custom_id() -> Conflict:
    return Conflict(
        "ACTION_TYPE_FAILED_EXTERNAL_EVENT_DUPLICATE_CUSTOM_ID",
        "External Event with this custom id already exists.",
    )
