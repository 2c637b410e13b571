"""The agent's JSON-RPC 2.0 application over HTTP.

``POST /jsonrpc`` (single calls and batches), ``GET /healthz`` and
``GET /metrics``. Every failure of a request becomes a JSON-RPC error object
(or, for transport problems, an HTTP 4xx status): the agent keeps serving
whatever a client sends, and never answers 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .rpc_dispatch import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, Dispatcher, RpcError, error_response
from .rpc_params import MAX_BATCH
from .service import Agent
from .waits import Waits

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024
# A client that sends its body slower than this holds a connection and
# nothing else (no thread), but still not for ever.
BODY_TIMEOUT = 30.0  # seconds


class DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"a": X, "a": Y} would silently drop X (an acquire the client believes it made).
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"duplicate key {_printable(key)!r} in an object")
            seen.add(key)
    return result


def _printable(text: str) -> str:
    return text[:64].encode("utf-8", "backslashreplace").decode("utf-8")


_decoder = json.JSONDecoder(object_pairs_hook=_refuse_duplicates)


def decode(body: bytes) -> Any:
    """The request's JSON, or RpcError(-32700) saying why not."""
    try:
        return _decoder.decode(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RpcError(PARSE_ERROR, f"not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    except DuplicateKey as exc:
        raise RpcError(PARSE_ERROR, f"not acceptable JSON: {exc}") from exc
    except RecursionError as exc:
        raise RpcError(PARSE_ERROR, "not acceptable JSON: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise RpcError(PARSE_ERROR, f"not valid JSON: {str(exc)[:200]}") from exc


def encode(payload: Any) -> bytes:
    """Strict JSON: NaN and infinities have no JSON form, so they fail here rather than reach a client."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        body = encode(payload)
    except (ValueError, TypeError, RecursionError):
        log.exception("an answer could not be encoded as JSON")
        body = encode(error_response(None, RpcError(INTERNAL_ERROR, "the answer could not be encoded")))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _http_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": message}, status, headers)


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


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class JsonRpcEndpoint:
    """``POST /jsonrpc``: token, transport checks, then one call or a batch."""

    def __init__(self, dispatcher: Dispatcher, token: str) -> None:
        self._dispatcher = dispatcher
        self._expected = f"Bearer {token}".encode()

    async def endpoint(self, request: Request) -> Response:
        try:
            return await self._serve(request)
        except Exception:  # the last line of "never a 500": say so in the log, answer JSON-RPC
            log.exception("a JSON-RPC request failed unexpectedly")
            return _json(error_response(None, RpcError(INTERNAL_ERROR, "internal error")))

    async def _serve(self, request: Request) -> Response:
        supplied = request.headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(supplied, self._expected):
            return _http_error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        if not _is_json(request.headers.get("content-type", "")):
            return _http_error(415, "the body must be application/json")
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await _read_body(request)
        except TimeoutError:
            return _http_error(408, f"the body did not arrive within {BODY_TIMEOUT:g} s")
        if body is None:
            return _http_error(413, f"body larger than {MAX_BODY} bytes")
        try:
            decoded = decode(body)
        except RpcError as error:
            return _json(error_response(None, error))
        if isinstance(decoded, list):
            if any(self._dispatcher.is_wait(call) for call in decoded):
                return await _unless_disconnected(request, self._batch(decoded))
            return await self._batch(decoded)
        if self._dispatcher.is_wait(decoded):
            return await _unless_disconnected(request, self._single(decoded))
        return await self._single(decoded)

    async def _single(self, call: Any) -> Response:
        answer = await self._dispatcher.handle(call)
        return _json(answer) if answer is not None else Response(status_code=204)

    async def _batch(self, calls: list[Any]) -> Response:
        if not calls:
            return _json(error_response(None, RpcError(INVALID_REQUEST, "an empty batch")))
        if len(calls) > MAX_BATCH:
            return _json(error_response(
                None, RpcError(INVALID_REQUEST, f"a batch of {len(calls)} calls; at most {MAX_BATCH}")
            ))
        # The other calls run in order (an acquire then a release of the same
        # id mean what they say); waits only read, so they run alongside
        # rather than each holding up the rest of the batch for its timeout.
        answers: list[asyncio.Future[dict[str, Any] | None]] = []
        for call in calls:
            if self._dispatcher.is_wait(call):
                answers.append(asyncio.ensure_future(self._dispatcher.handle(call)))
            else:
                done: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
                done.set_result(await self._dispatcher.handle(call))
                answers.append(done)
        present = [answer for answer in await asyncio.gather(*answers) if answer is not None]
        return _json(present) if present else Response(status_code=204)


async def _unless_disconnected(request: Request, answer: Coroutine[Any, Any, Response]) -> Response:
    """``answer``, given up when the client goes away: a wait whose client left
    would otherwise stay registered (and re-checked) until its timeout."""
    answering = asyncio.ensure_future(answer)
    watching = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait([answering, watching], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        answering.cancel()
        raise
    finally:
        watching.cancel()
    if not answering.done():
        answering.cancel()
        return Response(status_code=499)  # nobody reads it; nginx's "client closed request"
    return answering.result()


async def _disconnected(request: Request) -> None:
    """Return when the client has gone. The body has been read, so nothing but
    the disconnect should come; anything else is skipped, not taken for it."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(agent: Agent, *, token: str) -> Starlette:
    """The ASGI application. Plain Starlette: three routes need no more, and
    FastAPI's import (its OpenAPI models) would cost a third of the start-up."""
    waits = Waits(agent)
    dispatcher = Dispatcher(agent, waits)

    async def healthz(request: Request) -> Response:
        try:
            return _json({"status": "ok", "references": agent.reference_count()})
        except Exception as exc:  # unhealthy is an answer, not a 500
            log.exception("healthz failed")
            return _json({"status": "failing", "error": type(exc).__name__}, 503)

    async def metrics(request: Request) -> Response:
        try:
            agent.metrics.references.set(agent.reference_count())
            for state, count in agent.target_counts().items():
                agent.metrics.targets.labels(state).set(count)
            agent.metrics.waits.set(waits.in_flight())
            return Response(agent.metrics.render(), media_type="text/plain; version=0.0.4")
        except Exception as exc:
            log.exception("metrics failed")
            return _json({"error": f"metrics failed: {type(exc).__name__}"}, 503)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/jsonrpc", JsonRpcEndpoint(dispatcher, token).endpoint, methods=["POST"]),
        ]
    )
