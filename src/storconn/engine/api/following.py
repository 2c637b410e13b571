"""``?follow=``: the linked entities inlined, in full, inside the entity that links to them.

oVirt's engine answers ``GET /storagedomains?follow=storage_connections``
with each domain carrying ``<storage_connections><storage_connection
href=".." id="..">...`` (every element, as a get of the link answers) and
keeps the ``<link rel="storageconnections">`` beside it; the SDK's readers
take the nested elements and the link alike. ``follow`` is a comma-separated
list of link names, dotted for a link of a followed entity
(``storage_domains.storage_connections`` on a data center).

The links each resource can follow are in ``FOLLOWS``; a name that is not
one of them is refused (400 naming it and the known ones), where oVirt's
engine fails with a 500. Each followed collection is read once per request,
not once per entity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from storconn.engine.errors import BadRequest
from storconn.engine.model import Cluster, DataCenter, Host, LunDisk, StorageConnection, StorageDomain

from . import encode, encode_clusters
from .document import Many, Obj
from .routing import Ctx

Tree: TypeAlias = Mapping[str, "Tree"]

_CONNECTIONS: Tree = {}
_DOMAIN: Tree = {"storage_connections": _CONNECTIONS, "data_centers": {}}
# Hooks for the links other parts bring: a data center's "clusters" and a host's "cluster"
# (once /clusters exists), a disk's connections subresource (inlined here already).
FOLLOWS: Mapping[str, Tree] = {
    "storagedomains": {**_DOMAIN, "data_center": {}},
    "datacenters": {"storage_domains": {"storage_connections": _CONNECTIONS}, "clusters": {}},
    "disks": {"storage_connections": _CONNECTIONS},
    "vms": {"disk_attachments": {}},
    "hosts": {"cluster": {}},
    "storageconnections": {},
    "clusters": {},
}


def follow_tree(ctx: Ctx, resource: str) -> dict[str, dict[str, object]]:
    """The request's ``follow`` as a tree of link names, checked against what ``resource`` links to."""
    text = ctx.request.query_params.get("follow", "")
    allowed = FOLLOWS.get(resource, {})  # a resource not in the table follows nothing (yet)
    tree: dict[str, dict[str, object]] = {}
    for path in text.split(","):
        path = path.strip()
        if not path:
            continue
        node: dict[str, object] = tree  # type: ignore[assignment]
        spec = allowed
        for segment in path.split("."):
            segment = segment.strip().lower()
            if segment not in spec:
                known = ", ".join(sorted(spec)) or "none"
                raise BadRequest("INVALID_FOLLOW",
                                 f"Query parameter 'follow': '{path}' is not a link of {resource} "
                                 f"('{segment}' unknown; links here: {known}).")
            node = node.setdefault(segment, {})  # type: ignore[assignment]
            spec = spec[segment]
    return tree


def _replace(obj: Obj, name: str, value: Many | Obj) -> None:
    """Put ``value`` in place of ``obj``'s element ``name`` (a ref or a list of refs), or add it."""
    for index, (item, _) in enumerate(obj.items):
        if item == name:
            obj.items[index] = (name, value)
            return
    obj.items.append((name, value))


def _connections_of(ids: Sequence[str], connections: Mapping[str, StorageConnection], base: str,
                    href_prefix: str | None) -> Many:
    items = []
    for connection_id in ids:
        connection = connections.get(connection_id)
        if connection is not None:
            href = f"{href_prefix}/{connection_id}" if href_prefix else None
            items.append(encode.storage_connection(connection, base, href=href))
    return Many("storage_connection", items)


async def _all_connections(ctx: Ctx) -> dict[str, StorageConnection]:
    return {c.id: c for c in await ctx.call(ctx.engine.list_connections)}


async def follow_domains(ctx: Ctx, docs: Sequence[Obj], domains: Sequence[StorageDomain], tree: Mapping[str, object],
                         connections: Mapping[str, StorageConnection] | None = None) -> None:
    """Inline a domain's ``storage_connections``, ``data_centers`` and (attached) ``data_center``."""
    if not tree:
        return
    if "storage_connections" in tree:
        known = connections if connections is not None else await _all_connections(ctx)
        for doc, domain in zip(docs, domains, strict=True):
            prefix = f"{ctx.base}/storagedomains/{domain.id}/storageconnections"
            _replace(doc, "storage_connections", _connections_of(domain.connection_ids, known, ctx.base, prefix))
    if "data_centers" in tree or "data_center" in tree:
        dcs = {dc.id: dc for dc in await ctx.call(ctx.engine.list_data_centers)}
        for doc, domain in zip(docs, domains, strict=True):
            dc = dcs.get(domain.data_center_id or "")
            if "data_centers" in tree:
                _replace(doc, "data_centers", Many("data_center", [encode.data_center(dc, ctx.base)] if dc else []))
            if "data_center" in tree and dc is not None and any(name == "data_center" for name, _ in doc.items):
                # only a domain seen under its data center has the single data_center element
                for index, (name, _) in enumerate(doc.items):
                    if name == "data_center":
                        doc.items[index] = (name, encode.data_center(dc, ctx.base))


async def follow_data_centers(ctx: Ctx, docs: Sequence[Obj], dcs: Sequence[DataCenter],
                              tree: Mapping[str, object]) -> None:
    """Inline a data center's ``storage_domains`` (as its ``storagedomains`` subcollection shows them)
    and its ``clusters``."""
    if "clusters" in tree:
        grouped_clusters: dict[str, list[Cluster]] = defaultdict(list)
        for cluster in await ctx.call(ctx.engine.list_clusters):
            if cluster.data_center_id:
                grouped_clusters[cluster.data_center_id].append(cluster)
        for doc, dc in zip(docs, dcs, strict=True):
            inner = [encode_clusters.cluster(c, ctx.base) for c in grouped_clusters.get(dc.id, [])]
            _replace(doc, "clusters", Many("cluster", inner))
    sub = tree.get("storage_domains")
    if sub is None:
        return
    grouped: dict[str, list[StorageDomain]] = defaultdict(list)
    for domain in await ctx.call(ctx.engine.list_domains):
        if domain.data_center_id:
            grouped[domain.data_center_id].append(domain)
    connections = await _all_connections(ctx)
    for doc, dc in zip(docs, dcs, strict=True):
        domains = grouped.get(dc.id, [])
        inner = [encode.storage_domain(d, ctx.base, connections, data_center_id=dc.id) for d in domains]
        assert isinstance(sub, Mapping)
        await follow_domains(ctx, inner, domains, sub, connections)
        _replace(doc, "storage_domains", Many("storage_domain", inner))


async def follow_disks(ctx: Ctx, docs: Sequence[Obj], disks: Sequence[LunDisk], tree: Mapping[str, object],
                       connections: Mapping[str, StorageConnection]) -> None:
    """Inline a LUN disk's ``storage_connections`` (its paths to the LUN)."""
    if "storage_connections" not in tree:
        return
    for doc, disk in zip(docs, disks, strict=True):
        _replace(doc, "storage_connections", _connections_of(disk.connection_ids, connections, ctx.base, None))


async def follow_hosts(ctx: Ctx, docs: Sequence[Obj], hosts: Sequence[Host], tree: Mapping[str, object]) -> None:
    """Inline a host's ``cluster`` in full."""
    if "cluster" not in tree:
        return
    clusters = {c.id: c for c in await ctx.call(ctx.engine.list_clusters)}
    for doc, host in zip(docs, hosts, strict=True):
        cluster = clusters.get(host.cluster_id or "")
        if cluster is not None:
            _replace(doc, "cluster", encode_clusters.cluster(cluster, ctx.base))

