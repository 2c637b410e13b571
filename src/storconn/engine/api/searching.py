"""``?search=``: each resource's searchable fields, mapped to the model, in one table per resource.

The fields are oVirt's (its searchbackend's ``*ConditionFieldAutoCompleter``
verbs) where the model has them: ``Storage:`` name, status, datacenter,
type (the storage type), description; ``Datacenter:`` name, description,
local, status and the ``storage`` cross-reference (a domain in it);
``Hosts:`` name, address, status, datacenter, cluster; ``Disks:`` name,
alias, id, disk_type, status; ``Vms:`` name, status; ``Clusters:`` name,
description, datacenter; ``Events:`` severity, type. ``id`` everywhere.
oVirt has no search on storage connections; ours takes id, type, address,
path and target, beyond oVirt.

A relation (the data center's name on a domain or a host, the domains of a
data center) is read at most once per request, and only when the query uses
it: ``Related`` loads lazily, and the whole filter runs in one worker thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from storconn.engine.model import (
    DataCenter,
    DomainStatus,
    Host,
    LunDisk,
    StorageConnection,
    StorageDomain,
    StorageType,
    Vm,
)
from storconn.engine.rules.search import Field, FieldKind, compile_query, parse

from .port import EnginePort
from .routing import Ctx

T = TypeVar("T")

PAGE_SIZE = 100  # oVirt's SearchResultsLimit: the page of "page N" when no ?max is given

# oVirt's enum values for the search (API spelling; oVirt's own — NonResponsive — is accepted too).
STORAGE_TYPES = ("nfs", "fcp", "iscsi", "localfs", "posixfs", "glusterfs", "glance", "cinder",
                 "managed_block_storage", "unknown")
DOMAIN_STATUSES = ("active", "inactive", "locked", "maintenance", "unattached", "unknown", "uninitialized",
                   "preparing_for_maintenance", "detaching", "activating", "mixed")
DC_STATUSES = ("uninitialized", "up", "maintenance", "not_operational", "non_responsive", "contend")
HOST_STATUSES = ("up", "down", "maintenance", "non_responsive", "error", "installing", "install_failed",
                 "reboot", "preparing_for_maintenance", "non_operational", "pending_approval", "initializing",
                 "connecting", "installing_os", "kdumping", "unassigned")
DISK_TYPES = ("image", "lun", "cinder", "managed_block_storage")
DISK_STATUSES = ("ok", "locked", "illegal")
VM_STATUSES = ("up", "down", "powering_up", "powering_down", "paused", "migrating", "unknown", "not_responding",
               "wait_for_launch", "reboot_in_progress", "saving_state", "restoring_state", "suspended",
               "image_locked", "unassigned")
EVENT_SEVERITIES = ("normal", "warning", "error", "alert")


class Related:
    """What a query about one resource needs of others, each read once, on first use."""

    def __init__(self, engine: EnginePort) -> None:
        self._engine = engine
        self._dcs: dict[str, DataCenter] | None = None
        self._domains_by_dc: dict[str, list[StorageDomain]] | None = None
        self._clusters: dict[str, Any] | None = None
        self._hosts: dict[str, str] | None = None
        self._domain_names: dict[str, str] | None = None

    def data_center_name(self, dc_id: str | None) -> str | None:
        if self._dcs is None:
            self._dcs = {dc.id: dc for dc in self._engine.list_data_centers()}
        dc = self._dcs.get(dc_id) if dc_id else None
        return dc.name if dc else None

    def domains_in(self, dc_id: str) -> list[StorageDomain]:
        if self._domains_by_dc is None:
            grouped: dict[str, list[StorageDomain]] = defaultdict(list)
            for domain in self._engine.list_domains():
                if domain.data_center_id:
                    grouped[domain.data_center_id].append(domain)
            self._domains_by_dc = grouped
        return self._domains_by_dc.get(dc_id, [])

    def host_name(self, host_id: str | None) -> str | None:
        if self._hosts is None:
            self._hosts = {h.id: h.name for h in self._engine.list_hosts()}
        return self._hosts.get(host_id) if host_id else None

    def domain_name(self, domain_id: str | None) -> str | None:
        if self._domain_names is None:
            self._domain_names = {d.id: d.name for d in self._engine.list_domains()}
        return self._domain_names.get(domain_id) if domain_id else None

    def cluster(self, cluster_id: str | None) -> Any:
        """A cluster by id; none until the engine has clusters (``list_clusters``)."""
        if self._clusters is None:
            lister = getattr(self._engine, "list_clusters", None)
            self._clusters = {c.id: c for c in lister()} if lister else {}
        return self._clusters.get(cluster_id) if cluster_id else None


def _text(get: Callable[[T], Any], *, free: bool = False) -> Field[T]:
    return Field(FieldKind.TEXT, get, free_text=free)


def _id(get: Callable[[T], Any]) -> Field[T]:
    return Field(FieldKind.ID, get)


def _enum(get: Callable[[T], Any], values: Iterable[str]) -> Field[T]:
    return Field(FieldKind.ENUM, get, tuple(values))


def _status(entity: Any) -> str | None:
    status = getattr(entity, "status", None)
    return None if status is None else str(getattr(status, "value", status))


def _dc_status(dc: DataCenter, rel: Related) -> str:
    """The data center's status: its own once the model has one, else oVirt's rule (Up with an active domain)."""
    own = _status(dc)
    if own is not None:
        return own
    active = any(d.status == DomainStatus.ACTIVE for d in rel.domains_in(dc.id))
    return "up" if active else "uninitialized"


def domain_fields(rel: Related) -> dict[str, Field[StorageDomain]]:
    return {
        "id": _id(lambda d: d.id),
        "name": _text(lambda d: d.name, free=True),
        "description": _text(lambda d: d.description, free=True),
        "comment": _text(lambda d: getattr(d, "comment", None), free=True),
        "status": _enum(lambda d: d.status.value, DOMAIN_STATUSES),
        "shared_status": _enum(lambda d: d.status.value, DOMAIN_STATUSES),
        "type": _enum(lambda d: d.storage_type.value, STORAGE_TYPES),
        "datacenter": _text(lambda d: rel.data_center_name(d.data_center_id), free=True),
        "datacenter.name": _text(lambda d: rel.data_center_name(d.data_center_id)),
    }


def data_center_fields(rel: Related) -> dict[str, Field[DataCenter]]:
    storage: Field[DataCenter] = _text(lambda dc: [d.name for d in rel.domains_in(dc.id)])
    return {
        "id": _id(lambda dc: dc.id),
        "name": _text(lambda dc: dc.name, free=True),
        "description": _text(lambda dc: dc.description, free=True),
        "comment": _text(lambda dc: getattr(dc, "comment", None), free=True),
        "local": Field(FieldKind.BOOL, lambda dc: dc.local),
        "status": _enum(lambda dc: _dc_status(dc, rel), DC_STATUSES),
        "storage": storage,  # oVirt's cross-reference "Datacenter: storage = sd1" means storage.name
        "storage.name": storage,
        "storage.status": _enum(lambda dc: [d.status.value for d in rel.domains_in(dc.id)], DOMAIN_STATUSES),
    }


def _host_cluster_name(h: Host, rel: Related) -> str | None:
    cluster = rel.cluster(getattr(h, "cluster_id", None))
    return getattr(cluster, "name", None)


def host_fields(rel: Related) -> dict[str, Field[Host]]:
    cluster: Field[Host] = _text(lambda h: _host_cluster_name(h, rel), free=True)
    return {
        "id": _id(lambda h: h.id),
        "name": _text(lambda h: h.name, free=True),
        "address": _text(lambda h: h.address, free=True),
        "status": _enum(lambda h: h.status.value, HOST_STATUSES),
        "datacenter": _text(lambda h: rel.data_center_name(h.data_center_id), free=True),
        "datacenter.name": _text(lambda h: rel.data_center_name(h.data_center_id)),
        "cluster": cluster,
        "cluster.name": cluster,
    }


def disk_fields(rel: Related) -> dict[str, Field[LunDisk]]:
    return {
        "id": _id(lambda d: d.id),
        "name": _text(lambda d: d.name, free=True),  # oVirt: name is the alias
        "alias": _text(lambda d: d.name),
        "disk_type": _enum(lambda d: "lun", DISK_TYPES),  # every disk here is a direct LUN
        "status": _enum(lambda d: "ok", DISK_STATUSES),
        "lun_id": _text(lambda d: d.lun_id),  # beyond oVirt
    }


def vm_fields(rel: Related) -> dict[str, Field[Vm]]:
    return {
        "id": _id(lambda v: v.id),
        "name": _text(lambda v: v.name, free=True),
        "status": _enum(lambda v: v.status.value, VM_STATUSES),
    }


def connection_fields(rel: Related) -> dict[str, Field[StorageConnection]]:
    from .encode import split_connection  # the address and path exactly as the answer shows them

    return {
        "id": _id(lambda c: c.id),
        "type": _enum(lambda c: c.type.value, [t.value for t in StorageType]),
        "address": _text(lambda c: split_connection(c)[0], free=True),
        "path": _text(lambda c: split_connection(c)[1], free=True),
        "target": _text(lambda c: c.iqn, free=True),
    }


def cluster_fields(rel: Related) -> dict[str, Field[Any]]:
    """For ``/clusters`` (a Cluster with id, name, description, data_center_id)."""
    dc: Field[Any] = _text(lambda c: rel.data_center_name(getattr(c, "data_center_id", None)), free=True)
    return {
        "id": _id(lambda c: c.id),
        "name": _text(lambda c: c.name, free=True),
        "description": _text(lambda c: getattr(c, "description", None), free=True),
        "comment": _text(lambda c: getattr(c, "comment", None), free=True),
        "datacenter": dc,
        "datacenter.name": dc,
    }


def event_fields(rel: Related) -> dict[str, Field[Any]]:
    """For ``/events``: an Event with ``severity``, ``code`` (or ``type``), ``description`` and the ids
    of what it concerns (``host_id``, ``storage_domain_id``, ``data_center_id``).

    ``ovirt_host`` asks ``type=839 or type=887 and host.name=h1``; oVirt's own names
    (``event_host``, ``event_storage``, ``event_datacenter``) are the same fields.
    """
    host: Field[Any] = _text(lambda e: rel.host_name(getattr(e, "host_id", None)))
    storage: Field[Any] = _text(lambda e: rel.domain_name(getattr(e, "storage_domain_id", None)))
    dc: Field[Any] = _text(lambda e: rel.data_center_name(getattr(e, "data_center_id", None)))
    return {
        "id": _id(lambda e: str(e.id)),
        "severity": _enum(lambda e: _status_like(e, "severity"), EVENT_SEVERITIES),
        "type": _text(lambda e: _code(e)),
        "message": _text(lambda e: getattr(e, "description", None) or getattr(e, "message", None), free=True),
        "host.name": host,
        "event_host": host,
        "storage.name": storage,
        "event_storage": storage,
        "datacenter.name": dc,
        "event_datacenter": dc,
    }


def _status_like(entity: Any, name: str) -> str | None:
    value = getattr(entity, name, None)
    return None if value is None else str(getattr(value, "value", value))


def _code(event: Any) -> str | None:
    code = getattr(event, "code", None)
    if code is None:
        code = getattr(event, "type", None)
    return None if code is None else str(code)


@dataclass(frozen=True, slots=True)
class Resource(Generic[T]):
    """A searchable collection: its name in messages, the prefixes it answers to, its field table."""

    name: str
    prefixes: tuple[str, ...]
    fields: Callable[[Related], dict[str, Field[T]]]


DOMAINS = Resource("storage domains", ("storage", "storagedomains", "storagedomain"), domain_fields)
DATA_CENTERS = Resource("data centers", ("datacenter", "datacenters"), data_center_fields)
HOSTS = Resource("hosts", ("hosts", "host"), host_fields)
DISKS = Resource("disks", ("disks", "disk"), disk_fields)
VMS = Resource("vms", ("vms", "vm"), vm_fields)
CONNECTIONS = Resource("storage connections", ("storageconnections", "storageconnection"), connection_fields)
CLUSTERS: Resource[Any] = Resource("clusters", ("clusters", "cluster"), cluster_fields)
EVENTS: Resource[Any] = Resource("events", ("events", "event"), event_fields)


async def search(ctx: Ctx, resource: Resource[T], items: Iterable[T]) -> list[T]:
    """``items`` filtered by ``?search``, sorted by its ``sortby``, paged by its ``page``, then cut to ``?max``.

    A bad query is refused (400) before anything is read; without a query only ``?max`` applies.
    """
    limit = ctx.max()
    text = ctx.text("search")
    if text is None or not text.strip():
        found = list(items)
        return found if limit is None else found[:limit]
    query = parse(text)
    case_sensitive = ctx.flag("case_sensitive") if ctx.text("case_sensitive") else True
    related = Related(ctx.engine)
    compiled = compile_query(query, resource.fields(related), resource=resource.name,
                             entities=resource.prefixes, case_sensitive=case_sensitive)
    return await ctx.call(compiled.apply, items, max=limit, page_size=PAGE_SIZE)


def searching(ctx: Ctx) -> bool:
    """Whether the request has a query (a list route then reads everything before ``max``)."""
    text = ctx.text("search")
    return bool(text and text.strip())
