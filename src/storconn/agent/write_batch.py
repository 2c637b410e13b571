"""Acquires and releases from concurrent requests, merged into one registry call each.

Every registry call costs a durable commit and a hand-over to a thread,
which is most of what an acquire costs the agent beyond HTTP. Requests that
arrive while one such call runs are queued, and the next call takes all of
them at once: thirty clients acquiring together pay for one commit and one
thread wake-up, not thirty.

Merging never changes an answer. Each id is judged on its own by the
registry, so calls whose ids are disjoint can share a registry call, and
each request gets back exactly its own ids' codes. Calls naming an id that an
earlier call in the queue names, and releases by prefix (which may match ids
another call names), run on their own, in the order they arrived.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .refs import entry_key
from .service import Agent

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Call:
    kind: str  # "acquire" or "release"
    entries: Mapping[str, object] = field(default_factory=dict)  # acquire
    ref_ids: Sequence[object] = ()  # release
    prefixes: Sequence[object] = ()  # release
    future: asyncio.Future[dict[str, int]] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    keys: set[str] = field(init=False)  # the answer keys this call owns

    def __post_init__(self) -> None:
        if self.kind == "acquire":
            self.keys = set(self.entries)
        else:
            self.keys = {entry_key(ref_id) for ref_id in self.ref_ids}

    def mergeable(self) -> bool:
        return not self.prefixes


class WriteBatcher:
    """One writer thread that runs queued acquires and releases, merging those it may. Thread-safe."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self._pending: list[_Call] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    async def acquire(self, entries: Mapping[str, object]) -> dict[str, int]:
        return await self._submit(_Call("acquire", entries=entries))

    async def release(self, ref_ids: Sequence[object], prefixes: Sequence[object]) -> dict[str, int]:
        return await self._submit(_Call("release", ref_ids=ref_ids, prefixes=prefixes))

    async def _submit(self, call: _Call) -> dict[str, int]:
        call.loop = asyncio.get_running_loop()
        call.future = call.loop.create_future()
        with self._ready:
            self._pending.append(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="storconn-writer", daemon=True)
                self._thread.start()
            self._ready.notify()
        return await call.future

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
                calls, self._pending = self._pending, []
            for group in _groups(calls):
                self._run_group(group)

    def _run_group(self, group: list[_Call]) -> None:
        try:
            if group[0].kind == "acquire":
                merged: dict[str, object] = {}
                for call in group:
                    merged.update(call.entries)
                answers = self._agent.acquire(merged)
            else:
                ids = [ref_id for call in group for ref_id in call.ref_ids]
                answers = self._agent.release(ids, group[0].prefixes if len(group) == 1 else ())
        except BaseException as exc:  # a surprise: every caller of the group hears of it
            for call in group:
                _settle(call, error=exc)
            return
        for call in group:
            if len(group) == 1:
                _settle(call, result=answers)
            else:
                _settle(call, result={key: answers[key] for key in call.keys if key in answers})


def _groups(calls: list[_Call]) -> list[list[_Call]]:
    """Consecutive calls of one kind with disjoint ids, in arrival order; a call by prefix stands alone."""
    groups: list[list[_Call]] = []
    seen: set[str] = set()
    for call in calls:
        keys = call.keys
        current = groups[-1] if groups else None
        if (
            current is not None
            and current[0].kind == call.kind
            and current[0].mergeable()
            and call.mergeable()
            and seen.isdisjoint(keys)
        ):
            current.append(call)
            seen |= keys
        else:
            groups.append([call])
            seen = set(keys)
    return groups


def _settle(call: _Call, *, result: dict[str, int] | None = None, error: BaseException | None = None) -> None:
    future, loop = call.future, call.loop
    assert future is not None and loop is not None

    def settle() -> None:
        if future.done():  # the client went away and the request was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result if result is not None else {})

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        log.debug("the event loop closed before a write was answered")


__all__ = ["WriteBatcher"]
