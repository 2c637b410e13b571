"""The Connections page: every storage connection, orphan or used, with what uses it; add, edit, remove, Test.

Seed 001 made connections entities of their own: an administrator edits one
while its domains are in maintenance, and removes one nothing uses. Each
change can name a host that connects (add, edit) or disconnects (remove)
right away, as the REST API's ``<host>`` does.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from storconn.engine.errors import EngineError
from storconn.engine.model import DomainStatus, StorageConnection, StorageType

from . import forms, views
from .dialog import form_answer, saved
from .kit import changer, Kit, text_fields, viewer
from .session import SessionUser
from .probe import run_test, wants_fragment

__all__ = ["connection_routes"]


class ConnectionPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @viewer
    async def listing(self, request: Request, user: SessionUser) -> Response:
        rows = await run_in_threadpool(self._rows)
        return self.kit.page(request, "connections.html", user, {"rows": rows})

    @viewer
    async def rows(self, request: Request, user: SessionUser) -> Response:
        """The table's rows alone: what the page refreshes after its dialog saved."""
        rows = await run_in_threadpool(self._rows)
        return self.kit.page(request, "_connection_rows.html", user, {"rows": rows})

    def _rows(self) -> list[dict[str, Any]]:
        engine = self.kit.engine
        domains = engine.list_domains()
        disks = engine.list_disks()
        rows: list[dict[str, Any]] = []
        for conn in engine.list_connections():
            rows.append(
                {
                    "connection": conn,
                    "summary": views.connection_summary(conn),
                    "domains": [d for d in domains if conn.id in d.connection_ids],
                    "disks": [d for d in disks if conn.id in d.connection_ids],
                }
            )
        rows.sort(key=lambda row: (row["connection"].type.value, row["summary"].lower()))
        return rows

    # -- add -----------------------------------------------------------------

    @viewer
    async def new_form(self, request: Request, user: SessionUser) -> Response:
        storage_type = _storage_type(request.query_params.get("type"))
        context = await run_in_threadpool(self._form_context, None, storage_type)
        return form_answer(self.kit, request, user, "connection.html", context)

    @changer
    async def add(self, request: Request, user: SessionUser) -> Response:
        form = text_fields(await request.form())
        storage_type = _storage_type(form.get("type"))
        context = await run_in_threadpool(self._form_context, None, storage_type)
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        try:
            fields = forms.read_connection_fields(form, storage_type)
            fields.type = storage_type
            conn = await run_in_threadpool(
                lambda: self.kit.engine.add_connection(fields, host=form.get("host") or None)
            )
        except forms.FormError as exc:
            return self._again(request, user, context, str(exc), {exc.field: exc.reason}, 400)
        except EngineError as exc:
            return self._again(request, user, context, exc.detail.strip("[]"), {}, exc.status)
        text = f"Storage connection {views.connection_summary(conn)} added."
        return saved(self.kit, request, text, "/connections")

    # -- edit, test, remove -------------------------------------------------------

    @viewer
    async def edit_form(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(
            self._existing_context, request.path_params["connection_id"]
        )
        if context is None:
            return self.kit.refused(request, user, "No such storage connection.", 404)
        return form_answer(self.kit, request, user, "connection.html", context)

    @changer
    async def edit(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(
            self._existing_context, request.path_params["connection_id"]
        )
        if context is None:
            return self.kit.refused(request, user, "No such storage connection.", 404)
        form = text_fields(await request.form())
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        conn: StorageConnection = context["connection"]
        try:
            fields = forms.read_connection_fields(form, conn.type)
            conn = await run_in_threadpool(
                lambda: self.kit.engine.update_connection(
                    conn.id, fields, force=form.get("force") == "on", host=form.get("host") or None
                )
            )
        except forms.FormError as exc:
            return self._again(request, user, context, str(exc), {exc.field: exc.reason}, 400)
        except EngineError as exc:
            return self._again(request, user, context, exc.detail.strip("[]"), {}, exc.status)
        # Named as it is now: the notice says what the user made of it.
        text = f"Storage connection {views.connection_summary(conn)} saved."
        return saved(self.kit, request, text, "/connections")

    @changer
    async def test(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(
            self._existing_context, request.path_params["connection_id"]
        )
        if context is None:
            return self.kit.refused(request, user, "No such storage connection.", 404)
        form = text_fields(await request.form())
        result = await run_test(
            self.kit.engine,
            form,
            connection_id=context["connection"].id,
            storage_type=context["connection"].type,
            hosts=context["hosts"],
            editable=True,
        )
        if wants_fragment(request):
            return self.kit.page(request, "test_result.html", user, result)
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        return self.kit.page(request, "connection.html", user, {**context, "test": result})

    @changer
    async def remove(self, request: Request, user: SessionUser) -> Response:
        connection_id = request.path_params["connection_id"]
        form = text_fields(await request.form())
        try:
            conn = await run_in_threadpool(self.kit.engine.get_connection, connection_id)
            await run_in_threadpool(
                lambda: self.kit.engine.remove_connection(
                    connection_id, host=form.get("host") or None
                )
            )
        except EngineError as exc:
            self.kit.flash(request, "error", exc.detail.strip("[]"))
        else:
            self.kit.flash(
                request, "ok", f"Storage connection {views.connection_summary(conn)} removed."
            )
        return RedirectResponse("/connections", status_code=303)

    # -- helpers -----------------------------------------------------------------

    def _existing_context(self, connection_id: str) -> dict[str, Any] | None:
        try:
            conn = self.kit.engine.get_connection(connection_id)
        except EngineError:
            return None
        return self._form_context(conn, conn.type)

    def _form_context(
        self, conn: StorageConnection | None, storage_type: StorageType
    ) -> dict[str, Any]:
        users = [
            d
            for d in self.kit.engine.list_domains()
            if conn is not None and conn.id in d.connection_ids
        ]
        return {
            "connection": conn,
            "storage_type": storage_type,
            "types": [t for t in forms.FIELDS],
            "fields": forms.FIELDS.get(storage_type, ()),
            "values": forms.current_values(conn)
            if conn is not None
            else {"nfs_version": "auto", "port": "3260"},
            "hosts": self.kit.engine.list_hosts(),
            "domains": users,
            "active": [d for d in users if d.status is DomainStatus.ACTIVE],
            "errors": {},
            "problem": None,
            "test": None,
        }

    def _again(
        self,
        request: Request,
        user: SessionUser,
        context: dict[str, Any],
        problem: str,
        errors: dict[str, str],
        status: int,
    ) -> Response:
        context.update(problem=problem, errors=errors)
        return form_answer(self.kit, request, user, "connection.html", context, status_code=status)


def _storage_type(text: str | None) -> StorageType:
    try:
        storage_type = StorageType(text or "nfs")
    except ValueError:
        return StorageType.NFS
    return storage_type if storage_type in forms.FIELDS else StorageType.NFS


def connection_routes(kit: Kit) -> list[Route]:
    pages = ConnectionPages(kit)
    return [
        Route("/connections", pages.listing),
        Route("/connections/rows", pages.rows),
        Route("/connections/new", pages.new_form, methods=["GET"]),
        Route("/connections/new", pages.add, methods=["POST"]),
        Route("/connections/{connection_id}/edit", pages.edit_form, methods=["GET"]),
        Route("/connections/{connection_id}/edit", pages.edit, methods=["POST"]),
        Route("/connections/{connection_id}/test", pages.test, methods=["POST"]),
        Route("/connections/{connection_id}/remove", pages.remove, methods=["POST"]),
    ]
