"""The agent's JSON-RPC 2.0 application over HTTP.

``POST /jsonrpc`` (single calls and batches), ``GET /healthz`` and
``GET /metrics``. Every failure of a request becomes a JSON-RPC error object
(or, for transport problems, an HTTP status): the agent keeps serving
whatever a client sends.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storconn.connection import InvalidParameter, StorconnError

from .service import MAX_WAIT, Agent

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024

# JSON-RPC 2.0 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcquireParams(_Params):
    conRefArgs: dict[str, Any]


class ReleaseParams(_Params):
    # Entries are judged one by one by the registry: a number among the ids
    # fails that entry (1000), not the whole release.
    refIDs: list[Any] = Field(default_factory=list)
    prefixes: list[Any] = Field(default_factory=list)


class StatusesParams(_Params):
    refIDs: list[Any] | None = None


class WaitParams(_Params):
    refIDs: list[Any]
    timeout: float = Field(ge=0, le=MAX_WAIT)


class ManageParams(_Params):
    uri: str
    connectionID: str


class UnmanageParams(_Params):
    connectionID: str


class DiscoverParams(_Params):
    hostname: str = Field(min_length=1)
    port: int = Field(default=3260, ge=1, le=65535)
    iface: str = "default"


class _Method:
    def __init__(self, params: type[_Params], call: Callable[[Any], Any]) -> None:
        self.params = params
        self.call = call
        self.names = list(params.model_fields)


def _methods(agent: Agent) -> dict[str, _Method]:
    return {
        "ConnectionRefs.acquire": _Method(AcquireParams, lambda p: agent.acquire(p.conRefArgs)),
        "ConnectionRefs.release": _Method(ReleaseParams, lambda p: agent.release(p.refIDs, p.prefixes)),
        "ConnectionRefs.statuses": _Method(StatusesParams, lambda p: agent.statuses(p.refIDs)),
        "ConnectionRefs.wait": _Method(WaitParams, lambda p: agent.wait(p.refIDs, p.timeout)),
        "StorageConnection.manage": _Method(ManageParams, lambda p: agent.manage(p.uri, p.connectionID)),
        "StorageConnection.unmanage": _Method(UnmanageParams, lambda p: agent.unmanage(p.connectionID)),
        "StorageConnection.list": _Method(StatusesParams, lambda p: agent.statuses(None)),
        "Iscsi.discover": _Method(DiscoverParams, lambda p: agent.discover(p.hostname, p.port, p.iface)),
    }


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.as_object()}


def _validation_message(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    field = ".".join(["params", *(str(part) for part in first["loc"])])
    return field, first["msg"]


class Dispatcher:
    """Turns one decoded JSON-RPC request object into a response object (or None for a notification)."""

    def __init__(self, agent: Agent) -> None:
        self._methods = _methods(agent)
        self._metrics = agent.metrics

    def handle(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error_response(None, RpcError(INVALID_REQUEST, "a request must be a JSON object"))
        request_id = request.get("id")
        is_notification = "id" not in request
        try:
            result = self._dispatch(request)
        except RpcError as error:
            self._metrics.requests.labels(str(request.get("method"))[:64], "error").inc()
            return None if is_notification else _error_response(request_id, error)
        self._metrics.requests.labels(request["method"], "ok").inc()
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _dispatch(self, request: dict[str, Any]) -> Any:
        if request.get("jsonrpc") != "2.0":
            raise RpcError(INVALID_REQUEST, 'field "jsonrpc" must be "2.0"')
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, (str, int, float)):
            raise RpcError(INVALID_REQUEST, 'field "id" must be a string, a number or null')
        name = request.get("method")
        if not isinstance(name, str):
            raise RpcError(INVALID_REQUEST, 'field "method" must be a string')
        method = self._methods.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"method {name!r} not found", {"methods": sorted(self._methods)})
        raw = request.get("params", {})
        if isinstance(raw, list):
            if len(raw) > len(method.names):
                raise RpcError(INVALID_PARAMS, f"{name} takes at most {len(method.names)} positional params")
            raw = dict(zip(method.names, raw))
        if not isinstance(raw, dict):
            raise RpcError(INVALID_PARAMS, 'field "params" must be an object or an array')
        try:
            params = method.params.model_validate(raw)
        except ValidationError as exc:
            field, reason = _validation_message(exc)
            raise RpcError(INVALID_PARAMS, f"{field}: {reason}", {"field": field}) from exc
        try:
            return method.call(params)
        except InvalidParameter as exc:
            raise RpcError(INVALID_PARAMS, exc.message, {"field": exc.field, "code": int(exc.code)}) from exc
        except StorconnError as exc:
            raise RpcError(SERVER_ERROR, exc.message, {"code": int(exc.code)}) from exc
        except Exception as exc:
            log.exception("%s failed", name)
            raise RpcError(INTERNAL_ERROR, f"{name} failed: internal error") from exc


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _json(payload: Any, status: int = 200) -> Response:
    return Response(_dumps(payload), status_code=status, media_type="application/json")


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY (read no further than that)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(agent: Agent, *, token: str) -> Starlette:
    """The ASGI application. Plain Starlette: three routes need no more, and
    FastAPI's import (its OpenAPI models) would cost a third of the start-up."""
    dispatcher = Dispatcher(agent)
    expected = f"Bearer {token}".encode()

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok", "references": agent.reference_count()})

    async def metrics(request: Request) -> Response:
        agent.metrics.references.set(agent.reference_count())
        for state, count in agent.target_counts().items():
            agent.metrics.targets.labels(state).set(count)
        return Response(agent.metrics.render(), media_type="text/plain; version=0.0.4")

    async def jsonrpc(request: Request) -> Response:
        supplied = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(supplied, expected):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        body = await _read_body(request)
        if body is None:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _json(_error_response(None, RpcError(PARSE_ERROR, f"not valid JSON: {exc}")))
        if isinstance(decoded, list):
            if not decoded:
                return _json(_error_response(None, RpcError(INVALID_REQUEST, "an empty batch")))
            answers = await run_in_threadpool(lambda: [dispatcher.handle(r) for r in decoded])
            present = [answer for answer in answers if answer is not None]
            return _json(present) if present else Response(status_code=204)
        answer = await run_in_threadpool(dispatcher.handle, decoded)
        return _json(answer) if answer is not None else Response(status_code=204)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/jsonrpc", jsonrpc, methods=["POST"]),
        ]
    )
