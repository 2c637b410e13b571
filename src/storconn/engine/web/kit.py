"""What every page of the web admin shares: the engine, the templates, who is asking, and how to answer.

Every page needs a logged-in user; every request that changes something
needs the admin role and the session's CSRF token (``changer``), whatever the
page showed.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from storconn.engine import actor
from storconn.engine.errors import EngineError
from storconn.engine.service import Engine

from . import views
from .forms import FormError
from .jobs import Jobs
from .session import CSRF_FIELD, CSRF_HEADER, SessionUser, check_csrf, session_user

__all__ = ["Kit", "changer", "text_fields", "viewer"]

HERE = Path(__file__).parent
T = TypeVar("T")
# The ids of what a form in a dialog asks htmx to fill: the dialog's body (Save) and the Test result.
DIALOG_TARGETS = ("dialog-body", "test-result")


class Kit:
    def __init__(self, engine: Engine, session_ttl: float) -> None:
        self.engine = engine
        self.session_ttl = session_ttl
        self.jobs = Jobs(on_end=engine.forget_host_answers)
        environment = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates = Jinja2Templates(env=environment)

    async def changer(self, request: Request) -> tuple[SessionUser | None, Response]:
        """The user if they may change things and sent the session's CSRF token; else the refusal."""
        user = await self.user(request)
        if user is None:
            return None, self.to_login(request)
        if not user.can_change:
            return None, self.refused(request, user, "Your role may view, not change.", 403)
        if not await check_csrf(request, user):
            return None, self.refused(
                request, user, "The form is stale or forged: reload the page and try again.", 403
            )
        return user, Response()

    async def user(self, request: Request) -> SessionUser | None:
        found = await session_user(request, self.engine)
        if found is not None:
            actor.set_current(found.name)  # the engine's events name who acted, as from the API
        return found

    @staticmethod
    def listing(request: Request) -> views.Listing:
        query = request.query_params
        return views.listing(query.get("q"), query.get("sort"), query.get("dir"))

    @staticmethod
    def to_login(request: Request) -> Response:
        if request.headers.get("HX-Request"):
            # htmx follows this header with a full page load, not a swap of the login page into a cell.
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    async def attempt(
        self,
        request: Request,
        user: SessionUser,
        template: str,
        context: dict[str, Any],
        work: Callable[[], T],
        *,
        keys: tuple[str, str] = ("problem", "errors"),
    ) -> T | Response:
        """``work`` (reading a form, then the engine's command) in a worker thread, or the form again.

        A field the form refuses comes back named (400), a command the engine
        refuses in its words with its status; ``keys`` are the context's names
        for the message and the per-field reasons.
        """
        problem, errors = keys
        try:
            return await run_in_threadpool(work)
        except FormError as exc:
            context.update({problem: str(exc), errors: {exc.field: exc.reason}})
            return self.page(request, template, user, context, status_code=400)
        except EngineError as exc:
            context.update({problem: exc.detail.strip("[]")})
            return self.page(request, template, user, context, status_code=exc.status)

    def refused(self, request: Request, user: SessionUser, text: str, status: int) -> Response:
        if request.method == "POST" and request.headers.get("HX-Target") in DIALOG_TARGETS:
            # Sent by a form in a dialog (Save, Test): the refusal goes where the form shows its
            # problems, and the form stays as the user left it. (A form that could not be loaded
            # has no such place: the dialog then opens the form's page, which says why.)
            response = self.page(
                request, "_refused.html", user, {"message": text}, status_code=status
            )
            response.headers["HX-Retarget"] = "#problem"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return self.page(request, "refused.html", user, {"message": text}, status_code=status)

    @staticmethod
    def flash(request: Request, kind: str, text: str) -> None:
        request.session["flash"] = {"kind": kind, "text": text}

    def page(
        self,
        request: Request,
        template: str,
        user: SessionUser | None,
        context: dict[str, Any],
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        flash = request.session.pop("flash", None) if user is not None else None
        job_id = request.query_params.get("job")
        job = self.jobs.get(job_id) if job_id and user is not None else None
        full = {
            "user": user,
            "flash": flash,
            "csrf_field": CSRF_FIELD,
            "csrf_header": CSRF_HEADER,
            "path": request.url.path,
            "job": job,
            **context,
        }
        return self.templates.TemplateResponse(request, template, full, status_code=status_code)


def text_fields(form: Any) -> dict[str, str]:
    """A form's text fields (an uploaded file is no field of ours), each value capped."""
    return {key: value[:4096] for key, value in form.multi_items() if isinstance(value, str)}


class _Page(Protocol):
    kit: Kit


P = TypeVar("P", bound=_Page)
PageMethod = Callable[[P, Request, SessionUser], Awaitable[Response]]


def viewer(method: PageMethod[P]) -> Callable[[P, Request], Awaitable[Response]]:
    """A page any logged-in user may see; anyone else is sent to the login page."""

    @functools.wraps(method)
    async def page(self: P, request: Request) -> Response:
        user = await self.kit.user(request)
        if user is None:
            return self.kit.to_login(request)
        return await method(self, request, user)

    return page


def changer(method: PageMethod[P]) -> Callable[[P, Request], Awaitable[Response]]:
    """An action only an admin may take, and only with the session's CSRF token."""

    @functools.wraps(method)
    async def action(self: P, request: Request) -> Response:
        user, refusal = await self.kit.changer(request)
        if user is None:
            return refusal
        try:
            return await method(self, request, user)
        finally:
            # What the hosts hold may have changed: the next page asks them rather than showing what they said.
            self.kit.engine.forget_host_answers()

    return action
