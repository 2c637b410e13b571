"""``ConnectionRefs.wait`` without a thread per waiter.

A waiter is a future in the event loop. One shared thread — running only
while someone waits — blocks on the reconciler's change notification and,
after each change, re-checks every waiter and resolves those that are done
through ``loop.call_soon_threadsafe``. So 500 waits in flight hold no worker
thread (the server's thread pool is for short blocking calls: acquire's
commit, statuses), and the event loop never blocks on the agent's locks for
them except for one check when a wait begins.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

# The thread wakes at least this often even when no change is notified: a
# change that lands between two of its waits is never missed for longer.
_RECHECK = 1.0  # seconds
# Many targets change in a burst: look after it, not after each one.
_SETTLE = 0.01  # seconds


class Waitable(Protocol):
    """What the waits need of the agent."""

    def wait_pending(self, ref_ids: Sequence[Any], since: float) -> bool:
        """Whether some id is neither connected nor failed in an attempt begun at or after ``since``."""

    def wait_for_change(self, timeout: float) -> None:
        """Block until some target's state changes or ``timeout`` passes."""


@dataclass(eq=False)
class _Waiter:
    ref_ids: Sequence[Any]
    since: float
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None] = field(repr=False)


class Waits:
    """Async waits on references; thread-safe registration, one checker thread for all waiters."""

    def __init__(self, agent: Waitable) -> None:
        self._agent = agent
        self._lock = threading.Lock()
        self._waiters: set[_Waiter] = set()
        self._thread: threading.Thread | None = None

    def in_flight(self) -> int:
        with self._lock:
            return len(self._waiters)

    async def wait(self, ref_ids: Sequence[Any], timeout: float) -> None:
        """Return once no id is pending (see :meth:`Waitable.wait_pending`) or at the timeout."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(ref_ids, time.monotonic(), loop, loop.create_future())
        # Registered before the first check, so a change between the two is seen by the thread.
        self._register(waiter)
        try:
            if not self._agent.wait_pending(ref_ids, waiter.since):
                return
            try:
                await asyncio.wait_for(asyncio.shield(waiter.done), timeout)
            except TimeoutError:
                return
        finally:
            self._unregister(waiter)

    def _register(self, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters.add(waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="storconn-waits", daemon=True)
                self._thread.start()

    def _unregister(self, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiters:
                    # Exits under the lock, so a waiter registered now starts a new thread.
                    self._thread = None
                    return
            try:
                self._agent.wait_for_change(_RECHECK)
                time.sleep(_SETTLE)
                self._check_all()
            except Exception:  # the thread must outlive any one surprise; waiters then time out
                log.exception("checking waits failed")
                time.sleep(_RECHECK)

    def _check_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            try:
                if waiter.done.done() or self._agent.wait_pending(waiter.ref_ids, waiter.since):
                    continue
            except Exception:  # one waiter's surprise must not hold up the others: answer it now
                log.exception("checking a wait failed")
            try:
                waiter.loop.call_soon_threadsafe(_resolve, waiter.done)
            except RuntimeError:  # its loop is closed: the server is gone
                self._unregister(waiter)


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
