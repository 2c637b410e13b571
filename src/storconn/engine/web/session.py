"""Who is logged in to the web admin, and the CSRF token of their session.

A web session is an engine SSO session (``Engine.open_session``): its token
is stored in the engine's database by digest only, so any engine process on
that database accepts it, a logout ends it in all of them at once, and a
role changed or a user removed takes effect on the next click. The browser
keeps the token in a cookie signed with a key derived from the engine's key
file (Starlette's SessionMiddleware), ``SameSite=Strict`` and ``HttpOnly``;
the CSRF token beside it, checked on every request that changes something,
covers what SameSite does not (older browsers, same-site subdomains).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from storconn.engine.model import Role, User

if TYPE_CHECKING:
    from storconn.engine.service import Engine

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SessionUser",
    "check_csrf",
    "end_session",
    "session_user",
    "start_session",
]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class SessionUser:
    name: str
    role: Role
    csrf_token: str

    @property
    def can_change(self) -> bool:
        return self.role is Role.ADMIN


async def start_session(request: Request, engine: Engine, user: User, ttl: float) -> None:
    token = await run_in_threadpool(engine.open_session, user, ttl)
    # A new session on login, never the one the browser came with (session fixation).
    request.session.clear()
    request.session.update({"token": token, "csrf": secrets.token_urlsafe(32)})


async def end_session(request: Request, engine: Engine) -> None:
    token = request.session.get("token")
    request.session.clear()
    if isinstance(token, str):
        await run_in_threadpool(engine.close_session, token)


async def session_user(request: Request, engine: Engine) -> SessionUser | None:
    """The logged-in user, or None: no session, or one the engine no longer knows (expired, ended)."""
    token, csrf = request.session.get("token"), request.session.get("csrf")
    if not isinstance(token, str) or not isinstance(csrf, str):
        request.session.clear()
        return None
    user = await run_in_threadpool(engine.session_user, token)
    if user is None:
        request.session.clear()
        return None
    return SessionUser(name=user.name, role=user.role, csrf_token=csrf)


async def check_csrf(request: Request, user: SessionUser) -> bool:
    """Whether the request carries the session's CSRF token (form field or htmx header)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), user.csrf_token.encode())
