"""``create_web_app(engine, session_key=...)``: the web admin, server-rendered on the engine's services.

Pages call the Engine in process (in a worker thread: its calls block), never
the REST API. One module a noun (account, storage, ...), each giving its
routes; ``kit.py`` holds what they share.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from storconn.engine.service import Engine

from .account import account_routes
from .clusters import cluster_routes
from .connections import connection_routes
from .datacenters import data_center_routes
from .events import event_routes
from .hosts import host_routes
from .kit import HERE, Kit
from .storage import storage_routes

__all__ = ["DEFAULT_SESSION_TTL", "create_web_app"]

DEFAULT_SESSION_TTL = 30 * 60.0
SESSION_COOKIE = "storconn_session"


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
    kit = Kit(engine, session_ttl)
    routes: list[BaseRoute] = [
        *account_routes(kit),
        *storage_routes(kit),
        *connection_routes(kit),
        *data_center_routes(kit),
        *cluster_routes(kit),
        *host_routes(kit),
        *event_routes(kit),
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
