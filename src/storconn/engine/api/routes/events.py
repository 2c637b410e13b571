"""``/events``: the audit log, as oVirt's events service: list (newest first; ``max``, ``from``, ``search``), get, add an external event, remove."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import decode, encode, schema
from ..media import empty
from ..routing import Ctx, FaultRoute
from ..schema import BodyError

router = APIRouter(route_class=FaultRoute)


def _from(ctx: Ctx) -> int | None:
    """``?from=N``: events with ids greater than N; absent or negative (oVirt's -1) means all."""
    value = ctx.text("from")
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise BodyError(f"Query parameter 'from': {value[:40]!r} is not an integer.", element="?from",
                        key="INVALID_VALUE") from None
    if number >= 2**63:
        raise BodyError(f"Query parameter 'from': {value[:40]!r} is too large.", element="?from",
                        key="INVALID_VALUE")
    return None if number < 0 else number


@router.get("/events")
async def list_events(request: Request) -> Response:
    """``ovirt_host`` reads ``?max=1`` first, then ``?from=<that id>``, filtered by ``search=type=...``."""
    ctx = Ctx(request)
    found = await ctx.call(ctx.engine.list_events, max=ctx.max(), from_id=_from(ctx), search=ctx.text("search"),
                           case_sensitive=not _case_insensitive(ctx))
    return ctx.ok(encode.events(found, ctx.base))


def _case_insensitive(ctx: Ctx) -> bool:
    value = ctx.text("case_sensitive")
    return value is not None and not ctx.flag("case_sensitive")


@router.post("/events")
async def add_event(request: Request) -> Response:
    ctx = Ctx(request)
    wanted = decode.event(await ctx.body(schema.EVENT))
    added = await ctx.call(ctx.engine.add_event, wanted)
    document = encode.event(added, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.get("/events/{event_id}")
async def get_event(request: Request, event_id: str) -> Response:
    ctx = Ctx(request)
    return ctx.ok(encode.event(await ctx.call(ctx.engine.get_event, event_id), ctx.base))


@router.delete("/events/{event_id}")
async def remove_event(request: Request, event_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.remove_event, event_id)
    return empty()
