"""What clients may send: one schema per request type, and the reader that checks a body against it.

A schema names oVirt's elements for one type, each with its kind (string,
integer, boolean, enum, nested object, list), the elements oVirt's model has
but this engine does not use (accepted and ignored, as oVirt ignores them:
``comment``, a VM's ``cluster`` and ``template``...), and whether the type
carries an ``id`` attribute. Anything else is refused with a ``BodyError``
(400) that names the element by its path (``storage_connection/port``).

XML and JSON bodies read into the same plain dicts: ``{"address": "nfs1",
"port": 3260, "host": {"name": "h1"}, "id": "..."}``; lists become lists of
dicts. ``href``, ``link`` and ``actions`` are output-only and skipped, so a
client may send back what it read.

Error tree (all ``storconn.engine.errors.BadRequest``)::

    BodyError                 400  malformed, unknown element, wrong type; names the element
     ├── IncompleteParameters 400  a required element is missing
     └── BodyTooLarge         413  over the size limit
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from storconn.engine.errors import BadRequest
from storconn.engine.model import StorageType

from .document import clean
from .xmlparse import XmlNode, XmlSyntaxError, parse_xml

Fields = dict[str, Any]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_SKIPPED = frozenset({"href", "link", "actions"})


class BodyError(BadRequest):
    """A request body this API cannot read; ``element`` names where it went wrong."""

    reason = "Request syntactically incorrect."

    def __init__(self, message: str, *, element: str | None = None, key: str = "INVALID_REQUEST_BODY") -> None:
        super().__init__(key, message)
        self.element = element


class IncompleteParameters(BodyError):
    reason = "Incomplete parameters"

    def __init__(self, entity: str, missing: list[str], *, verb: str = "add") -> None:
        super().__init__(f"{entity} [{', '.join(missing)}] required for {verb}", element=missing[0],
                         key="INCOMPLETE_PARAMETERS")


class BodyTooLarge(BodyError):
    status = 413
    reason = "Request Entity Too Large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.", key="REQUEST_BODY_TOO_LARGE")


# --- schemas ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    name: str  # "string", "integer", "boolean", "enum", "object", "list"
    values: frozenset[str] = frozenset()  # enum values
    schema: Schema | None = None  # object and list items


STRING = Kind("string")
INTEGER = Kind("integer")
BOOLEAN = Kind("boolean")


def enum(*values: str) -> Kind:
    return Kind("enum", frozenset(values))


def obj(schema: Schema) -> Kind:
    return Kind("object", schema=schema)


def many(schema: Schema) -> Kind:
    return Kind("list", schema=schema)


@dataclass(frozen=True, slots=True)
class Schema:
    tag: str
    fields: Mapping[str, Kind]
    ignored: frozenset[str] = frozenset()
    has_id: bool = True


def _schema(tag: str, fields: Mapping[str, Kind], ignored: tuple[str, ...] = (), *, has_id: bool = True) -> Schema:
    return Schema(tag, dict(fields), frozenset(ignored), has_id)


STORAGE_TYPES = tuple(t.value for t in StorageType)
NFS_VERSIONS = ("auto", "v3", "v4", "v4_0", "v4_1", "v4_2")
DOMAIN_TYPES = ("data", "iso", "export")

HOST_REF = _schema("host", {"name": STRING}, ("comment", "description", "address"))
DATA_CENTER_REF = _schema("data_center", {"name": STRING}, ("comment", "description"))
# A host's cluster: by id, by name, or (storconn's earlier form) by its data center only.
CLUSTER_REF = _schema("cluster", {"name": STRING, "data_center": obj(DATA_CENTER_REF)}, ("comment", "description"))
GLUSTER_VOLUME_REF = _schema("gluster_volume", {"name": STRING}, ("comment", "description"))
DISK_REF = _schema("disk", {"name": STRING, "alias": STRING}, ("comment", "description"))

_CONNECTION_DETAILS: dict[str, Kind] = {
    "type": enum(*STORAGE_TYPES),
    "address": STRING,
    "path": STRING,
    "port": INTEGER,
    "target": STRING,
    "portal": STRING,
    "username": STRING,
    "password": STRING,
    "vfs_type": STRING,
    "mount_options": STRING,
    "nfs_version": enum(*NFS_VERSIONS),
    "nfs_timeo": INTEGER,
    "nfs_retrans": INTEGER,
}

STORAGE_CONNECTION = _schema(
    "storage_connection",
    {**_CONNECTION_DETAILS, "gluster_volume": obj(GLUSTER_VOLUME_REF), "host": obj(HOST_REF)},
    ("name", "comment", "description"),
)

LOGICAL_UNIT = _schema(
    "logical_unit",
    {"address": STRING, "port": INTEGER, "target": STRING, "portal": STRING, "username": STRING,
     "password": STRING, "lun_mapping": INTEGER},
    ("serial", "vendor_id", "product_id", "size", "paths", "active_paths", "status", "volume_group_id",
     "storage_domain_id", "disk_id", "discard_max_size", "discard_zeroes_data"),
)

# oVirt takes a domain's LUNs under <storage> or under <storage><volume_group> (what a GET shows).
VOLUME_GROUP = _schema("volume_group", {"logical_units": many(LOGICAL_UNIT)}, ("name",))

# oVirt's HostStorage: a domain's <storage> and a disk's <lun_storage>.
HOST_STORAGE = _schema(
    "storage",
    {**_CONNECTION_DETAILS, "logical_units": many(LOGICAL_UNIT), "host": obj(HOST_REF),
     "volume_group": obj(VOLUME_GROUP)},
    ("name", "comment", "description", "override_luns"),
)
LUN_STORAGE = _schema("lun_storage", HOST_STORAGE.fields, tuple(HOST_STORAGE.ignored))

_DOMAIN_IGNORED = (
    "comment", "storage_format", "wipe_after_delete", "discard_after_delete", "backup", "block_size",
    "critical_space_action_blocker", "warning_low_space_indicator", "supports_discard",
    "supports_discard_zeroes_data",
)
STORAGE_DOMAIN = _schema(
    "storage_domain",
    {"name": STRING, "description": STRING, "type": enum(*DOMAIN_TYPES), "storage": obj(HOST_STORAGE),
     "host": obj(HOST_REF)},
    _DOMAIN_IGNORED,
)
# What the SDK's update sends back: the whole entity. New LUNs in <storage> extend a block domain, as
# in oVirt; the rest of <storage> and the host are ignored, as oVirt's update ignores them; the type may
# be sent only unchanged.
STORAGE_DOMAIN_UPDATE = _schema(
    "storage_domain",
    {"name": STRING, "description": STRING, "storage": obj(HOST_STORAGE), "type": enum(*DOMAIN_TYPES)},
    (*_DOMAIN_IGNORED, "host", "status", "data_center", "data_centers", "master", "available", "used",
     "committed", "external_status", "import"),
)
STORAGE_DOMAIN_REF = _schema("storage_domain", {"name": STRING}, ("comment", "description"))

VERSION = _schema("version", {"major": INTEGER, "minor": INTEGER}, ("build", "full_version", "revision"))

DATA_CENTER = _schema(
    "data_center",
    {"name": STRING, "description": STRING, "comment": STRING, "local": BOOLEAN, "version": obj(VERSION)},
    # storage_format follows the version (v5 from 4.3 on); quota and MAC pools do not concern storage.
    ("storage_format", "quota_mode", "mac_pool"),
)

CPU_ARCHITECTURES = ("undefined", "x86_64", "ppc64", "s390x", "aarch64")
CPU = _schema("cpu", {"type": STRING, "architecture": enum(*CPU_ARCHITECTURES)}, ("level", "name", "speed", "topology"))

# What ovirt_cluster and the SDK may send that does not concern storage: accepted and ignored
# (docs/engine.md lists them); the answer shows oVirt's defaults for a new cluster instead.
CLUSTER_IGNORED = (
    "ballooning_enabled", "gluster_service", "virt_service", "threads_as_cores", "ha_reservation",
    "trusted_service", "optional_reason", "maintenance_reason_required", "scheduling_policy", "serial_number",
    "migration", "error_handling", "fencing_policy", "display", "required_rng_sources", "memory_policy", "ksm",
    "management_network", "switch_type", "mac_pool", "external_network_providers",
    "custom_scheduling_policy_properties", "firewall_type", "gluster_tuned_profile",
)
CLUSTER = _schema(
    "cluster",
    {"name": STRING, "description": STRING, "comment": STRING, "data_center": obj(DATA_CENTER_REF),
     "version": obj(VERSION), "cpu": obj(CPU)},
    CLUSTER_IGNORED,
)

HOST = _schema(
    "host",
    {"name": STRING, "address": STRING, "port": INTEGER, "root_password": STRING, "cluster": obj(CLUSTER_REF)},
    # Its status is read-only; PUT /hosts/{id} takes name and cluster (decode.host_update).
    ("comment", "description", "override_iptables", "power_management", "spm", "ssh", "display"),
)

DISK = _schema(
    "disk",
    {"name": STRING, "alias": STRING, "storage_type": enum("lun"), "lun_storage": obj(LUN_STORAGE)},
    # What the SDK and the Ansible collection send with a LUN disk, meaningless for one.
    ("comment", "description", "shareable", "sgio", "format", "bootable", "interface", "wipe_after_delete",
     "propagate_errors", "uses_scsi_reservation", "content_type", "sparse", "storage_domains"),
)

VM = _schema(
    "vm",
    {"name": STRING},
    ("comment", "description", "cluster", "template", "memory", "memory_policy", "cpu", "os", "type",
     "high_availability", "stateless", "status"),
)

DISK_ATTACHMENT = _schema(
    "disk_attachment",
    {"disk": obj(DISK_REF), "active": BOOLEAN},
    ("interface", "bootable", "pass_discard", "read_only", "uses_scsi_reservation", "logical_name",
     "description", "comment", "name"),
)

# oVirt's Event for POST /events: links by id only (a name is ignored, as oVirt ignores it).
_EVENT_LINK = _schema("link", {}, ("name", "comment", "description", "external_status"))
EVENT = _schema(
    "event",
    {"description": STRING, "severity": enum("normal", "warning", "error", "alert"), "origin": STRING,
     "custom_id": INTEGER, "flood_rate": INTEGER, "correlation_id": STRING,
     **{link: obj(_EVENT_LINK) for link in ("host", "storage_domain", "data_center", "cluster", "vm", "user")}},
    ("comment", "name", "code", "index", "time", "log_on_host", "custom_data", "template"),
)

# A VM's start names its host as the SDK does: <action><vm><placement_policy><hosts><host>.
PLACEMENT_POLICY = _schema("placement_policy", {"hosts": many(HOST_REF)}, ("affinity",), has_id=False)
VM_PLACEMENT = _schema("vm", {"placement_policy": obj(PLACEMENT_POLICY)}, tuple(VM.ignored) + ("name",))

ACTION = _schema(
    "action",
    {"async": BOOLEAN, "force": BOOLEAN, "host": obj(HOST_REF), "vm": obj(VM_PLACEMENT)},
    ("correlation_id", "reason", "pause", "use_cloud_init", "use_sysprep", "use_ignition", "use_initialization",
     "volatile", "filter", "authorized_key"),
    has_id=False,
)

# oVirt's IscsiDetails in a host's iscsidiscover/discoveriscsi/iscsilogin action;
# what discovery answers with may be sent back as it is.
ISCSI_DETAILS = _schema(
    "iscsi",
    {"address": STRING, "port": INTEGER, "target": STRING, "portal": STRING, "username": STRING,
     "password": STRING},
    ("disk_id", "initiator", "lun_mapping", "paths", "product_id", "serial", "size", "status",
     "storage_domain_id", "vendor_id", "volume_group_id"),
    has_id=False,
)
HOST_ACTION = _schema(
    "action",
    {"async": BOOLEAN, "iscsi": obj(ISCSI_DETAILS)},
    ("correlation_id", "reason", "stop_gluster_service"),
    has_id=False,
)


# --- reading ---------------------------------------------------------------


def read_xml(data: bytes, schema: Schema) -> Fields:
    """Parse and check an XML body whose root must be ``schema.tag``."""
    try:
        root = parse_xml(data)
    except XmlSyntaxError as exc:
        raise BodyError(f"Cannot parse the request body: {exc}.", key="MALFORMED_REQUEST_BODY") from exc
    if root.tag != schema.tag:
        raise BodyError(f"Expected the element <{schema.tag}>, but the body is <{root.tag}>.", element=root.tag)
    return _xml_object(root, schema, schema.tag)


def read_json(data: bytes, schema: Schema) -> Fields:
    """Parse and check a JSON body: one object with ``schema``'s elements as keys (no root wrapper)."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BodyError(f"Cannot parse the request body: malformed JSON: {exc}.",
                        key="MALFORMED_REQUEST_BODY") from exc
    return _json_object(value, schema, schema.tag)


def _refuse_constant(name: str) -> Any:
    # json.loads reads NaN, Infinity and -Infinity, which JSON does not have.
    raise ValueError(f"{name} is not a JSON value")


def _bounded_int(text: str) -> int:
    # Python's own limit (4300 digits) answers with advice about sys; every
    # integer field fits in 64 bits, so anything longer is refused plainly.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"a number has more than {_MAX_INT_DIGITS} digits")
    return int(text)


_MAX_INT_DIGITS = 40


def _unknown(path: str) -> BodyError:
    return BodyError(f"Element '{path}' is not known here.", element=path, key="UNKNOWN_ELEMENT")


def _wrong(path: str, what: str) -> BodyError:
    return BodyError(f"Element '{path}': {what}.", element=path, key="INVALID_VALUE")


def _xml_object(node: XmlNode, schema: Schema, path: str) -> Fields:
    out: Fields = {}
    for name, value in node.attrs.items():
        if name == "id" and schema.has_id:
            out["id"] = value
        elif name != "href":
            raise _unknown(f"{path}/@{name}")
    if node.text.strip():
        raise _wrong(path, "text is not allowed here, only elements")
    for child in node.children:
        name = child.tag
        if name in _SKIPPED or name in schema.ignored:
            continue
        kind = schema.fields.get(name)
        child_path = f"{path}/{name}"
        if kind is None:
            raise _unknown(child_path)
        if name in out:
            raise _wrong(child_path, "given more than once")
        out[name] = _xml_value(child, kind, child_path)
    return out


def _xml_value(node: XmlNode, kind: Kind, path: str) -> Any:
    if kind.schema is not None:
        if kind.name == "object":
            return _xml_object(node, kind.schema, path)
        if node.attrs.keys() - {"href"}:
            raise _unknown(f"{path}/@{sorted(node.attrs.keys() - {'href'})[0]}")
        if node.text.strip():
            raise _wrong(path, "text is not allowed here, only elements")
        items = []
        for index, child in enumerate(node.children):
            if child.tag != kind.schema.tag:
                raise _unknown(f"{path}/{child.tag}")
            items.append(_xml_object(child, kind.schema, f"{path}/{child.tag}[{index}]"))
        return items
    if node.children:
        raise _wrong(path, f"expected {_describe(kind)}, not elements")
    if node.attrs:
        raise _unknown(f"{path}/@{next(iter(node.attrs))}")
    return _scalar(node.text, kind, path)


def _json_object(value: Any, schema: Schema, path: str) -> Fields:
    if not isinstance(value, dict):
        raise _wrong(path, f"expected an object, not {_json_type(value)}")
    out: Fields = {}
    for name, item in value.items():
        child_path = f"{path}/{name}"
        if name == "id" and schema.has_id:
            if not isinstance(item, str):
                raise _wrong(child_path, f"expected a string, not {_json_type(item)}")
            if clean(item) != item:
                raise _wrong(child_path, "contains characters that are not allowed")
            out["id"] = item
            continue
        if name in _SKIPPED or name in schema.ignored or item is None:  # null: not given
            continue
        kind = schema.fields.get(name)
        if kind is None:
            raise _unknown(child_path)
        out[name] = _json_value(item, kind, child_path)
    return out


def _json_value(value: Any, kind: Kind, path: str) -> Any:
    if kind.schema is not None:
        if kind.name == "object":
            return _json_object(value, kind.schema, path)
        # oVirt writes a list element as {"logical_unit": [...]}; a bare list is accepted too.
        if isinstance(value, dict):
            extra = value.keys() - {kind.schema.tag, "href"}
            if extra:
                raise _unknown(f"{path}/{sorted(extra)[0]}")
            value = value.get(kind.schema.tag, [])
        if not isinstance(value, list):
            raise _wrong(path, f"expected a list, not {_json_type(value)}")
        return [_json_object(v, kind.schema, f"{path}/{kind.schema.tag}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, bool):
        if kind is BOOLEAN:
            return value
        raise _wrong(path, f"expected {_describe(kind)}, not a boolean")
    if isinstance(value, int):
        if kind is INTEGER:
            return _integer(str(value), path)
        raise _wrong(path, f"expected {_describe(kind)}, not a number")
    if isinstance(value, float) and kind is INTEGER:
        raise _wrong(path, f"{value!r} is not an integer")
    if isinstance(value, str):
        if clean(value) != value:
            raise _wrong(path, "contains characters that are not allowed")
        return _scalar(value, kind, path)
    raise _wrong(path, f"expected {_describe(kind)}, not {_json_type(value)}")


def _scalar(text: str, kind: Kind, path: str) -> Any:
    if kind is STRING:
        return text
    if kind is INTEGER:
        return _integer(text, path)
    if kind is BOOLEAN:
        lowered = text.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise _wrong(path, f"{_quote(text)} is not a boolean (true or false)")
    lowered = text.strip().lower()
    if lowered not in kind.values:
        raise _wrong(path, f"{_quote(text)} is not one of {', '.join(sorted(kind.values))}")
    return lowered


def _integer(text: str, path: str) -> int:
    stripped = text.strip()
    if not _INT.fullmatch(stripped):
        raise _wrong(path, f"{_quote(text)} is not an integer")
    number = int(stripped)
    if not INT_MIN <= number <= INT_MAX:
        raise _wrong(path, f"{_quote(text)} is out of range")
    return number


def _quote(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _describe(kind: Kind) -> str:
    names = {"string": "a string", "integer": "an integer", "boolean": "a boolean"}
    return names.get(kind.name, "one of " + ", ".join(sorted(kind.values)))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", float: "a number",
            int: "a number"}.get(type(value), type(value).__name__)


def read_body(data: bytes, schema: Schema, *, as_json: bool) -> Fields:
    """Read a body in the given format; an empty body is refused naming the expected element."""
    if not data.strip():
        raise BodyError(f"The request body is empty; expected <{schema.tag}>.", element=schema.tag,
                        key="MALFORMED_REQUEST_BODY")
    return read_json(data, schema) if as_json else read_xml(data, schema)
