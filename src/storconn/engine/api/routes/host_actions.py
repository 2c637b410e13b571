"""A host's actions and storage: maintenance, iSCSI discovery and login through its agent, the LUNs it sees.

``deactivate``/``activate`` (oVirt's host maintenance), ``iscsidiscover``
and ``discoveriscsi`` (one discovery; oVirt answers both the old
``iscsi_targets`` and 4.4.6's ``discovered_targets``, and each SDK method
reads its own), ``iscsilogin``, and ``storage`` (the host's LUNs). The CHAP
password of an action's ``<iscsi>`` is never echoed: the answers are built
anew, not from the request.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import NotFound

from .. import decode, encode, schema
from ..routing import Ctx, FaultRoute

router = APIRouter(route_class=FaultRoute)


@router.post("/hosts/{host_id}/deactivate")
async def deactivate_host(request: Request, host_id: str) -> Response:
    ctx = Ctx(request)
    fields = await ctx.optional_body(schema.HOST_ACTION)
    failed = await ctx.call(ctx.engine.deactivate_host, host_id)
    description = (f"Host(s) {', '.join(failed)} did not answer: their references are released when "
                   "activated." if failed else None)
    return ctx.action_done(body_async=bool((fields or {}).get("async", False)), description=description)


@router.post("/hosts/{host_id}/activate")
async def activate_host(request: Request, host_id: str) -> Response:
    ctx = Ctx(request)
    fields = await ctx.optional_body(schema.HOST_ACTION)
    failed = await ctx.call(ctx.engine.activate_host, host_id)
    return ctx.action_done(body_async=bool((fields or {}).get("async", False)),
                           description="; ".join(failed) if failed else None)


@router.post("/hosts/{host_id}/iscsidiscover")
async def iscsi_discover(request: Request, host_id: str) -> Response:
    return await _discover(request, host_id, "iscsiDiscover")


@router.post("/hosts/{host_id}/discoveriscsi")
async def discover_iscsi(request: Request, host_id: str) -> Response:
    return await _discover(request, host_id, "discoverIscsi")


async def _discover(request: Request, host_id: str, verb: str) -> Response:
    ctx = Ctx(request)
    fields = await ctx.body(schema.HOST_ACTION)
    iscsi = decode.iscsi_details(fields, required=("address",), verb=verb)
    found = await ctx.call(ctx.engine.iscsi_discover, host_id, iscsi)
    status = 202 if ctx.wants_async(body_async=bool(fields.get("async", False))) else 200
    return ctx.ok(encode.discovered_targets(found), status=status)


@router.post("/hosts/{host_id}/iscsilogin")
async def iscsi_login(request: Request, host_id: str) -> Response:
    ctx = Ctx(request)
    fields = await ctx.body(schema.HOST_ACTION)
    iscsi = decode.iscsi_details(fields, required=("address", "target"), verb="iscsiLogin")
    await ctx.call(ctx.engine.iscsi_login, host_id, iscsi)
    return ctx.action_done(body_async=bool(fields.get("async", False)))


@router.get("/hosts/{host_id}/storage")
async def list_host_storage(request: Request, host_id: str) -> Response:
    ctx = Ctx(request)
    luns = await ctx.call(ctx.engine.host_storage, host_id)
    limit = ctx.max()
    host = await ctx.call(ctx.engine.get_host, host_id)
    return ctx.ok(encode.host_storages(luns if limit is None else luns[:limit], host.id, ctx.base))


@router.get("/hosts/{host_id}/storage/{lun_id}")
async def get_host_storage(request: Request, host_id: str, lun_id: str) -> Response:
    ctx = Ctx(request)
    host = await ctx.call(ctx.engine.get_host, host_id)
    for lun in await ctx.call(ctx.engine.host_storage, host.id):
        if lun.id == lun_id:
            return ctx.ok(encode.host_storage(lun, host.id, ctx.base))
    raise NotFound("ENTITY_NOT_FOUND", f"host storage {lun_id} was not found on host {host.name}.")
