"""From one decoded JSON-RPC request object to its response object.

The methods, their params models, and the translation of the agent's
exceptions into JSON-RPC errors. Short calls run in the server's thread pool
(they may wait on SQLite's fsync); ``ConnectionRefs.wait`` awaits in the
event loop and holds no thread (see ``waits``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from storconn.connection import InvalidParameter, StorconnError

from .attachment_requests import AttachmentConflict, parse_request
from .metrics import UNKNOWN_METHOD
from .rpc_params import (
    AcquireParams,
    DiscoverParams,
    ManageParams,
    NoParams,
    ReleaseParams,
    StatusesParams,
    UnmanageParams,
    VolumesAttachParams,
    VolumesConnectionParams,
    VolumesListParams,
    WaitParams,
)
from .service import Agent
from .waits import Waits
from .write_batch import WriteBatcher

log = logging.getLogger(__name__)

# JSON-RPC 2.0 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000


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


def error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.as_object()}


@dataclass(frozen=True, slots=True)
class _Method:
    params: type[BaseModel]
    call: Callable[[Any], Any]  # blocking: runs in the thread pool
    wait: Callable[[Any], Awaitable[Any]] | None = None  # or this, awaited in the loop
    write: Callable[[Any], Awaitable[Any]] | None = None  # or this: through the write batcher, in order

    @property
    def names(self) -> list[str]:
        return list(self.params.model_fields)


# Threads for the short blocking calls. A pool of the dispatcher's own rather
# than anyio's: plain run_in_executor costs less per call than to_thread's
# limiter and cancel scopes, and nothing else competes for these threads.
POOL_SIZE = 32


def _methods(agent: Agent, waits: Waits, pool: ThreadPoolExecutor, writer: WriteBatcher) -> dict[str, _Method]:
    async def wait(p: WaitParams) -> Any:
        await waits.wait(p.refIDs, p.timeout)
        return await asyncio.get_running_loop().run_in_executor(pool, agent.statuses, p.refIDs)

    async def volumes_attach(p: VolumesAttachParams) -> Any:
        # One call: acquire (a commit, in the pool), wait without a thread, then the device (in the pool).
        request = parse_request(p.connectionID, p.connInfo, p.mode, p.deviceType, p.timeout)
        loop = asyncio.get_running_loop()
        plan = await loop.run_in_executor(pool, agent.volumes.begin, request)
        try:
            if plan.answer is None:
                await waits.wait(plan.request.ref_ids, plan.remaining())
        except BaseException:
            # Cancelled (the client or the server went away): roll back in the pool, unawaited.
            loop.run_in_executor(pool, agent.volumes.abandon, plan)
            raise
        return await loop.run_in_executor(pool, agent.volumes.finish, plan)

    return {
        "Volumes.attach": _Method(VolumesAttachParams, lambda p: None, volumes_attach),
        "Volumes.detach": _Method(VolumesConnectionParams, lambda p: agent.volumes.detach(p.connectionID)),
        "Volumes.list": _Method(VolumesListParams, lambda p: agent.volumes.listed()),
        "Volumes.resize": _Method(VolumesConnectionParams, lambda p: agent.volumes.resize(p.connectionID)),
        "ConnectionRefs.acquire": _Method(
            AcquireParams, lambda p: agent.acquire(p.conRefArgs), write=lambda p: writer.acquire(p.conRefArgs)
        ),
        "ConnectionRefs.release": _Method(
            ReleaseParams,
            lambda p: agent.release(p.refIDs, p.prefixes),
            write=lambda p: writer.release(p.refIDs, p.prefixes),
        ),
        "ConnectionRefs.statuses": _Method(StatusesParams, lambda p: agent.statuses(p.refIDs)),
        "ConnectionRefs.wait": _Method(WaitParams, lambda p: None, wait),
        "StorageConnection.manage": _Method(ManageParams, lambda p: agent.manage(p.uri, p.connectionID)),
        "StorageConnection.unmanage": _Method(UnmanageParams, lambda p: agent.unmanage(p.connectionID)),
        "StorageConnection.list": _Method(StatusesParams, lambda p: agent.statuses(None)),
        "Iscsi.discover": _Method(DiscoverParams, lambda p: agent.discover(p.hostname, p.port, p.iface)),
        "Iscsi.devices": _Method(NoParams, lambda p: agent.iscsi_devices()),
    }


def _validation_message(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    field = ".".join(["params", *(_printable(str(part)) for part in first["loc"])])
    return field, first["msg"]


def _printable(name: str) -> str:
    """A client's field name as it may be quoted back: short, and never a lone surrogate."""
    text = name[:64].encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(name) <= 64 else text + "..."


def _valid_id(request_id: object) -> bool:
    """JSON-RPC ids: a string, a number or null. Not a boolean, not NaN or infinite
    (they have no JSON form to echo), not text that cannot be encoded."""
    if request_id is None or type(request_id) is int:
        return True
    if type(request_id) is float:
        return math.isfinite(request_id)
    if type(request_id) is str:
        try:
            request_id.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    return False


class Dispatcher:
    """Turns one decoded JSON-RPC request object into a response object (or None for a notification)."""

    def __init__(self, agent: Agent, waits: Waits) -> None:
        self._pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="storconn-rpc")
        self._methods = _methods(agent, waits, self._pool, WriteBatcher(agent))
        self._metrics = agent.metrics
        self._metrics.known_methods(self._methods)

    def is_wait(self, request: object) -> bool:
        """Whether ``request`` is a wait, which a batch runs alongside its other calls."""
        name = request.get("method") if isinstance(request, dict) else None
        if not isinstance(name, str):  # a list or an object as a name is not hashable
            return False
        method = self._methods.get(name)
        return method is not None and method.wait is not None

    async def handle(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return error_response(None, RpcError(INVALID_REQUEST, "a request must be a JSON object"))
        request_id = request.get("id")
        if not _valid_id(request_id):
            # Echoing it could emit invalid JSON (NaN) or text the client cannot decode.
            return error_response(
                None, RpcError(INVALID_REQUEST, 'field "id" must be a string, a finite number or null')
            )
        is_notification = "id" not in request
        name = request.get("method")
        try:
            result = await self._dispatch(request)
        except RpcError as error:
            self._metrics.rpc_done(name, ok=False)
            return None if is_notification else error_response(request_id, error)
        self._metrics.rpc_done(name, ok=True)
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _dispatch(self, request: dict[str, Any]) -> Any:
        if request.get("jsonrpc") != "2.0":
            raise RpcError(INVALID_REQUEST, 'field "jsonrpc" must be "2.0"')
        name = request.get("method")
        if not isinstance(name, str):
            raise RpcError(INVALID_REQUEST, 'field "method" must be a string')
        method = self._methods.get(name)
        if method is None:
            # The name is not quoted back: it is the client's text, of any length and content.
            raise RpcError(METHOD_NOT_FOUND, "method not found", {"methods": sorted(self._methods)})
        params = self._params(name, method, request.get("params", {}))
        try:
            if method.wait is not None:
                return await method.wait(params)
            if method.write is not None:
                return await method.write(params)
            return await asyncio.get_running_loop().run_in_executor(self._pool, method.call, params)
        except InvalidParameter as exc:
            raise RpcError(INVALID_PARAMS, exc.message, {"field": exc.field, "code": int(exc.code)}) from exc
        except AttachmentConflict as exc:
            raise RpcError(SERVER_ERROR, exc.message, {"code": int(exc.code), "field": exc.field}) from exc
        except StorconnError as exc:
            raise RpcError(SERVER_ERROR, exc.message, {"code": int(exc.code)}) from exc
        except Exception as exc:
            log.exception("%s failed", name)
            raise RpcError(INTERNAL_ERROR, f"{name} failed: internal error") from exc

    @staticmethod
    def _params(name: str, method: _Method, raw: object) -> BaseModel:
        if isinstance(raw, list):
            if len(raw) > len(method.names):
                raise RpcError(INVALID_PARAMS, f"{name} takes at most {len(method.names)} positional params")
            raw = dict(zip(method.names, raw, strict=False))
        if not isinstance(raw, dict):
            raise RpcError(INVALID_PARAMS, 'field "params" must be an object or an array',
                           {"field": "params"})
        try:
            return method.params.model_validate(raw)
        except ValidationError as exc:
            field, reason = _validation_message(exc)
            raise RpcError(INVALID_PARAMS, f"{field}: {reason}", {"field": field}) from exc
        except RecursionError as exc:
            raise RpcError(INVALID_PARAMS, "params are nested too deeply", {"field": "params"}) from exc


__all__ = ["UNKNOWN_METHOD", "Dispatcher", "RpcError", "error_response"]
