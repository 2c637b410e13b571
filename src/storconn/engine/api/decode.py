"""Checked request bodies (``schema.Fields``) into the arguments of the Engine's commands.

The mapping is oVirt's, one to one: ``nfs_version`` ``v4_1`` is stored as
``"4.1"``; a ``<host>`` is named by its id or, without one, by its name; a
``<storage id="...">`` inside a new domain refers to an existing connection,
while connection fields inside it create one with the domain. Which fields
each storage type requires is the rules' business, not the codec's: only
what a command cannot be called without is checked here
(``IncompleteParameters``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storconn.engine.errors import Conflict
from storconn.engine.model import (
    ConnectionFields,
    EventObjects,
    ExternalEvent,
    IscsiDetails,
    LunFields,
    Severity,
    StorageType,
)
from storconn.engine.rules.events import EXTERNAL_LINKS
from storconn.engine.rules.messages import IncompleteParameters as MissingParameters

from .schema import BodyError, Fields, IncompleteParameters

# oVirt's NfsVersion values and the versions the engine stores.
NFS_VERSION_IN = {"auto": "auto", "v3": "3", "v4": "4", "v4_0": "4.0", "v4_1": "4.1", "v4_2": "4.2"}
NFS_VERSION_OUT = {stored: wire for wire, stored in NFS_VERSION_IN.items()}

_DETAIL_NAMES = (
    "address", "path", "port", "target", "portal", "username", "password", "vfs_type", "mount_options",
    "nfs_timeo", "nfs_retrans",
)


def reference(fields: Fields | None) -> str | None:
    """A ``<host>``/``<data_center>``/``<disk>`` reference: its id, else its name (``alias`` for disks)."""
    if fields is None:
        return None
    value = fields.get("id") or fields.get("name") or fields.get("alias")
    return value if isinstance(value, str) and value else None


def connection_fields(fields: Fields) -> ConnectionFields:
    """The connection details of a ``<storage_connection>``, ``<storage>`` or ``<logical_unit>``."""
    result = ConnectionFields(**{name: fields[name] for name in _DETAIL_NAMES if name in fields})
    if "type" in fields:
        result.type = StorageType(fields["type"])
    if "nfs_version" in fields:
        result.nfs_version = NFS_VERSION_IN[fields["nfs_version"]]
    if "gluster_volume" in fields:
        result.gluster_volume = reference(fields["gluster_volume"])
    return result


class ImmutableField(Conflict):
    """A PUT that tries to change an id (409, as oVirt answers)."""

    reason = "Broken immutability constraint"

    def __init__(self, name: str) -> None:
        super().__init__("BROKEN_IMMUTABILITY_CONSTRAINT", f"Attempt to set immutable field: {name}")


@dataclass(slots=True)
class ConnectionRequest:
    fields: ConnectionFields
    host: str | None
    id: str | None


def storage_connection(body: Fields) -> ConnectionRequest:
    """``<storage_connection>`` for add: the details, the optional ``<host>``, the id a client should not give."""
    return ConnectionRequest(connection_fields(body), reference(body.get("host")), body.get("id") or None)


def storage_connection_update(body: Fields, connection_id: str) -> ConnectionRequest:
    """``<storage_connection>`` for update: the given fields only (a PUT merges); the id cannot change."""
    _check_same_id(body, connection_id)
    return ConnectionRequest(connection_fields(body), reference(body.get("host")), None)


@dataclass(slots=True)
class DomainRequest:
    name: str
    storage_type: StorageType | None  # None: take it from the existing connection named by connection_id
    domain_type: str
    description: str | None
    connection_id: str | None
    connection: ConnectionFields | None
    host: str | None
    luns: list[LunFields] = field(default_factory=list)  # iscsi/fcp domains given as <logical_units>


def storage_domain(body: Fields) -> DomainRequest:
    """``<storage_domain>`` for add: ``<storage id="..."/>`` or embedded connection fields."""
    missing = (["name"] if not body.get("name") else []) + (["storage"] if "storage" not in body else [])
    if missing:
        raise IncompleteParameters("Storage domain", missing)
    storage: Fields = body["storage"]
    if body.get("id"):
        raise BodyError("A new storage domain cannot be given an id.", element="storage_domain/@id",
                        key="ACTION_TYPE_FAILED_ID_NOT_EMPTY")
    storage_type = StorageType(storage["type"]) if "type" in storage else None
    connection_id = storage.get("id") or None
    connection: ConnectionFields | None = None
    luns: list[LunFields] = []
    units = _units(storage)
    details = storage.keys() - {"id", "type", "host", "logical_units", "volume_group"}
    if connection_id is None:
        if storage_type is None:
            raise IncompleteParameters("Storage domain", ["storage.type"])
        connection = connection_fields(storage)
        if units:
            if storage_type not in (StorageType.ISCSI, StorageType.FCP):
                raise BodyError("Element 'storage_domain/storage/logical_units': logical units make iscsi and fcp "
                                f"domains, not {storage_type.value} ones.",
                                element="storage_domain/storage/logical_units", key="INVALID_VALUE")
            # One domain, LUNs on any number of targets: a connection per target, made by the engine.
            luns = _luns(connection, units, storage_type, "Storage domain")
            connection = None
    elif details or units:
        raise BodyError("Give either <storage id=\"...\"/> for an existing connection or the connection's "
                        "fields, not both.", element="storage_domain/storage", key="INVALID_VALUE")
    host = reference(body.get("host")) or reference(storage.get("host"))
    return DomainRequest(
        name=body["name"],
        storage_type=storage_type,
        domain_type=body.get("type", "data"),
        description=body.get("description"),
        connection_id=connection_id,
        connection=connection,
        host=host,
        luns=luns,
    )


def _units(storage: Fields) -> list[Fields]:
    """A ``<storage>``'s logical units: under it, or under its ``<volume_group>`` (both are oVirt's)."""
    units: list[Fields] = storage.get("logical_units") or []
    return units or (storage.get("volume_group") or {}).get("logical_units") or []


def _luns(base: ConnectionFields, units: list[Fields], storage_type: StorageType | None,
          entity: str) -> list[LunFields]:
    """Each ``<logical_unit>`` with its id and, but for FCP, the target it is on.

    The ``<storage>``'s own address, port, CHAP user and password are the
    defaults of its units (a client may give them once for all).
    """
    luns: list[LunFields] = []
    for unit in units:
        if not unit.get("id"):
            raise IncompleteParameters(entity, ["storage.logical_units.logical_unit.id"])
        fields: ConnectionFields | None = None
        if storage_type is not StorageType.FCP:
            fields = connection_fields(unit)
            for name in ("address", "port", "target", "portal", "username", "password"):
                if getattr(fields, name) is None:
                    setattr(fields, name, getattr(base, name))
            fields.type = StorageType.ISCSI
        luns.append(LunFields(str(unit["id"]), fields, unit.get("lun_mapping")))
    return luns


@dataclass(slots=True)
class DomainUpdate:
    name: str | None
    description: str | None
    luns: list[LunFields] = field(default_factory=list)  # those new to a block domain extend it
    domain_type: str | None = None  # may only be sent unchanged


def storage_domain_update(body: Fields, domain_id: str) -> DomainUpdate:
    _check_same_id(body, domain_id)
    storage: Fields = body.get("storage") or {}
    storage_type = StorageType(storage["type"]) if "type" in storage else None
    luns = _luns(connection_fields(storage), _units(storage), storage_type, "Storage domain")
    return DomainUpdate(body.get("name"), body.get("description"), luns, body.get("type"))


def _check_same_id(body: Fields, entity_id: str) -> None:
    if body.get("id") and body["id"] != entity_id:
        raise ImmutableField("id")


def version(fields: Fields | None, path: str) -> tuple[int, int] | None:
    """``<version><major>4</major><minor>7</minor></version>``: both numbers, or no version."""
    if fields is None:
        return None
    missing = [name for name in ("major", "minor") if name not in fields]
    if missing:
        raise BodyError(f"Element '{path}' needs both <major> and <minor>.", element=f"{path}/{missing[0]}",
                        key="INCOMPLETE_PARAMETERS")
    return int(fields["major"]), int(fields["minor"])


@dataclass(slots=True)
class DataCenterRequest:
    name: str | None
    description: str | None
    local: bool | None
    comment: str | None = None
    version: tuple[int, int] | None = None


def data_center(body: Fields) -> DataCenterRequest:
    if not body.get("name"):
        raise IncompleteParameters("Data center", ["name"])
    _no_id(body, "data_center")
    return DataCenterRequest(body["name"], body.get("description"), bool(body.get("local", False)),
                             body.get("comment"), version(body.get("version"), "data_center/version"))


def data_center_update(body: Fields, dc_id: str) -> DataCenterRequest:
    """``<data_center>`` for update: the given fields only."""
    _check_same_id(body, dc_id)
    return DataCenterRequest(body.get("name"), body.get("description"), body.get("local"), body.get("comment"),
                             version(body.get("version"), "data_center/version"))


@dataclass(slots=True)
class ClusterRequest:
    name: str | None
    data_center: str | None  # the data center's id or name
    description: str | None
    comment: str | None
    version: tuple[int, int] | None
    cpu_type: str | None
    cpu_architecture: str | None


def _cluster_fields(body: Fields) -> ClusterRequest:
    cpu: Fields = body.get("cpu") or {}
    return ClusterRequest(body.get("name"), reference(body.get("data_center")), body.get("description"),
                          body.get("comment"), version(body.get("version"), "cluster/version"), cpu.get("type"),
                          cpu.get("architecture"))


def cluster(body: Fields) -> ClusterRequest:
    """``<cluster>`` for add: a name and a data center (by id or name), as oVirt's REST layer requires."""
    wanted = _cluster_fields(body)
    missing = (["name"] if not wanted.name else []) + (["dataCenter.name|id"] if not wanted.data_center else [])
    if missing:
        raise IncompleteParameters("Cluster", missing)
    _no_id(body, "cluster")
    return wanted


def cluster_update(body: Fields, cluster_id: str) -> ClusterRequest:
    _check_same_id(body, cluster_id)
    return _cluster_fields(body)


@dataclass(slots=True)
class HostRequest:
    name: str
    address: str
    port: int
    token: str | None
    data_center: str | None  # <cluster><data_center id|name/></cluster>: that data center's default cluster
    cluster_id: str | None = None
    cluster_name: str | None = None


def _host_cluster(body: Fields) -> tuple[str | None, str | None, str | None]:
    """``(cluster id, cluster name, data center reference)`` of a host's ``<cluster>``."""
    cluster_fields = body.get("cluster")
    if cluster_fields is None:
        return None, None, None
    if cluster_fields.get("id") or cluster_fields.get("name"):
        return cluster_fields.get("id") or None, cluster_fields.get("name") or None, None
    data_center_ref = reference(cluster_fields.get("data_center"))
    if data_center_ref is None:
        raise IncompleteParameters("Host", ["cluster.id|name"])
    return None, None, data_center_ref


def host(body: Fields, *, default_port: int) -> HostRequest:
    missing = [n for n in ("name", "address") if not body.get(n)]
    if missing:
        raise IncompleteParameters("Host", missing)
    _no_id(body, "host")
    cluster_id, cluster_name, data_center_ref = _host_cluster(body)
    return HostRequest(body["name"], body["address"], body.get("port", default_port), body.get("root_password"),
                       data_center_ref, cluster_id, cluster_name)


@dataclass(slots=True)
class HostUpdate:
    name: str | None
    cluster_id: str | None
    cluster_name: str | None
    address: str | None = None
    port: int | None = None


def host_update(body: Fields, host_id: str) -> HostUpdate:
    """``<host>`` for update: a new name and another cluster (by id or name). ``address`` and ``port``
    may be sent back as they are (the route checks); ``root_password`` is used on add only, as in oVirt."""
    _check_same_id(body, host_id)
    cluster_id, cluster_name, data_center_ref = _host_cluster(body)
    if data_center_ref is not None:
        raise BodyError("Name the host's new cluster by id or by name.", element="host/cluster",
                        key="INVALID_VALUE")
    return HostUpdate(body.get("name"), cluster_id, cluster_name, body.get("address"), body.get("port"))


@dataclass(slots=True)
class DiskRequest:
    name: str
    lun_id: str
    connections: list[ConnectionFields] = field(default_factory=list)


def lun_disk(body: Fields) -> DiskRequest:
    name = body.get("name") or body.get("alias")
    missing = [] if name else ["alias|name"]
    storage = body.get("lun_storage")
    units: list[Fields] = (storage or {}).get("logical_units") or []
    if not storage:
        missing.append("lun_storage")
    elif not units:
        missing.append("lun_storage.logical_units")
    if missing:
        raise IncompleteParameters("Disk", missing)
    _no_id(body, "disk")
    assert storage is not None
    lun_ids = {u.get("id") for u in units}
    if None in lun_ids or "" in lun_ids:
        raise IncompleteParameters("Disk", ["lun_storage.logical_units.logical_unit.id"])
    if len(lun_ids) > 1:
        raise BodyError("All logical units of one disk must have the same id (one LUN, several paths).",
                        element="disk/lun_storage/logical_units", key="INVALID_VALUE")
    storage_type = StorageType(storage.get("type", "iscsi"))
    if storage_type not in (StorageType.ISCSI, StorageType.FCP):
        raise BodyError(f"A LUN disk is reached over iscsi or fcp, not {storage_type.value}.",
                        element="disk/lun_storage/type", key="INVALID_VALUE")
    connections: list[ConnectionFields] = []
    if storage_type == StorageType.ISCSI:
        for unit in units:
            fields = connection_fields(unit)
            fields.type = StorageType.ISCSI
            connections.append(fields)
    return DiskRequest(str(name), str(lun_ids.pop()), connections)


def vm(body: Fields) -> str:
    if not body.get("name"):
        raise IncompleteParameters("VM", ["name"])
    _no_id(body, "vm")
    return str(body["name"])


@dataclass(slots=True)
class AttachmentRequest:
    disk_id: str | None
    disk_name: str | None  # when the disk is named, not identified
    plugged: bool


def disk_attachment(body: Fields) -> AttachmentRequest:
    disk = body.get("disk") or {}
    disk_id = disk.get("id") or None
    disk_name = disk.get("name") or disk.get("alias") or None
    if disk_id is None and disk_name is None:
        raise IncompleteParameters("Disk attachment", ["disk.id"])
    return AttachmentRequest(disk_id, disk_name, bool(body.get("active", True)))


@dataclass(slots=True)
class ActionRequest:
    async_: bool
    force: bool
    host: str | None


def action(body: Fields | None) -> ActionRequest:
    """An action's options; the host is ``<host>``, or a VM start's first ``<placement_policy>`` host."""
    body = body or {}
    placement = ((body.get("vm") or {}).get("placement_policy") or {}).get("hosts") or []
    host = reference(body.get("host")) or next(filter(None, map(reference, placement)), None)
    return ActionRequest(bool(body.get("async", False)), bool(body.get("force", False)), host)


def _no_id(body: Fields, tag: str) -> None:
    if body.get("id"):
        raise BodyError(f"A new {tag.replace('_', ' ')} cannot be given an id.", element=f"{tag}/@id",
                        key="ACTION_TYPE_FAILED_ID_NOT_EMPTY")


def required_id(body: Fields, tag: str) -> str:
    """The id (or, failing that, the name) of an existing entity named in a body, e.g. an attach."""
    ref = reference(body)
    if ref is None:
        raise IncompleteParameters(tag.replace("_", " ").capitalize(), ["id|name"], verb="this action")
    return ref


def iscsi_details(body: Fields | None, *, required: tuple[str, ...], verb: str) -> IscsiDetails:
    """``<action><iscsi>`` of a host's iSCSI action; ``required`` as oVirt's ``validateParameters`` names them."""
    iscsi = (body or {}).get("iscsi") or {}
    missing = [f"iscsi.{name}" for name in required if not iscsi.get(name)]
    if missing:
        # oVirt's REST layer answers this itself: no action prefix, no brackets.
        raise MissingParameters("Action", missing, verb)
    return IscsiDetails(**{name: iscsi[name] for name in
                           ("address", "port", "target", "portal", "username", "password") if name in iscsi})


def event(body: Fields) -> ExternalEvent:
    """``<event>`` for ``POST /events``: oVirt requires origin, severity, custom_id and description.

    The missing ones are named as oVirt's REST layer names them
    (``Event [customId] required for add``). Linked objects count by id
    only; an ``id`` of the event itself is ignored (the engine numbers events).
    """
    required = (("origin", "origin"), ("severity", "severity"), ("custom_id", "customId"),
                ("description", "description"))
    missing = [shown for name, shown in required if body.get(name) in (None, "")]
    if missing:
        raise MissingParameters("Event", missing, "add")
    objects = EventObjects()
    for link, attr in EXTERNAL_LINKS.items():
        ref = body.get(link)
        if ref is not None:
            setattr(objects, attr, ref.get("id") or None)
    return ExternalEvent(
        description=body["description"],
        severity=Severity(body["severity"]),
        origin=body["origin"],
        custom_id=body["custom_id"],
        flood_rate=body.get("flood_rate"),
        correlation_id=body.get("correlation_id") or None,
        objects=objects,
    )
