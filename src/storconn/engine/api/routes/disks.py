"""``/disks``: direct LUN disks. List, add (``<lun_storage><logical_units>``), get, remove.

And a disk's ``storageconnections``: the seed's post-3.3 item that oVirt
never built, the connections a LUN disk is reached through, as a domain's are.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import NotFound

from .. import decode, encode, schema
from ..media import empty
from ..routing import Ctx, FaultRoute
from .. import searching
from ..following import follow_disks, follow_tree
from .lookup import connections_by_id

router = APIRouter(route_class=FaultRoute)


@router.get("/disks")
async def list_disks(request: Request) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "disks")
    found = await searching.search(ctx, searching.DISKS, await ctx.call(ctx.engine.list_disks))
    connections = await connections_by_id(ctx)
    document = encode.disks(found, ctx.base, connections)
    await follow_disks(ctx, document.items, found, follow, connections)
    return ctx.ok(document)


@router.post("/disks")
async def add_disk(request: Request) -> Response:
    """One LUN; each ``<logical_unit>`` is a path to it, whose iSCSI connection is reused or created."""
    ctx = Ctx(request)
    wanted = decode.lun_disk(await ctx.body(schema.DISK))
    added = await ctx.call(ctx.engine.add_lun_disk, wanted.name, lun_id=wanted.lun_id,
                           connections=wanted.connections)
    document = encode.disk(added, ctx.base, await connections_by_id(ctx))
    return ctx.created(document, document.attrs["href"])


@router.get("/disks/{disk_id}")
async def get_disk(request: Request, disk_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "disks")
    found = await ctx.call(ctx.engine.get_disk, disk_id)
    connections = await connections_by_id(ctx)
    document = encode.disk(found, ctx.base, connections)
    await follow_disks(ctx, [document], [found], follow, connections)
    return ctx.ok(document)


@router.delete("/disks/{disk_id}")
async def remove_disk(request: Request, disk_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.remove_disk, disk_id)
    return empty()


@router.get("/disks/{disk_id}/storageconnections")
async def list_disk_connections(request: Request, disk_id: str) -> Response:
    ctx = Ctx(request)
    connections = await ctx.call(ctx.engine.disk_connections, disk_id)
    limit = ctx.max()
    connections = connections if limit is None else connections[:limit]
    return ctx.ok(encode.storage_connections(connections, ctx.base, disk_id=disk_id))


@router.get("/disks/{disk_id}/storageconnections/{disk_connection_id}")
async def get_disk_connection(request: Request, disk_id: str, disk_connection_id: str) -> Response:
    connection_id = disk_connection_id
    ctx = Ctx(request)
    for connection in await ctx.call(ctx.engine.disk_connections, disk_id):
        if connection.id == connection_id:
            href = f"{ctx.base}/disks/{disk_id}/storageconnections/{connection_id}"
            return ctx.ok(encode.storage_connection(connection, ctx.base, href=href))
    raise NotFound("ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
                   f"Storage connection {connection_id} is not a connection of disk {disk_id}.")
