"""``/datacenters``: list, add, get, and each one's ``storagedomains`` (attach, activate, deactivate, detach)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import NotFound

from .. import decode, encode, schema
from ..media import empty
from ..routing import Ctx, FaultRoute
from .. import searching
from ..following import follow_data_centers, follow_domains, follow_tree
from .lookup import connections_by_id, domain_id

router = APIRouter(route_class=FaultRoute)


@router.get("/datacenters")
async def list_data_centers(request: Request) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "datacenters")
    dcs = await searching.search(ctx, searching.DATA_CENTERS, await ctx.call(ctx.engine.list_data_centers))
    document = encode.data_centers(dcs, ctx.base)
    await follow_data_centers(ctx, document.items, dcs, follow)
    return ctx.ok(document)


@router.post("/datacenters")
async def add_data_center(request: Request) -> Response:
    ctx = Ctx(request)
    wanted = decode.data_center(await ctx.body(schema.DATA_CENTER))
    assert wanted.name is not None
    dc = await ctx.call(ctx.engine.add_data_center, wanted.name, description=wanted.description,
                        local=bool(wanted.local), comment=wanted.comment, version=wanted.version)
    document = encode.data_center(dc, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.put("/datacenters/{dc_id}")
async def update_data_center(request: Request, dc_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.get_data_center, dc_id)  # 404 before the body is judged, as oVirt answers
    wanted = decode.data_center_update(await ctx.body(schema.DATA_CENTER), dc_id)
    dc = await ctx.call(ctx.engine.update_data_center, dc_id, name=wanted.name, description=wanted.description,
                        comment=wanted.comment, local=wanted.local, version=wanted.version)
    return ctx.ok(encode.data_center(dc, ctx.base))


@router.delete("/datacenters/{dc_id}")
async def remove_data_center(request: Request, dc_id: str) -> Response:
    """``?force=true`` as oVirt: domains in maintenance are let go even when several, hosts must be in maintenance."""
    ctx = Ctx(request)
    await ctx.call(ctx.engine.remove_data_center, dc_id, force=ctx.flag("force"))
    return empty()


@router.get("/datacenters/{dc_id}")
async def get_data_center(request: Request, dc_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "datacenters")
    dc = await ctx.call(ctx.engine.get_data_center, dc_id)
    document = encode.data_center(dc, ctx.base)
    await follow_data_centers(ctx, [document], [dc], follow)
    return ctx.ok(document)


@router.get("/datacenters/{dc_id}/storagedomains")
async def list_attached_domains(request: Request, dc_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "storagedomains")
    domains = await searching.search(ctx, searching.DOMAINS, await ctx.call(ctx.engine.data_center_domains, dc_id))
    connections = await connections_by_id(ctx)
    document = encode.storage_domains(domains, ctx.base, connections, data_center_id=dc_id)
    await follow_domains(ctx, document.items, domains, follow, connections)
    return ctx.ok(document)


@router.post("/datacenters/{dc_id}/storagedomains")
async def attach_domain(request: Request, dc_id: str) -> Response:
    """``<storage_domain id="..."/>`` (or by ``<name>``): the domain joins the data center and is activated, as in oVirt."""
    ctx = Ctx(request)
    body = await ctx.body(schema.STORAGE_DOMAIN_REF)
    if not body.get("id") and not body.get("name"):
        raise schema.IncompleteParameters("Storage domain", ["id|name"], verb="attach")
    sd_id = await domain_id(ctx, entity_id=body.get("id"), name=body.get("name"))
    domain = await ctx.call(ctx.engine.attach_domain, dc_id, sd_id)
    connections = {c.id: c for c in await ctx.call(ctx.engine.domain_connections, domain.id)}
    document = encode.storage_domain(domain, ctx.base, connections, data_center_id=dc_id)
    return ctx.created(document, document.attrs["href"])


@router.get("/datacenters/{dc_id}/storagedomains/{sd_id}")
async def get_attached_domain(request: Request, dc_id: str, sd_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "storagedomains")
    for domain in await ctx.call(ctx.engine.data_center_domains, dc_id):
        if domain.id == sd_id:
            connections = {c.id: c for c in await ctx.call(ctx.engine.domain_connections, sd_id)}
            document = encode.storage_domain(domain, ctx.base, connections, data_center_id=dc_id)
            await follow_domains(ctx, [document], [domain], follow, connections)
            return ctx.ok(document)
    raise NotFound("ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_IN_STORAGE_POOL",
                   f"Storage domain {sd_id} is not attached to data center {dc_id}.")


@router.delete("/datacenters/{dc_id}/storagedomains/{sd_id}")
async def detach_domain(request: Request, dc_id: str, sd_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.detach_domain, dc_id, sd_id)
    return empty()


@router.post("/datacenters/{dc_id}/storagedomains/{sd_id}/activate")
async def activate_domain(request: Request, dc_id: str, sd_id: str) -> Response:
    ctx = Ctx(request)
    wanted = decode.action(await ctx.optional_body(schema.ACTION))
    failed = await ctx.call(ctx.engine.activate_domain, dc_id, sd_id)
    return ctx.action_done(body_async=wanted.async_, description=_failed_hosts(failed, "connect"))


@router.post("/datacenters/{dc_id}/storagedomains/{sd_id}/deactivate")
async def deactivate_domain(request: Request, dc_id: str, sd_id: str) -> Response:
    ctx = Ctx(request)
    wanted = decode.action(await ctx.optional_body(schema.ACTION))
    failed = await ctx.call(ctx.engine.deactivate_domain, dc_id, sd_id)
    return ctx.action_done(body_async=wanted.async_, description=_failed_hosts(failed, "disconnect"))


def _failed_hosts(hosts: list[str], verb: str) -> str | None:
    """The domain changed state either way; hosts that failed are named in the action's description."""
    if not hosts:
        return None
    return f"Could not {verb} the domain's storage on host(s): {', '.join(sorted(hosts))}."
