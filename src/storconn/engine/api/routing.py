"""What every route shares: the fault-mapping route class, and ``Ctx``, a request's toolbox.

``FaultRoute`` turns every exception a route (or its dependencies) raises
into a fault document: ``EngineError`` subclasses with their own status,
FastAPI's and Starlette's HTTP errors with theirs, and anything unexpected
into a 500 that says nothing about the internals (the traceback goes to the
log). A client never sees a bare 500 page or a traceback.

``Ctx`` gives a route the engine (its blocking calls run in a worker
thread), the ``href`` prefix, the checked body, the query parameters
(``max``, ``force``, ``host``, ``async``, ``search``, ``follow``) and the
answers: 200, 201 with ``Location``, 202 for ``?async=true`` or
``Expect: 202-accepted``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from storconn.engine.errors import EngineError, NotFound, Unauthorized

from . import encode
from .auth import REALM, Authenticator
from .document import Document
from .media import fault_response, read_document, render
from .port import EnginePort
from .schema import BodyError, Fields, Schema

log = logging.getLogger(__name__)

API_PREFIX = "/ovirt-engine/api"
T = TypeVar("T")


@dataclass(slots=True)
class ApiState:
    """What the app keeps in ``app.state.storconn_api``."""

    engine: EnginePort
    auth: Authenticator
    max_body: int
    instance_id: str


class HttpFault(EngineError):
    """An HTTP-level error (unknown path, wrong method) as a fault."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__("HTTP_" + str(status), message)
        self.status = status
        self.reason = reason


def http_fault(request: Request, exc: HTTPException) -> Response:
    path = request.url.path
    if exc.status_code == 404:
        error = HttpFault(404, "Not Found", f"No resource at {path}.")
    elif exc.status_code == 405:
        error = HttpFault(405, "Method Not Allowed", f"{request.method} is not allowed on {path}.")
    else:
        error = HttpFault(exc.status_code, str(exc.detail or "Error"), str(exc.detail or "Request failed."))
    return fault_response(request, error, headers=dict(exc.headers or {}))


def engine_fault(request: Request, exc: EngineError) -> Response:
    headers = {"WWW-Authenticate": REALM} if isinstance(exc, Unauthorized) else None
    return fault_response(request, exc, headers=headers)


async def guard(request: Request, call: Callable[[], Awaitable[Response]]) -> Response:
    """Run ``call``; whatever it raises becomes a fault answer."""
    try:
        return await call()
    except EngineError as exc:
        return engine_fault(request, exc)
    except HTTPException as exc:
        return http_fault(request, exc)
    except RequestValidationError as exc:
        names = ["/".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
        return engine_fault(request, BodyError(f"Invalid request parameters: {', '.join(names)}.",
                                               element=names[0] if names else None))
    except ClientDisconnect:
        return engine_fault(request, BodyError("The client went away before the body was read."))
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        error = HttpFault(500, "Internal Server Error", "An unexpected error occurred; see the engine's log.")
        return fault_response(request, error)


class FaultRoute(APIRoute):
    """An APIRoute whose every failure is answered as a fault document."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            return await guard(request, lambda: handler(request))

        return guarded


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class Ctx:
    """One request's toolbox: engine calls, body, query parameters and answers."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state: ApiState = request.app.state.storconn_api
        self.engine: EnginePort = self.state.engine
        self.base = request.scope.get("root_path", "").rstrip("/") + API_PREFIX
        # Read now: a bad ?async must be refused before the command changes anything.
        self.flag("async")

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking engine call in a worker thread."""
        return await run_in_threadpool(function, *args, **kwargs)

    async def body(self, schema: Schema) -> Fields:
        fields = await read_document(self.request, schema, self.state.max_body)
        assert fields is not None
        return fields

    async def optional_body(self, schema: Schema) -> Fields | None:
        return await read_document(self.request, schema, self.state.max_body, optional=True)

    # --- query parameters ---

    def text(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        return value if value else None

    def flag(self, name: str) -> bool:
        value = self.request.query_params.get(name)
        if value is None or value == "":
            return False
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise BodyError(f"Query parameter '{name}': {value!r} is not a boolean (true or false).",
                        element=f"?{name}", key="INVALID_VALUE")

    def max(self) -> int | None:
        """``?max=N``: None when absent or negative (oVirt's -1 means no limit)."""
        value = self.request.query_params.get("max")
        if value is None or value == "":
            return None
        try:
            number = int(value.strip())
        except ValueError:
            raise BodyError(f"Query parameter 'max': {value!r} is not an integer.", element="?max",
                            key="INVALID_VALUE") from None
        if number > _MAX_LIMIT:
            raise BodyError(f"Query parameter 'max': {value!r} is larger than {_MAX_LIMIT}.",
                            element="?max", key="INVALID_VALUE")
        return None if number < 0 else number

    def wants_async(self, *, body_async: bool = False) -> bool:
        expect = self.request.headers.get("expect", "").lower()
        return body_async or self.flag("async") or "202-accepted" in expect

    def follows(self, name: str) -> bool:
        follow = self.request.query_params.get("follow", "")
        return name in {part.strip() for part in follow.split(",")}

    # --- answers ---

    def ok(self, document: Document, *, status: int = 200) -> Response:
        return render(self.request, document, status=status)

    def created(self, document: Document, href: str, *, body_async: bool = False) -> Response:
        """201 with an absolute ``Location``, or 202 when the client asked for an async answer."""
        status = 202 if self.wants_async(body_async=body_async) else 201
        location = f"{self.request.base_url.scheme}://{self.request.base_url.netloc}{href}"
        return render(self.request, document, status=status, headers={"Location": location})

    def action_done(self, *, body_async: bool = False, description: str | None = None) -> Response:
        status = 202 if self.wants_async(body_async=body_async) else 200
        return render(self.request, encode.action(description=description), status=status)


_MAX_LIMIT = 2**31 - 1  # what every database's LIMIT takes


def not_found(what: str, entity_id: str) -> NotFound:
    return NotFound("ENTITY_NOT_FOUND", f"{what} {entity_id} was not found.")
