"""``/hosts``: the agents. List, add (``root_password`` carries the agent's token), get, remove."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import decode, encode, schema
from ..schema import BodyError
from ..media import empty
from ..routing import Ctx, FaultRoute
from .. import searching
from ..following import follow_hosts, follow_tree
from .lookup import cluster_id, data_center_id

router = APIRouter(route_class=FaultRoute)

DEFAULT_AGENT_PORT = 54321  # the agent's default listening port (storconn.agent.config.DEFAULT_PORT)


@router.get("/hosts")
async def list_hosts(request: Request) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "hosts")
    found = await searching.search(ctx, searching.HOSTS, await ctx.call(ctx.engine.list_hosts))
    document = encode.hosts(found, ctx.base)
    await follow_hosts(ctx, document.items, found, follow)
    return ctx.ok(document)


@router.post("/hosts")
async def add_host(request: Request) -> Response:
    ctx = Ctx(request)
    wanted = decode.host(await ctx.body(schema.HOST), default_port=DEFAULT_AGENT_PORT)
    dc_id = await data_center_id(ctx, wanted.data_center) if wanted.data_center else None
    in_cluster = None
    if wanted.cluster_id or wanted.cluster_name:
        in_cluster = await cluster_id(ctx, entity_id=wanted.cluster_id, name=wanted.cluster_name)
    added = await ctx.call(ctx.engine.add_host, wanted.name, address=wanted.address, port=wanted.port,
                           token=wanted.token, data_center_id=dc_id, cluster_id=in_cluster)
    document = encode.host(added, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.get("/hosts/{host_id}")
async def get_host(request: Request, host_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "hosts")
    host = await ctx.call(ctx.engine.get_host, host_id)
    document = encode.host(host, ctx.base)
    await follow_hosts(ctx, [document], [host], follow)
    return ctx.ok(document)


@router.put("/hosts/{host_id}")
async def update_host(request: Request, host_id: str) -> Response:
    """A new name, or another cluster (the host in maintenance); the agent's address and port stay."""
    ctx = Ctx(request)
    current = await ctx.call(ctx.engine.get_host, host_id)  # 404 before the body is judged
    wanted = decode.host_update(await ctx.body(schema.HOST), current.id)
    for name, given, stored in (("address", wanted.address, current.address), ("port", wanted.port, current.port)):
        if given is not None and given != stored:
            raise BodyError(f"A host's {name} cannot change: remove the host and add it again.",
                            element=f"host/{name}", key="INVALID_VALUE")
    target = None
    if wanted.cluster_id or wanted.cluster_name:
        target = await cluster_id(ctx, entity_id=wanted.cluster_id, name=wanted.cluster_name)
    updated = await ctx.call(ctx.engine.update_host, current.id, name=wanted.name, cluster_id=target)
    return ctx.ok(encode.host(updated, ctx.base))


@router.delete("/hosts/{host_id}")
async def remove_host(request: Request, host_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.remove_host, host_id)
    return empty()
