"""``/storageconnections``: list, add, get, update (``?force``), remove (``?host``)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import decode, encode, schema
from ..schema import IncompleteParameters
from ..media import body_is_json, empty, read_raw, render
from .. import searching
from ..following import follow_tree
from ..routing import Ctx, FaultRoute
from ..xmlparse import XmlSyntaxError, parse_xml

router = APIRouter(route_class=FaultRoute)


@router.get("/storageconnections")
async def list_connections(request: Request) -> Response:
    ctx = Ctx(request)
    follow_tree(ctx, "storageconnections")
    connections = await ctx.call(ctx.engine.list_connections, max=None if searching.searching(ctx) else ctx.max())
    connections = await searching.search(ctx, searching.CONNECTIONS, connections)
    return ctx.ok(encode.storage_connections(connections, ctx.base))


@router.post("/storageconnections")
async def add_connection(request: Request) -> Response:
    ctx = Ctx(request)
    wanted = decode.storage_connection(await ctx.body(schema.STORAGE_CONNECTION))
    connection = await ctx.call(ctx.engine.add_connection, wanted.fields, host=wanted.host,
                                connection_id=wanted.id)
    document = encode.storage_connection(connection, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.get("/storageconnections/{connection_id}")
async def get_connection(request: Request, connection_id: str) -> Response:
    ctx = Ctx(request)
    connection = await ctx.call(ctx.engine.get_connection, connection_id)
    return ctx.ok(encode.storage_connection(connection, ctx.base))


@router.put("/storageconnections/{connection_id}")
async def update_connection(request: Request, connection_id: str) -> Response:
    """A PUT merges the given fields; ``?force=true`` skips the domains-in-maintenance rule.

    Always 200, also with ``?async=true``: the SDK's update accepts nothing else.
    """
    ctx = Ctx(request)
    wanted = decode.storage_connection_update(await ctx.body(schema.STORAGE_CONNECTION), connection_id)
    connection = await ctx.call(ctx.engine.update_connection, connection_id, wanted.fields,
                                force=ctx.flag("force"), host=wanted.host)
    return ctx.ok(encode.storage_connection(connection, ctx.base))


@router.delete("/storageconnections/{connection_id}")
async def remove_connection(request: Request, connection_id: str) -> Response:
    """``?host=id-or-name`` disconnects it there; oVirt 3's ``<host>`` body is understood too.

    Always 200, also with ``?async=true``: the SDK's remove accepts nothing else.
    """
    ctx = Ctx(request)
    host = ctx.text("host") or await _host_from_body(ctx)
    await ctx.call(ctx.engine.remove_connection, connection_id, host=host)
    return empty()


async def _host_from_body(ctx: Ctx) -> str | None:
    """The host of a DELETE body: ``<host>`` (oVirt 3, the feature page) or ``<action><host>``."""
    data = await read_raw(ctx.request, ctx.state.max_body)
    if not data.strip():
        return None
    as_json = body_is_json(ctx.request, data)
    wanted = schema.ACTION
    if not as_json:
        try:
            if parse_xml(data).tag == "host":
                wanted = schema.HOST_REF
        except XmlSyntaxError:
            pass  # read_body reports it
    fields = schema.read_body(data, wanted, as_json=as_json)
    return decode.reference(fields) if wanted is schema.HOST_REF else decode.action(fields).host


@router.post("/storageconnections/{connection_id}/test")
async def test_connection(request: Request, connection_id: str) -> Response:
    """Beyond oVirt: connect on one host through a flow reference, wait, release, and say what the agent saw.

    Body: ``<action><host id="..."/></action>`` (or ``name``). The answer is an
    action whose status is ``complete`` when the host connected and
    ``failed`` when not, with the agent's error in the description.
    """
    ctx = Ctx(request)
    wanted = decode.action(await ctx.optional_body(schema.ACTION))
    if wanted.host is None:
        raise IncompleteParameters("Host", ["id|name"], verb="a connectivity test")
    seen = await ctx.call(ctx.engine.test_connection, connection_id, host=wanted.host)
    host = seen["host"]["name"]
    code, message = seen.get("lastError") or (0, "")
    if seen.get("connected"):
        document = encode.action(description=f"Connected on host {host} at {seen.get('path') or 'its device'}.")
    else:
        reason = f"[{code}] {message}" if code else "not connected before the timeout"
        document = encode.action(description=f"Not connected on host {host}: {reason}")
        document.items[0] = ("status", "failed")
    return render(ctx.request, document, status=200)
