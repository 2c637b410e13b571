"""``/storagedomains``: list, add, get, update, remove, and each domain's ``storageconnections``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import BadRequest, NotFound
from storconn.engine.model import StorageDomain
from storconn.engine.rules import Action

from .. import decode, encode, schema
from ..document import Obj
from ..media import empty
from ..routing import Ctx, FaultRoute
from .. import searching
from ..following import follow_domains, follow_tree
from .lookup import connections_by_id

router = APIRouter(route_class=FaultRoute)


@router.get("/storagedomains")
async def list_domains(request: Request) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "storagedomains")
    domains = await ctx.call(ctx.engine.list_domains, max=None if searching.searching(ctx) else ctx.max())
    domains = await searching.search(ctx, searching.DOMAINS, domains)
    connections = await connections_by_id(ctx)
    document = encode.storage_domains(domains, ctx.base, connections)
    await follow_domains(ctx, document.items, domains, follow, connections)
    return ctx.ok(document)


@router.post("/storagedomains")
async def add_domain(request: Request) -> Response:
    """A domain on an existing connection (``<storage id>``) or on a new one (its fields in ``<storage>``)."""
    ctx = Ctx(request)
    wanted = decode.storage_domain(await ctx.body(schema.STORAGE_DOMAIN))
    storage_type = wanted.storage_type
    if storage_type is None:
        assert wanted.connection_id is not None
        try:
            storage_type = (await ctx.call(ctx.engine.get_connection, wanted.connection_id)).type
        except NotFound as exc:  # engine rules: an unknown connection id is a bad request, not a 404 (or a 500)
            raise BadRequest("ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
                             "Storage connection doesn't exist.",  # oVirt's text
                             action=Action.ADD_DOMAIN) from exc
    domain = await ctx.call(
        ctx.engine.add_domain, wanted.name, storage_type=storage_type, domain_type=wanted.domain_type,
        description=wanted.description, connection_id=wanted.connection_id, connection=wanted.connection,
        host=wanted.host, luns=wanted.luns,
    )
    document = await _domain_document(ctx, domain.id, domain)
    return ctx.created(document, document.attrs["href"])


@router.get("/storagedomains/{domain_id}")
async def get_domain(request: Request, domain_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "storagedomains")
    domain = await ctx.call(ctx.engine.get_domain, domain_id)
    document = await _domain_document(ctx, domain_id, domain)
    await follow_domains(ctx, [document], [domain], follow)
    return ctx.ok(document)


@router.put("/storagedomains/{domain_id}")
async def update_domain(request: Request, domain_id: str) -> Response:
    """Name and description; new ``<logical_units>`` extend a block domain, as in oVirt. Always 200."""
    ctx = Ctx(request)
    wanted = decode.storage_domain_update(await ctx.body(schema.STORAGE_DOMAIN_UPDATE), domain_id)
    if wanted.domain_type is not None:
        current = await ctx.call(ctx.engine.get_domain, domain_id)
        if wanted.domain_type != current.domain_type:
            raise schema.BodyError(f"Element 'storage_domain/type': the type of a storage domain cannot change "
                                   f"(it is {current.domain_type}).", element="storage_domain/type",
                                   key="INVALID_VALUE")
    domain = await ctx.call(ctx.engine.update_domain, domain_id, name=wanted.name, description=wanted.description,
                            luns=wanted.luns)
    return ctx.ok(await _domain_document(ctx, domain_id, domain))


@router.delete("/storagedomains/{domain_id}")
async def remove_domain(request: Request, domain_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.remove_domain, domain_id)
    return empty()


async def _domain_document(ctx: Ctx, domain_id: str, domain: StorageDomain | None = None) -> Obj:
    if domain is None:
        domain = await ctx.call(ctx.engine.get_domain, domain_id)
    connections = {c.id: c for c in await ctx.call(ctx.engine.domain_connections, domain.id)}
    return encode.storage_domain(domain, ctx.base, connections)


# --- a domain's connections (iSCSI multipath) ---


@router.get("/storagedomains/{domain_id}/storageconnections")
async def list_domain_connections(request: Request, domain_id: str) -> Response:
    ctx = Ctx(request)
    connections = await ctx.call(ctx.engine.domain_connections, domain_id)
    limit = ctx.max()
    connections = connections if limit is None else connections[:limit]
    return ctx.ok(encode.storage_connections(connections, ctx.base, domain_id=domain_id))


@router.post("/storagedomains/{domain_id}/storageconnections")
async def attach_connection(request: Request, domain_id: str) -> Response:
    """``<storage_connection id="..."/>``: 200 with the connection (engine rules), 202 when async."""
    ctx = Ctx(request)
    body = await ctx.body(schema.STORAGE_CONNECTION)
    connection_id = body.get("id")
    if not connection_id:
        raise schema.IncompleteParameters("Storage connection", ["id"], verb="attach")
    await ctx.call(ctx.engine.attach_connection, domain_id, connection_id)
    connection = await ctx.call(ctx.engine.get_connection, connection_id)
    href = f"{ctx.base}/storagedomains/{domain_id}/storageconnections/{connection_id}"
    return ctx.ok(encode.storage_connection(connection, ctx.base, href=href),
                  status=202 if ctx.wants_async() else 200)


@router.get("/storagedomains/{domain_id}/storageconnections/{connection_id}")
async def get_domain_connection(request: Request, domain_id: str, connection_id: str) -> Response:
    ctx = Ctx(request)
    for connection in await ctx.call(ctx.engine.domain_connections, domain_id):
        if connection.id == connection_id:
            href = f"{ctx.base}/storagedomains/{domain_id}/storageconnections/{connection_id}"
            return ctx.ok(encode.storage_connection(connection, ctx.base, href=href))
    raise NotFound("ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_NOT_EXIST",
                   f"Storage connection {connection_id} is not attached to storage domain {domain_id}.")


@router.delete("/storagedomains/{domain_id}/storageconnections/{connection_id}")
async def detach_connection(request: Request, domain_id: str, connection_id: str) -> Response:
    ctx = Ctx(request)
    await ctx.call(ctx.engine.detach_connection, domain_id, connection_id)
    return empty()
