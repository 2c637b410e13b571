"""``/disks``: direct LUN disks. List, add (``<lun_storage><logical_units>``), get, remove."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

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
