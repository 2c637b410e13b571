"""Who is logged in to the web admin, for how long, and the CSRF token of their session.

The session lives in a cookie signed with a key derived from the engine's key
file (Starlette's SessionMiddleware), so engine processes sharing the key
file share sessions. ``SameSite=Strict`` keeps other sites' pages from
sending it; the CSRF token, checked on every request that changes
something, covers what SameSite does not (older browsers, same-site
subdomains). A session idle longer than its time-to-live is over.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request

from storconn.engine.model import Role

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


def start_session(request: Request, name: str, role: Role) -> None:
    # A new session on login, never the one the browser came with (session fixation).
    request.session.clear()
    request.session.update(
        {"user": name, "role": role.value, "csrf": secrets.token_urlsafe(32), "seen": time.time()}
    )


def end_session(request: Request) -> None:
    request.session.clear()


def session_user(request: Request, ttl: float) -> SessionUser | None:
    """The logged-in user, or None when there is none or the session has been idle longer than ``ttl``."""
    session = request.session
    try:
        name, role, csrf, seen = (
            session["user"],
            Role(session["role"]),
            session["csrf"],
            float(session["seen"]),
        )
    except (KeyError, ValueError, TypeError):
        session.clear()
        return None
    now = time.time()
    if now - seen > ttl:
        session.clear()
        return None
    # Refreshed at most once a minute: every poll would otherwise re-send the cookie.
    if now - seen > 60:
        session["seen"] = now
    return SessionUser(name=str(name), role=role, csrf_token=str(csrf))


async def check_csrf(request: Request, user: SessionUser) -> bool:
    """Whether the request carries the session's CSRF token (form field or htmx header)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), user.csrf_token.encode())
