"""Who is acting in the command running now: the user (and the client's correlation id) for its events.

The API sets it once per request, after authorizing the caller; the
commands read it when they record an event. A ``ContextVar`` rather than an
argument of every command: the worker thread that runs a command gets a
copy of the request's context (Starlette's ``run_in_threadpool``), and the
commands' signatures stay what ``EnginePort`` says. Outside a request (the
CLI, the periodic host sync) there is no actor, and events say the engine
did it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Actor", "current", "set_current"]

MAX_CORRELATION_ID = 255


@dataclass(frozen=True, slots=True)
class Actor:
    user_name: str
    correlation_id: str | None = None


_CURRENT: ContextVar[Actor | None] = ContextVar("storconn_engine_actor", default=None)


def current() -> Actor | None:
    return _CURRENT.get()


def set_current(user_name: str, correlation_id: str | None = None) -> None:
    """Set for the rest of this context (one request); a too long correlation id is cut."""
    cid = correlation_id.strip()[:MAX_CORRELATION_ID] if correlation_id else None
    _CURRENT.set(Actor(user_name, cid or None))
