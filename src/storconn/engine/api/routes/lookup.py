"""Finding entities that a body names by id or by name, and the connections documents embed."""

from __future__ import annotations

from storconn.engine.errors import NotFound
from storconn.engine.model import StorageConnection

from ..routing import Ctx


async def connections_by_id(ctx: Ctx) -> dict[str, StorageConnection]:
    """Every connection by id: one query for a whole list of domains or disks."""
    return {c.id: c for c in await ctx.call(ctx.engine.list_connections)}


async def domain_id(ctx: Ctx, *, entity_id: str | None, name: str | None) -> str:
    if entity_id:
        return entity_id
    matches = [d.id for d in await ctx.call(ctx.engine.list_domains) if d.name == name]
    if not matches:
        raise NotFound("ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_EXIST", f"Storage domain {name!r} does not exist.")
    return matches[0]


async def data_center_id(ctx: Ctx, ref: str) -> str:
    """A data center's id from its id or its name."""
    for dc in await ctx.call(ctx.engine.list_data_centers):
        if ref in (dc.id, dc.name):
            return dc.id
    raise NotFound("ACTION_TYPE_FAILED_STORAGE_POOL_NOT_EXIST", f"Data center {ref!r} does not exist.")


async def disk_id(ctx: Ctx, *, entity_id: str | None, name: str | None) -> str:
    if entity_id:
        return entity_id
    matches = [d.id for d in await ctx.call(ctx.engine.list_disks) if d.name == name]
    if not matches:
        raise NotFound("ACTION_TYPE_FAILED_DISK_NOT_EXIST", f"Disk {name!r} does not exist.")
    return matches[0]


async def cluster_id(ctx: Ctx, *, entity_id: str | None, name: str | None) -> str:
    """A cluster's id from a body's ``<cluster id=..>`` or ``<cluster><name>``; an unknown name is
    oVirt's 404 (its REST layer looks the name up before the command runs)."""
    if entity_id:
        return entity_id
    for cluster in await ctx.call(ctx.engine.list_clusters):
        if cluster.name == name:
            return cluster.id
    raise NotFound("ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", f"Entity not found: Cluster: name={name}")
