"""The engine's entities as oVirt's documents (``document.Obj``), ready to render as XML or JSON.

Each function takes the entity and ``base``, the API's path prefix
(``/ovirt-engine/api``), for the ``href`` attributes and ``<link>`` elements.
What oVirt keeps write-only never appears: a connection's or a LUN's
``password``, a host's ``root_password`` (the agent token).

Storage connections show what oVirt shows for their type (engine rules,
"Output"): iSCSI its address, port, target, portal and username; file types
``address`` and ``path`` split from the stored ``connection`` string (on the
first ``:``, or after ``]:`` for an IPv6 address), NFS adds its version and
timeouts, POSIX and Gluster their ``vfs_type``; each adds ``mount_options``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping

from storconn.engine.model import (
    SUPPORTED_VERSIONS,
    DataCenter,
    DiscoveredTarget,
    Event,
    Host,
    HostLun,
    LunDisk,
    StorageConnection,
    StorageDomain,
    StorageType,
    User,
    Vm,
)

from storconn.engine.rules.clusters import storage_format

from .decode import NFS_VERSION_OUT
from .document import Collection, Many, Obj, Texts

PRODUCT_NAME = "storconn"
PRODUCT_VENDOR = "storconn"
API_VERSION = (4, 5, 0)  # the oVirt API version this engine speaks
BLANK_ID = "00000000-0000-0000-0000-000000000000"

_FILE_TYPES = (StorageType.NFS, StorageType.POSIXFS, StorageType.GLUSTERFS)
# Reading a member from its Enum class (StorageType.NFS) costs microseconds on Python 3.11;
# the per-row checks of a long list compare with these instead.
_ISCSI, _FCP, _LOCALFS = StorageType.ISCSI, StorageType.FCP, StorageType.LOCALFS
_NFS, _POSIXFS, _GLUSTERFS = StorageType.NFS, StorageType.POSIXFS, StorageType.GLUSTERFS


def split_connection(connection: StorageConnection) -> tuple[str | None, str | None]:
    """``(address, path)`` of a stored connection string, as oVirt shows them."""
    text = connection.connection
    kind = connection.type
    if kind == _ISCSI or kind == _FCP:
        return text or None, None
    if kind == _LOCALFS:
        return None, text
    if text.startswith("["):
        end = text.find("]:")
        return (text[: end + 1], text[end + 2 :]) if end != -1 else (None, text)
    head, sep, tail = text.partition(":")
    if not sep or not head or "/" in head:  # "/dev/sdb1", "tmpfs", "/mnt/a:b": a path, no server
        return None, text
    return head, tail


def _connection_details(target: Obj, connection: StorageConnection) -> Obj:
    kind = connection.type
    target.add("type", str(kind))  # a StrEnum's str() is its value, without enum's slow .value
    address, path = split_connection(connection)
    if kind == _ISCSI:
        target.add("address", address).add("port", connection.port).add("target", connection.iqn)
        target.add("portal", connection.portal).add("username", connection.username)
        return target
    target.add("address", address).add("path", path)
    if kind == _NFS:
        if connection.nfs_version is not None:
            target.add("nfs_version", NFS_VERSION_OUT.get(connection.nfs_version))
        target.add("nfs_retrans", connection.nfs_retrans).add("nfs_timeo", connection.nfs_timeo)
    if kind == _POSIXFS or kind == _GLUSTERFS:
        target.add("vfs_type", connection.vfs_type)
    if kind in _FILE_TYPES:
        target.add("mount_options", connection.mount_options)
    if kind == _GLUSTERFS and connection.gluster_volume:
        target.add("gluster_volume", Obj("gluster_volume", {"id": connection.gluster_volume}))
    return target


def storage_connection(connection: StorageConnection, base: str, *, href: str | None = None) -> Obj:
    href = href or f"{base}/storageconnections/{connection.id}"
    return _connection_details(Obj("storage_connection", {"href": href, "id": connection.id}), connection)


def storage_connections(
    connections: Iterable[StorageConnection], base: str, *, domain_id: str | None = None,
    disk_id: str | None = None,
) -> Collection:
    """A list of connections; under a domain's or a disk's ``storageconnections`` when one is given."""
    owner = f"storagedomains/{domain_id}" if domain_id else f"disks/{disk_id}" if disk_id else None
    items = []
    for connection in connections:
        href = f"{base}/{owner}/storageconnections/{connection.id}" if owner else None
        items.append(storage_connection(connection, base, href=href))
    return Collection("storage_connections", "storage_connection", items)


def _ref(tag: str, href: str, entity_id: str) -> Obj:
    return Obj(tag, {"href": href, "id": entity_id})


def storage_domain(
    domain: StorageDomain,
    base: str,
    connections: Mapping[str, StorageConnection],
    *,
    data_center_id: str | None = None,
) -> Obj:
    """A domain; with ``data_center_id`` as seen under ``/datacenters/{dc}/storagedomains`` (with actions)."""
    if data_center_id:
        href = f"{base}/datacenters/{data_center_id}/storagedomains/{domain.id}"
    else:
        href = f"{base}/storagedomains/{domain.id}"
    out = Obj("storage_domain", {"href": href, "id": domain.id})
    out.add("name", domain.name).add("description", domain.description)
    # As oVirt's REST layer: at the top level a status only says "unattached";
    # an attached domain's status is its data center's (under /datacenters/{dc}).
    status = domain.status if data_center_id or not domain.data_center_id else None
    out.add("type", domain.domain_type).add("status", status.value if status else None)
    storage = Obj("storage")
    known = [connections[c] for c in domain.connection_ids if c in connections]
    if domain.storage_type in (*_FILE_TYPES, StorageType.LOCALFS) and known:
        storage.attrs["id"] = known[0].id
        _connection_details(storage, known[0])
    else:
        storage.add("type", domain.storage_type.value)
        if domain.volume_group_id:
            storage.add("volume_group", _volume_group(domain, connections))
    out.add("storage", storage)
    if domain.data_center_id:
        dc_ref = _ref("data_center", f"{base}/datacenters/{domain.data_center_id}", domain.data_center_id)
        if data_center_id:
            out.add("data_center", dc_ref)
        out.add("data_centers", Many("data_center", [dc_ref]))
    if data_center_id:
        out.actions += [("activate", f"{href}/activate"), ("deactivate", f"{href}/deactivate")]
    else:
        out.links.append(("storageconnections", f"{href}/storageconnections"))
    return out


def _volume_group(domain: StorageDomain, connections: Mapping[str, StorageConnection]) -> Obj:
    """oVirt's ``<volume_group id=..><logical_units>``: one ``<logical_unit>`` per path, with its target.

    The Ansible collection and oVirt's own update read the LUN ids here to
    tell which LUNs a domain already has.
    """
    units = []
    for lun in domain.luns:
        unit = Obj("logical_unit", {"id": lun.lun_id})
        connection = connections.get(lun.connection_id) if lun.connection_id else None
        if connection is not None:
            unit.add("address", connection.connection).add("port", connection.port)
            unit.add("target", connection.iqn).add("portal", connection.portal)
            unit.add("username", connection.username)
        unit.add("lun_mapping", lun.lun_mapping)
        unit.add("storage_domain_id", domain.id).add("volume_group_id", domain.volume_group_id)
        units.append(unit)
    group = Obj("volume_group", {"id": domain.volume_group_id or ""})
    return group.add("logical_units", Many("logical_unit", units))


def storage_domains(
    domains: Iterable[StorageDomain],
    base: str,
    connections: Mapping[str, StorageConnection],
    *,
    data_center_id: str | None = None,
) -> Collection:
    items = [storage_domain(d, base, connections, data_center_id=data_center_id) for d in domains]
    return Collection("storage_domains", "storage_domain", items)


def version(value: tuple[int, int]) -> Obj:
    return Obj("version").add("major", value[0]).add("minor", value[1])


def data_center(dc: DataCenter, base: str) -> Obj:
    href = f"{base}/datacenters/{dc.id}"
    out = Obj("data_center", {"href": href, "id": dc.id})
    out.add("name", dc.name).add("description", dc.description).add("comment", dc.comment)
    out.add("local", dc.local).add("quota_mode", "disabled").add("status", dc.status.value)
    out.add("storage_format", storage_format(dc.version))
    out.add("supported_versions", Many("version", [version(v) for v in SUPPORTED_VERSIONS if v >= dc.version]))
    out.add("version", version(dc.version))
    out.links += [("clusters", f"{href}/clusters"), ("storagedomains", f"{href}/storagedomains")]
    return out


def data_centers(dcs: Iterable[DataCenter], base: str) -> Collection:
    return Collection("data_centers", "data_center", [data_center(dc, base) for dc in dcs])


HOST_ACTIONS = ("activate", "deactivate", "discoveriscsi", "iscsidiscover", "iscsilogin")


def host(h: Host, base: str) -> Obj:
    href = f"{base}/hosts/{h.id}"
    out = Obj("host", {"href": href, "id": h.id})
    out.actions += [(name, f"{href}/{name}") for name in HOST_ACTIONS]
    out.links.append(("storage", f"{href}/storage"))
    out.add("name", h.name).add("address", h.address).add("port", h.port).add("status", h.status.value)
    cluster = _ref("cluster", f"{base}/clusters/{h.cluster_id}", h.cluster_id) if h.cluster_id else Obj("cluster")
    if h.data_center_id:
        # storconn's earlier answer, kept: the host's data center inside its cluster.
        cluster.add("data_center", _ref("data_center", f"{base}/datacenters/{h.data_center_id}", h.data_center_id))
    if cluster.attrs or cluster.items:
        out.add("cluster", cluster)
    return out


def hosts(items: Iterable[Host], base: str) -> Collection:
    return Collection("hosts", "host", [host(h, base) for h in items])


def discovered_targets(targets: Iterable[DiscoveredTarget]) -> Obj:
    """oVirt 4.4.6+'s answer to a discovery: the iqns (``iscsi_targets``, kept for old clients) and the details."""
    found = list(targets)
    out = Obj("action").add("status", "complete")
    out.add("iscsi_targets", Texts("iscsi_target", [t.target for t in found]))
    details = [
        Obj("iscsi_details").add("address", t.address).add("port", t.port).add("portal", t.portal)
        .add("target", t.target)
        for t in found
    ]
    return out.add("discovered_targets", Many("iscsi_details", details))


def host_storage(lun: HostLun, host_id: str, base: str) -> Obj:
    """One LUN a host sees (oVirt's ``HostStorage``), its id the LUN's."""
    out = Obj("host_storage", {"href": f"{base}/hosts/{host_id}/storage/{lun.id}", "id": lun.id})
    unit = Obj("logical_unit", {"id": lun.id})
    unit.add("address", lun.address).add("port", lun.port).add("target", lun.target).add("portal", lun.portal)
    unit.add("lun_mapping", lun.lun_mapping).add("paths", 1).add("serial", lun.serial or None)
    unit.add("vendor_id", lun.vendor_id or None).add("product_id", lun.product_id or None).add("size", lun.size)
    out.add("logical_units", Many("logical_unit", [unit]))
    out.add("type", StorageType.ISCSI.value)
    out.add("host", _ref("host", f"{base}/hosts/{host_id}", host_id))
    return out


def host_storages(luns: Iterable[HostLun], host_id: str, base: str) -> Collection:
    return Collection("host_storages", "host_storage", [host_storage(lun, host_id, base) for lun in luns])


def disk(d: LunDisk, base: str, connections: Mapping[str, StorageConnection]) -> Obj:
    """A direct LUN disk: one ``<logical_unit>`` per path (connection), all with the LUN's id."""
    out = Obj("disk", {"href": f"{base}/disks/{d.id}", "id": d.id})
    out.add("name", d.name).add("alias", d.name).add("storage_type", "lun").add("status", "ok")
    units = []
    for connection_id in d.connection_ids:
        connection = connections.get(connection_id)
        if connection is None:
            continue
        unit = Obj("logical_unit", {"id": d.lun_id})
        unit.add("address", connection.connection).add("port", connection.port).add("target", connection.iqn)
        unit.add("portal", connection.portal).add("username", connection.username)
        units.append(unit)
    storage_type = StorageType.ISCSI if units else StorageType.FCP
    if not units:
        units.append(Obj("logical_unit", {"id": d.lun_id}))
    lun_storage = Obj("lun_storage").add("type", storage_type.value)
    out.add("lun_storage", lun_storage.add("logical_units", Many("logical_unit", units)))
    out.links.append(("storageconnections", f"{base}/disks/{d.id}/storageconnections"))
    return out


def disks(items: Iterable[LunDisk], base: str, connections: Mapping[str, StorageConnection]) -> Collection:
    return Collection("disks", "disk", [disk(d, base, connections) for d in items])


def disk_attachment(vm_id: str, disk_id: str, plugged: bool, base: str) -> Obj:
    out = Obj("disk_attachment", {"href": f"{base}/vms/{vm_id}/diskattachments/{disk_id}", "id": disk_id})
    out.add("active", plugged)
    out.add("disk", _ref("disk", f"{base}/disks/{disk_id}", disk_id))
    out.add("vm", _ref("vm", f"{base}/vms/{vm_id}", vm_id))
    return out


def disk_attachments(v: Vm, base: str) -> Collection:
    items = [disk_attachment(v.id, a.disk_id, a.plugged, base) for a in v.disk_attachments]
    return Collection("disk_attachments", "disk_attachment", items)


def vm(v: Vm, base: str, *, inline_attachments: bool = False) -> Obj:
    href = f"{base}/vms/{v.id}"
    out = Obj("vm", {"href": href, "id": v.id})
    out.add("name", v.name).add("status", v.status.value)
    if v.host_id:  # where it runs, as oVirt shows a running VM
        out.add("host", _ref("host", f"{base}/hosts/{v.host_id}", v.host_id))
    if inline_attachments:
        out.add("disk_attachments", Many("disk_attachment", disk_attachments(v, base).items))
    out.actions += [(name, f"{href}/{name}") for name in ("start", "stop", "shutdown")]
    out.links.append(("diskattachments", f"{href}/diskattachments"))
    return out


def vms(items: Iterable[Vm], base: str, *, inline_attachments: bool = False) -> Collection:
    return Collection("vms", "vm", [vm(v, base, inline_attachments=inline_attachments) for v in items])


def _event_link(tag: str, href: str | None, entity_id: str | None, name: str | None) -> Obj | None:
    """An event's link to what it concerns: href and id when known, and the name it had then."""
    if not entity_id and not name:
        return None
    out = Obj(tag, {"href": href, "id": entity_id} if entity_id and href else {})
    return out.add("name", name)


def event(e: Event, base: str) -> Obj:
    """oVirt's ``<event>``: ``index`` is the id (a number that only grows), ``custom_id`` -1 for the engine's own."""
    out = Obj("event", {"href": f"{base}/events/{e.id}", "id": str(e.id)})
    out.add("description", e.description).add("code", e.code).add("correlation_id", e.correlation_id)
    out.add("custom_id", -1 if e.custom_id is None else e.custom_id).add("flood_rate", e.flood_rate)
    out.add("index", e.id).add("origin", e.origin).add("severity", e.severity.value)
    stamp = e.time if e.time.tzinfo is not None else e.time.replace(tzinfo=datetime.UTC)  # SQLite: naive UTC
    out.add("time", stamp.isoformat(timespec="milliseconds"))
    o = e.objects
    links = (
        ("cluster", "clusters", o.cluster_id, None),
        ("data_center", "datacenters", o.data_center_id, o.data_center_name),
        ("host", "hosts", o.host_id, o.host_name),
        ("storage_domain", "storagedomains", o.storage_domain_id, o.storage_domain_name),
        ("user", "users", o.user_id, o.user_name),
        ("vm", "vms", o.vm_id, None),
    )
    for tag, plural, entity_id, name in links:
        out.add(tag, _event_link(tag, f"{base}/{plural}/{entity_id}" if entity_id else None, entity_id, name))
    return out


def events(items: Iterable[Event], base: str) -> Collection:
    return Collection("events", "event", [event(e, base) for e in items])


COLLECTIONS = ("storageconnections", "storagedomains", "datacenters", "clusters", "hosts", "disks", "vms", "events")
SEARCHABLE = ("storagedomains", "datacenters", "clusters", "hosts", "disks", "vms", "events")


def api_root(
    base: str,
    user: User,
    *,
    instance_id: str,
    engine_version: str,
    hosts_total: int,
    hosts_up: int,
    domains_total: int,
    domains_active: int,
    vms_total: int,
    vms_up: int,
    now: datetime.datetime | None = None,
) -> Obj:
    """The entry point ``GET /ovirt-engine/api``: links to the collections, product info, summary."""
    out = Obj("api")
    for name in COLLECTIONS:
        out.links.append((name, f"{base}/{name}"))
        if name in SEARCHABLE:
            out.links.append((f"{name}/search", f"{base}/{name}?search={{query}}"))
    major, minor, revision = API_VERSION
    version = Obj("version").add("build", 0).add("full_version", f"{PRODUCT_NAME} {engine_version}")
    version.add("major", major).add("minor", minor).add("revision", revision)
    out.add("product_info", Obj("product_info").add("instance_id", instance_id).add("name", PRODUCT_NAME)
            .add("vendor", PRODUCT_VENDOR).add("version", version))
    special = Obj("special_objects")
    special.add("blank_template", _ref("blank_template", f"{base}/templates/{BLANK_ID}", BLANK_ID))
    special.add("root_tag", _ref("root_tag", f"{base}/tags/{BLANK_ID}", BLANK_ID))
    out.add("special_objects", special)
    summary = Obj("summary")
    summary.add("hosts", Obj("hosts").add("active", hosts_up).add("total", hosts_total))
    domains = Obj("storage_domains").add("active", domains_active).add("total", domains_total)
    summary.add("storage_domains", domains)
    summary.add("vms", Obj("vms").add("active", vms_up).add("total", vms_total))
    out.add("summary", summary)
    stamp = (now or datetime.datetime.now(datetime.UTC)).isoformat(timespec="milliseconds")
    out.add("time", stamp)
    out.add("authenticated_user", Obj("authenticated_user").add("user_name", user.name))
    out.add("effective_user", Obj("effective_user").add("user_name", user.name))
    return out


def action(*, description: str | None = None) -> Obj:
    """oVirt's answer to an action that finished: ``<action><status>complete</status></action>``."""
    return Obj("action").add("status", "complete").add("description", description)


def fault(reason: str, detail: str) -> Obj:
    return Obj("fault").add("reason", reason).add("detail", detail)
