"""The Storage page: domains with their state on each host, their actions, and Manage Domain with its Test."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from storconn.engine.errors import EngineError
from storconn.engine.model import DomainStatus, StorageConnection

from . import forms, views
from .dialog import form_answer, saved
from .kit import changer, Kit, text_fields, viewer
from .session import CSRF_FIELD, SessionUser
from .jobs import QUICK
from .probe import run_test, wants_fragment
from .rows import storage_rows_html

# A job's progress is polled every second or so: it asks the hosts at most this often.
PROGRESS_MAX_AGE = 1.0
DOMAIN_ACTIONS = ("maintenance", "activate", "detach", "remove")
LOCAL_PAGES = ("/storage", "/datacenters")


class StoragePages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @viewer
    async def storage(self, request: Request, user: SessionUser) -> Response:
        view = self.kit.listing(request)
        context = await self._rows_context(view, user)
        return self.kit.page(request, "storage.html", user, context)

    @viewer
    async def storage_rows(self, request: Request, user: SessionUser) -> Response:
        """The table's rows alone, for the poll: the same filter and sort as the page."""
        view = self.kit.listing(request)
        context = await self._rows_context(view, user)
        return self.kit.page(request, "storage_rows.html", user, context)

    async def _rows_context(self, view: views.Listing, user: SessionUser) -> dict[str, Any]:
        engine = self.kit.engine
        # The database and the agents at once: the hosts' answers are most of the wait.
        overview, host_views = await asyncio.gather(
            run_in_threadpool(engine.domain_overview), run_in_threadpool(engine.host_references)
        )
        rows = views.domain_rows(
            overview.domains, overview.connections, overview.data_center_names, host_views, view
        )
        token = user.csrf_token if user.can_change else None
        html = storage_rows_html(rows, page_query=view.query, csrf_field=CSRF_FIELD, csrf_token=token)
        return {"rows": rows, "rows_html": html, "view": view}

    # -- actions -----------------------------------------------------------

    @changer
    async def domain_action(self, request: Request, user: SessionUser) -> Response:
        domain_id, action = request.path_params["domain_id"], request.path_params["action"]
        if action not in DOMAIN_ACTIONS:
            return self.kit.refused(
                request, user, f"There is no action '{action}' on a storage domain.", 404
            )
        back = "/storage?" + str(request.url.query) if request.url.query else "/storage"
        asked = text_fields(await request.form()).get("back", "")
        if asked in LOCAL_PAGES:  # only our own pages: a form field never sends the browser elsewhere
            back = asked
        job = self.kit.jobs.start(
            f"{action.capitalize()} of a storage domain", domain_id, action,
            lambda: self._run_domain_action(domain_id, action), EngineError,
        )
        if await run_in_threadpool(job.done_event.wait, QUICK):
            self.kit.flash(request, "error" if job.error else "ok", job.error or job.result or "")
            return RedirectResponse(back, status_code=303)
        # Still going (many hosts, slow ones): the page shows its progress until it ends.
        return RedirectResponse(f"{back}{'&' if '?' in back else '?'}job={job.id}", status_code=303)

    @viewer
    async def job(self, request: Request, user: SessionUser) -> Response:
        """A job's progress: how many of the data center's hosts are where the action takes them."""
        job = self.kit.jobs.get(request.path_params["job_id"])
        if job is None:
            return self.kit.refused(request, user, "No such action (it ended a while ago).", 404)
        progress = await run_in_threadpool(self._progress, job.domain_id, job.action)
        return self.kit.page(request, "job.html", user, {"job": job, "progress": progress})

    def _progress(self, domain_id: str, action: str) -> tuple[int, int]:
        """(hosts done, hosts of the domain's data center)."""
        try:
            domain = self.kit.engine.get_domain(domain_id)
        except EngineError:
            return 0, 0
        cells = views.host_cells(domain, self.kit.engine.host_references(max_age=PROGRESS_MAX_AGE))
        want_connected = action == "activate"
        done = sum(1 for cell in cells if (cell.state == "connected") == want_connected)
        return done, len(cells)

    def _run_domain_action(self, domain_id: str, action: str) -> str:
        domain = self.kit.engine.get_domain(domain_id)
        if action == "remove":
            self.kit.engine.remove_domain(domain.id)
            return f"Storage domain {domain.name} removed."
        dc_id = domain.data_center_id or ""
        if action == "maintenance":
            failed = self.kit.engine.deactivate_domain(dc_id, domain.id)
        elif action == "activate":
            failed = self.kit.engine.activate_domain(dc_id, domain.id)
        else:  # detach
            self.kit.engine.detach_domain(dc_id, domain.id)
            return f"Storage domain {domain.name} detached."
        done = "activated" if action == "activate" else "moved to maintenance"
        late = f" Hosts that did not follow: {', '.join(failed)}." if failed else ""
        return f"Storage domain {domain.name} {done}.{late}"

    # -- Manage Domain (edit) and its Test ------------------------------------

    @viewer
    async def edit_form(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._edit_context, request.path_params["domain_id"])
        if context is None:
            return self.kit.refused(request, user, "No such storage domain.", 404)
        return form_answer(self.kit, request, user, "edit.html", context)

    @changer
    async def edit(self, request: Request, user: SessionUser) -> Response:
        domain_id = request.path_params["domain_id"]
        context = await run_in_threadpool(self._edit_context, domain_id)
        if context is None:
            return self.kit.refused(request, user, "No such storage domain.", 404)
        form = text_fields(await request.form())
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        domain = context["domain"]
        try:
            edit = forms.read_domain_form(form, domain.storage_type)
            await run_in_threadpool(self._save, domain_id, context["connection"], edit)
        except forms.FormError as exc:
            context["errors"] = {exc.field: exc.reason}
            context["problem"] = str(exc)
            return form_answer(self.kit, request, user, "edit.html", context, status_code=400)
        except EngineError as exc:
            context["problem"] = exc.detail.strip("[]")
            return form_answer(
                self.kit, request, user, "edit.html", context, status_code=exc.status
            )
        return saved(self.kit, request, f"Storage domain {edit.name} saved.", "/storage")

    def _save(self, domain_id: str, conn: StorageConnection | None, edit: forms.DomainForm) -> None:
        if edit.connection is not None and conn is not None:
            self.kit.engine.update_connection(conn.id, edit.connection)
        self.kit.engine.update_domain(domain_id, name=edit.name, description=edit.description)

    @changer
    async def test(self, request: Request, user: SessionUser) -> Response:
        context = await run_in_threadpool(self._edit_context, request.path_params["domain_id"])
        if context is None or context["connection"] is None:
            return self.kit.refused(
                request, user, "No such storage domain, or it has no connection.", 404
            )
        form = text_fields(await request.form())
        result = await run_test(
            self.kit.engine, form, connection_id=context["connection"].id,
            storage_type=context["domain"].storage_type, hosts=context["hosts"],
            editable=context["editable"],
        )
        if wants_fragment(request):
            return self.kit.page(request, "test_result.html", user, result)
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        return self.kit.page(request, "edit.html", user, {**context, "test": result})

    def _edit_context(self, domain_id: str) -> dict[str, Any] | None:
        try:
            domain = self.kit.engine.get_domain(domain_id)
        except EngineError:
            return None
        connections = self.kit.engine.domain_connections(domain.id)
        conn = connections[0] if connections else None
        hosts = self.kit.engine.list_hosts()
        if domain.data_center_id:
            hosts = [h for h in hosts if h.data_center_id == domain.data_center_id] or hosts
        return {
            "domain": domain,
            "connection": conn,
            "editable": domain.status in (DomainStatus.MAINTENANCE, DomainStatus.UNATTACHED),
            "fields": forms.FIELDS.get(domain.storage_type, ()),
            "values": forms.current_values(conn) if conn is not None else {},
            "hosts": hosts,
            "errors": {},
            "problem": None,
            "test": None,
        }


def storage_routes(kit: Kit) -> list[Route]:
    pages = StoragePages(kit)
    return [
        Route("/storage", pages.storage),
        Route("/storage/rows", pages.storage_rows),
        Route("/storage/{domain_id}/edit", pages.edit_form, methods=["GET"]),
        Route("/storage/{domain_id}/edit", pages.edit, methods=["POST"]),
        Route("/storage/{domain_id}/test", pages.test, methods=["POST"]),
        Route("/storage/{domain_id}/{action:str}", pages.domain_action, methods=["POST"]),
        Route("/jobs/{job_id}", pages.job),
    ]
