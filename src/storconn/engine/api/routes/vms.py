"""``/vms``: just enough of a VM for the storage rules: status (start, stop, shutdown) and disk attachments."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import NotFound
from storconn.engine.model import VmStatus

from .. import decode, encode, schema
from ..routing import Ctx, FaultRoute
from .. import searching
from ..following import follow_tree
from .lookup import disk_id

router = APIRouter(route_class=FaultRoute)

@router.get("/vms")
async def list_vms(request: Request) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "vms")
    found = await searching.search(ctx, searching.VMS, await ctx.call(ctx.engine.list_vms))
    return ctx.ok(encode.vms(found, ctx.base, inline_attachments="disk_attachments" in follow))


@router.post("/vms")
async def add_vm(request: Request) -> Response:
    ctx = Ctx(request)
    name = decode.vm(await ctx.body(schema.VM))
    added = await ctx.call(ctx.engine.add_vm, name)
    document = encode.vm(added, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.get("/vms/{vm_id}")
async def get_vm(request: Request, vm_id: str) -> Response:
    ctx = Ctx(request)
    follow = follow_tree(ctx, "vms")
    found = await ctx.call(ctx.engine.get_vm, vm_id)
    return ctx.ok(encode.vm(found, ctx.base, inline_attachments="disk_attachments" in follow))


async def _set_status(request: Request, vm_id: str, status: VmStatus) -> Response:
    """Start runs the VM on the host named in ``<action><vm><placement_policy><hosts><host>`` (or
    ``<action><host>``), else where oVirt's scheduler would: the first Up host. Stop and shutdown take it down."""
    ctx = Ctx(request)
    wanted = decode.action(await ctx.optional_body(schema.ACTION))
    host = wanted.host if status is VmStatus.UP else None
    await ctx.call(ctx.engine.set_vm_status, vm_id, status, host=host)
    return ctx.action_done(body_async=wanted.async_)


@router.post("/vms/{vm_id}/start")
async def start_vm(request: Request, vm_id: str) -> Response:
    return await _set_status(request, vm_id, VmStatus.UP)


@router.post("/vms/{vm_id}/stop")
async def stop_vm(request: Request, vm_id: str) -> Response:
    return await _set_status(request, vm_id, VmStatus.DOWN)


@router.post("/vms/{vm_id}/shutdown")
async def shutdown_vm(request: Request, vm_id: str) -> Response:
    return await _set_status(request, vm_id, VmStatus.DOWN)


@router.get("/vms/{vm_id}/diskattachments")
async def list_disk_attachments(request: Request, vm_id: str) -> Response:
    ctx = Ctx(request)
    return ctx.ok(encode.disk_attachments(await ctx.call(ctx.engine.get_vm, vm_id), ctx.base))


@router.post("/vms/{vm_id}/diskattachments")
async def attach_disk(request: Request, vm_id: str) -> Response:
    """``<disk_attachment><disk id="..."/><active>true</active></disk_attachment>``: active means plugged."""
    ctx = Ctx(request)
    wanted = decode.disk_attachment(await ctx.body(schema.DISK_ATTACHMENT))
    found_disk = await disk_id(ctx, entity_id=wanted.disk_id, name=wanted.disk_name)
    updated = await ctx.call(ctx.engine.attach_disk, vm_id, found_disk, plugged=wanted.plugged)
    plugged = next((a.plugged for a in updated.disk_attachments if a.disk_id == found_disk), wanted.plugged)
    document = encode.disk_attachment(vm_id, found_disk, plugged, ctx.base)
    return ctx.created(document, document.attrs["href"])


@router.get("/vms/{vm_id}/diskattachments/{attachment_id}")
async def get_disk_attachment(request: Request, vm_id: str, attachment_id: str) -> Response:
    ctx = Ctx(request)
    found = await ctx.call(ctx.engine.get_vm, vm_id)
    for attachment in found.disk_attachments:
        if attachment.disk_id == attachment_id:
            return ctx.ok(encode.disk_attachment(vm_id, attachment.disk_id, attachment.plugged, ctx.base))
    raise NotFound("ACTION_TYPE_FAILED_DISK_NOT_ATTACHED_TO_VM",
                   f"Disk {attachment_id} is not attached to VM {vm_id}.")
