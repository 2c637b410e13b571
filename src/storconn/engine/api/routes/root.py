"""``GET /ovirt-engine/api``: the entry point (links, product info, summary) that ``Connection.test()`` reads."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn import __version__
from storconn.engine.model import DomainStatus, HostStatus, User, VmStatus

from .. import encode
from ..routing import API_PREFIX, Ctx, FaultRoute

router = APIRouter(route_class=FaultRoute)


@router.get(API_PREFIX)
async def api_root(request: Request) -> Response:
    ctx = Ctx(request)
    user: User = request.state.user
    hosts, domains, vms = await asyncio.gather(
        ctx.call(ctx.engine.list_hosts), ctx.call(ctx.engine.list_domains), ctx.call(ctx.engine.list_vms)
    )
    document = encode.api_root(
        ctx.base,
        user,
        instance_id=ctx.state.instance_id,
        engine_version=__version__,
        hosts_total=len(hosts),
        hosts_up=sum(1 for h in hosts if h.status == HostStatus.UP),
        domains_total=len(domains),
        domains_active=sum(1 for d in domains if d.status == DomainStatus.ACTIVE),
        vms_total=len(vms),
        vms_up=sum(1 for v in vms if v.status == VmStatus.UP),
    )
    return ctx.ok(document)
