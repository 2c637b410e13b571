"""``create_web_app(engine, session_key=...)``: the web admin, server-rendered on the engine's services.

Pages call the Engine in process (in a worker thread: its calls block), never
the REST API. Every page needs a logged-in user; every request that changes
something needs the admin role and the session's CSRF token, whatever the
page showed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from storconn.engine.errors import EngineError, Unauthorized
from storconn.engine.model import ConnectionFields, DomainStatus, StorageConnection
from storconn.engine.service import Engine

from . import forms, views
from .session import CSRF_FIELD, CSRF_HEADER, SessionUser, check_csrf, end_session, session_user, start_session

__all__ = ["DEFAULT_SESSION_TTL", "create_web_app"]

HERE = Path(__file__).parent
DEFAULT_SESSION_TTL = 30 * 60.0
SESSION_COOKIE = "storconn_session"
DOMAIN_ACTIONS = ("maintenance", "activate", "detach", "remove")

Handler = Callable[[Request], Awaitable[Response]]


class WebAdmin:
    def __init__(self, engine: Engine, session_ttl: float) -> None:
        self.engine = engine
        self.session_ttl = session_ttl
        environment = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates = Jinja2Templates(env=environment)

    # -- pages -------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        if self._user(request) is not None:
            return RedirectResponse("/storage", status_code=303)
        return self._page(request, "login.html", None, {"error": None, "username": ""})

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        try:
            user = await run_in_threadpool(self.engine.authenticate, username, password)
        except Unauthorized as exc:
            context = {"error": exc.message, "username": username}
            return self._page(request, "login.html", None, context, status_code=401)
        start_session(request, user.name, user.role)
        return RedirectResponse("/storage", status_code=303)

    async def logout(self, request: Request) -> Response:
        user = self._user(request)
        if user is not None and await check_csrf(request, user):
            end_session(request)
        return RedirectResponse("/login", status_code=303)

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/storage", status_code=303)

    async def storage(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._to_login(request)
        view = self._listing(request)
        rows = await run_in_threadpool(self._storage_rows, view)
        return self._page(request, "storage.html", user, {"rows": rows, "view": view})

    async def storage_rows(self, request: Request) -> Response:
        """The table's rows alone, for the poll: the same filter and sort as the page."""
        user = self._user(request)
        if user is None:
            return self._to_login(request)
        view = self._listing(request)
        rows = await run_in_threadpool(self._storage_rows, view)
        return self._page(request, "storage_rows.html", user, {"rows": rows, "view": view})

    def _storage_rows(self, view: views.Listing) -> list[views.DomainRow]:
        domains = self.engine.list_domains()
        connections = {conn.id: conn for conn in self.engine.list_connections()}
        data_centers = self.engine.list_data_centers()
        host_views = self.engine.host_references()
        return views.domain_rows(domains, connections, data_centers, host_views, view)

    # -- actions -----------------------------------------------------------

    async def domain_action(self, request: Request) -> Response:
        user, refusal = await self._changer(request)
        if user is None:
            return refusal
        domain_id, action = request.path_params["domain_id"], request.path_params["action"]
        if action not in DOMAIN_ACTIONS:
            return self._refused(request, user, f"There is no action '{action}' on a storage domain.", 404)
        back = "/storage?" + str(request.url.query) if request.url.query else "/storage"
        try:
            text = await run_in_threadpool(self._run_domain_action, domain_id, action)
        except EngineError as exc:
            self._flash(request, "error", exc.detail.strip("[]"))
        else:
            self._flash(request, "ok", text)
        return RedirectResponse(back, status_code=303)

    def _run_domain_action(self, domain_id: str, action: str) -> str:
        domain = self.engine.get_domain(domain_id)
        if action == "remove":
            self.engine.remove_domain(domain.id)
            return f"Storage domain {domain.name} removed."
        dc_id = domain.data_center_id or ""
        if action == "maintenance":
            failed = self.engine.deactivate_domain(dc_id, domain.id)
        elif action == "activate":
            failed = self.engine.activate_domain(dc_id, domain.id)
        else:  # detach
            self.engine.detach_domain(dc_id, domain.id)
            return f"Storage domain {domain.name} detached."
        done = "activated" if action == "activate" else "moved to maintenance"
        late = f" Hosts that did not follow: {', '.join(failed)}." if failed else ""
        return f"Storage domain {domain.name} {done}.{late}"

    # -- Manage Domain (edit) and its Test ------------------------------------

    async def edit_form(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._to_login(request)
        context = await run_in_threadpool(self._edit_context, request.path_params["domain_id"])
        if context is None:
            return self._refused(request, user, "No such storage domain.", 404)
        return self._page(request, "edit.html", user, context)

    async def edit(self, request: Request) -> Response:
        user, refusal = await self._changer(request)
        if user is None:
            return refusal
        domain_id = request.path_params["domain_id"]
        context = await run_in_threadpool(self._edit_context, domain_id)
        if context is None:
            return self._refused(request, user, "No such storage domain.", 404)
        form = _text_fields(await request.form())
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        domain = context["domain"]
        try:
            edit = forms.read_domain_form(form, domain.storage_type, connection_editable=context["editable"])
            await run_in_threadpool(self._save, domain_id, context["connection"], edit)
        except forms.FormError as exc:
            context["errors"] = {exc.field: exc.reason}
            context["problem"] = str(exc)
            return self._page(request, "edit.html", user, context, status_code=400)
        except EngineError as exc:
            context["problem"] = exc.detail.strip("[]")
            return self._page(request, "edit.html", user, context, status_code=exc.status)
        self._flash(request, "ok", f"Storage domain {edit.name} saved.")
        return RedirectResponse("/storage", status_code=303)

    def _save(self, domain_id: str, conn: StorageConnection | None, edit: forms.DomainForm) -> None:
        if edit.connection is not None and conn is not None:
            self.engine.update_connection(conn.id, edit.connection)
        self.engine.update_domain(domain_id, name=edit.name, description=edit.description)

    async def test(self, request: Request) -> Response:
        user, refusal = await self._changer(request)
        if user is None:
            return refusal
        context = await run_in_threadpool(self._edit_context, request.path_params["domain_id"])
        if context is None or context["connection"] is None:
            return self._refused(request, user, "No such storage domain, or it has no connection.", 404)
        form = _text_fields(await request.form())
        chosen = form.get("test_host", "")
        host_ids = [h.id for h in context["hosts"]] if chosen == "all" else [chosen]
        problem, answers = None, []
        try:
            fields = (
                forms.read_connection_fields(form, context["domain"].storage_type)
                if context["editable"]
                else ConnectionFields()
            )
            answers = await run_in_threadpool(
                lambda: self.engine.test_fields(context["connection"].id, fields, host_ids=host_ids)
            )
        except forms.FormError as exc:
            problem = str(exc)
        except EngineError as exc:
            problem = exc.detail.strip("[]")
        result = {"answers": answers, "problem": problem}
        if request.headers.get("HX-Request"):
            return self._page(request, "test_result.html", user, result)
        context["values"].update({k: v for k, v in form.items() if k != "password"})
        return self._page(request, "edit.html", user, {**context, "test": result})

    def _edit_context(self, domain_id: str) -> dict[str, Any] | None:
        try:
            domain = self.engine.get_domain(domain_id)
        except EngineError:
            return None
        connections = self.engine.domain_connections(domain.id)
        conn = connections[0] if connections else None
        hosts = self.engine.list_hosts()
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

    # -- helpers -----------------------------------------------------------

    async def _changer(self, request: Request) -> tuple[SessionUser | None, Response]:
        """The user if they may change things and sent the session's CSRF token; else the refusal."""
        user = self._user(request)
        if user is None:
            return None, self._to_login(request)
        if not user.can_change:
            return None, self._refused(request, user, "Your role may view, not change.", 403)
        if not await check_csrf(request, user):
            return None, self._refused(
                request, user, "The form is stale or forged: reload the page and try again.", 403
            )
        return user, Response()

    def _user(self, request: Request) -> SessionUser | None:
        return session_user(request, self.session_ttl)

    @staticmethod
    def _listing(request: Request) -> views.Listing:
        query = request.query_params
        return views.listing(query.get("q"), query.get("sort"), query.get("dir"))

    @staticmethod
    def _to_login(request: Request) -> Response:
        if request.headers.get("HX-Request"):
            # htmx follows this header with a full page load, not a swap of the login page into a cell.
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    def _refused(self, request: Request, user: SessionUser, text: str, status: int) -> Response:
        return self._page(request, "refused.html", user, {"message": text}, status_code=status)

    @staticmethod
    def _flash(request: Request, kind: str, text: str) -> None:
        request.session["flash"] = {"kind": kind, "text": text}

    def _page(
        self,
        request: Request,
        template: str,
        user: SessionUser | None,
        context: dict[str, Any],
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        flash = request.session.pop("flash", None) if user is not None else None
        full = {
            "user": user,
            "flash": flash,
            "csrf_field": CSRF_FIELD,
            "csrf_header": CSRF_HEADER,
            "path": request.url.path,
            **context,
        }
        return self.templates.TemplateResponse(request, template, full, status_code=status_code)


def _text_fields(form: Any) -> dict[str, str]:
    """A form's text fields (an uploaded file is no field of ours), each value capped."""
    return {key: value[:4096] for key, value in form.multi_items() if isinstance(value, str)}


def create_web_app(
    engine: Engine,
    *,
    session_key: bytes,
    session_ttl: float = DEFAULT_SESSION_TTL,
    secure_cookies: bool = False,
) -> Starlette:
    """The web admin for ``engine``; mount it at ``/`` beside the API.

    ``secure_cookies`` marks the session cookie HTTPS-only: set it when the
    engine is served over TLS (a plain-HTTP loopback run cannot use it).
    """
    web = WebAdmin(engine, session_ttl)
    routes = [
        Route("/", web.home),
        Route("/login", web.login_form, methods=["GET"]),
        Route("/login", web.login, methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/storage", web.storage),
        Route("/storage/rows", web.storage_rows),
        Route("/storage/{domain_id}/edit", web.edit_form, methods=["GET"]),
        Route("/storage/{domain_id}/edit", web.edit, methods=["POST"]),
        Route("/storage/{domain_id}/test", web.test, methods=["POST"]),
        Route("/storage/{domain_id}/{action:str}", web.domain_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=session_key.hex(),
            session_cookie=SESSION_COOKIE,
            max_age=int(session_ttl) + 60,
            same_site="strict",
            https_only=secure_cookies,
        )
    ]
    return Starlette(routes=routes, middleware=middleware)
