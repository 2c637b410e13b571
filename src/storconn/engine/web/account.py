"""Logging in and out of the web admin."""

from __future__ import annotations


from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from storconn.engine.errors import Unauthorized

from .kit import Kit
from .session import check_csrf, end_session, start_session


class AccountPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    async def login_form(self, request: Request) -> Response:
        if await self.kit.user(request) is not None:
            return RedirectResponse("/storage", status_code=303)
        return self.kit.page(request, "login.html", None, {"error": None, "username": ""})

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        try:
            user = await run_in_threadpool(self.kit.engine.authenticate, username, password)
        except Unauthorized as exc:
            context = {"error": exc.message, "username": username}
            return self.kit.page(request, "login.html", None, context, status_code=401)
        await start_session(request, self.kit.engine, user, self.kit.session_ttl)
        return RedirectResponse("/storage", status_code=303)

    async def logout(self, request: Request) -> Response:
        user = await self.kit.user(request)
        if user is not None and await check_csrf(request, user):
            await end_session(request, self.kit.engine)
        return RedirectResponse("/login", status_code=303)

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/storage", status_code=303)


def account_routes(kit: Kit) -> list[Route]:
    pages = AccountPages(kit)
    return [
        Route("/", pages.home),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
    ]
