"""``create_app(engine)``: the FastAPI application serving oVirt's REST API and SSO endpoints."""

from __future__ import annotations

import re
import uuid

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from storconn.engine import actor
from storconn.engine.model import User

from .auth import DEFAULT_TOKEN_TTL, Authenticator, EngineTokens, Tokens, sso_router
from .media import DEFAULT_MAX_BODY
from .port import EnginePort
from .routes import ROOT_ROUTER, ROUTERS
from .routing import API_PREFIX, ApiState, engine_fault, guard, http_fault
from .schema import BodyError


class CollapseSlashes:
    """``/ovirt-engine/api//storageconnections/`` is ``/ovirt-engine/api/storageconnections``.

    The SDK joins its base URL and a path with a ``/``, so a base URL given
    with a trailing slash doubles it; oVirt's server accepts that, and so
    does this one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if "//" in path or (len(path) > 1 and path.endswith("/")):
                scope = dict(scope, path=re.sub("/{2,}", "/", path).rstrip("/") or "/")
                raw = scope.get("raw_path")
                if isinstance(raw, bytes):
                    scope["raw_path"] = re.sub(b"/{2,}", b"/", raw).rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class RefuseControlCharacters:
    """A path or query parameter with a control character (``%00``...) is a 400 fault.

    No id, name or search can hold one (names are checked on add, ids are
    generated), and PostgreSQL refuses a NUL in any text: looked up as it
    came, ``/storageconnections/%00`` answered 500 there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            where = None
            if _CONTROL.search(scope["path"]):
                where = "path"
            else:
                for name, value in request.query_params.multi_items():
                    if _CONTROL.search(name) or _CONTROL.search(value):
                        where = "?" + _CONTROL.sub("?", name)[:40]
                        break
            if where is not None:
                shown = "The request path" if where == "path" else f"The query parameter '{where[1:]}'"
                error = BodyError(
                    f"{shown} contains characters that are not allowed.", element=where, key="INVALID_VALUE"
                )
                await engine_fault(request, error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


async def authorize(request: Request) -> User:
    """The dependency of every API route: the caller, allowed to use this method (else 401/403)."""
    state: ApiState = request.app.state.storconn_api
    user = await state.auth.authorize(request)
    # The events the request's commands record name this user (and oVirt's Correlation-Id).
    correlation = request.headers.get("correlation-id") or request.query_params.get("correlation_id")
    actor.set_current(user.name, correlation)
    return user


def create_app(
    engine: EnginePort,
    *,
    token_ttl: float = DEFAULT_TOKEN_TTL,
    max_body: int = DEFAULT_MAX_BODY,
    tokens: Tokens | None = None,
    web: ASGIApp | None = None,
) -> FastAPI:
    """The API for ``engine``: ``/ovirt-engine/api/...`` and the SSO endpoints.

    The SSO endpoints are ``/ovirt-engine/sso/oauth/token`` and
    ``/ovirt-engine/services/sso-logout``.

    ``web`` (the web admin, ``storconn.engine.web.create_web_app``) is mounted
    at ``/`` behind the API's routes, which match first.

    Tokens live in the engine's database (any engine process on it accepts
    them) for ``token_ttl`` seconds after their last use, unless ``tokens``
    says otherwise (``TokenStore``: this app's memory); request bodies larger
    than ``max_body`` bytes are refused with 413.
    """
    app = FastAPI(
        title="storconn engine API",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    auth = Authenticator(engine, tokens if tokens is not None else EngineTokens(engine, token_ttl))
    app.state.storconn_api = ApiState(engine=engine, auth=auth, max_body=max_body, instance_id=str(uuid.uuid4()))
    app.include_router(sso_router(auth))
    secured = [Depends(authorize)]
    app.include_router(ROOT_ROUTER, dependencies=secured)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, dependencies=secured)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return http_fault(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        async def reraise() -> Response:
            raise exc

        return await guard(request, reraise)

    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(CollapseSlashes)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    if web is not None:
        app.mount("/", web)
    return app
