"""The actual state of the world: what the agent knows about each target, and who is told of changes.

Kubelet's ``actual_state_of_world``: one ``TargetState`` per target, guarded
by one lock that the loop (``reconciler.py``) and the operations
(``operations.py``) share. Readers get ``TargetView`` copies, never the
mutable records.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from storconn.connection import ConnectionInfo, ErrorCode

log = logging.getLogger(__name__)

NO_ERROR: tuple[int, str] = (0, "")


@dataclass(slots=True)
class TargetState:
    """What the agent knows about one target. Guarded by the table's lock."""

    key: str
    info: ConnectionInfo
    path: str | None
    owned: bool = False
    present: bool = False
    connected: bool = False
    error: tuple[int, str] = NO_ERROR
    busy: bool = False
    going: bool = False  # a disconnect has begun: report disconnected from now on
    failures: int = 0
    retry_at: float = 0.0
    probe_failures: int = 0
    repair_now: bool = False
    awaiting_probe: bool = False  # repaired: connected only once a probe agrees
    unconfirmed_since: float | None = None  # mounted: connected once a tick sees it in the mount table
    just_claimed: bool = False  # owned by this tick's claim, not yet mounted
    probe_due: float = 0.0
    orphaned_since: float | None = None
    last_failed_attempt: float | None = None  # when the last failed attempt began
    mount_id: int | None = None  # the agent's own mount, from mountinfo; None until it is seen
    seen_free_at: float = float("-inf")  # when a tick last saw nothing at its path
    # The references now want other details than those mounted (defect 3 of
    # issue 7): since when, so the remount waits out the grace period.
    details_changed_since: float | None = None


@dataclass(frozen=True, slots=True)
class TargetView:
    """A copy of a target's state for answers to clients."""

    connected: bool
    error: tuple[int, str]
    path: str | None
    last_failed_attempt: float | None


class ActualState:
    """The table of targets and its lock.

    ``with table:`` takes the lock; listeners registered with
    :meth:`add_listener` are called after it is released whenever a state
    changed under it, so a listener may take its own locks (or hand the news
    to an event loop) without ever blocking the reconciler.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.states: dict[str, TargetState] = {}
        self.in_flight: set[str] = set()  # targets with an operation queued or running
        self._listeners: list[Callable[[], None]] = []
        self._dirty = False

    def __enter__(self) -> ActualState:
        self.lock.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        fire, self._dirty = self._dirty, False
        listeners = list(self._listeners) if fire else []
        self.lock.release()
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("state change listener failed")

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after any target's state changed, outside the lock. Keep it short."""
        with self.lock:
            self._listeners.append(callback)

    def notify_locked(self) -> None:
        self._dirty = True
        self.changed.notify_all()

    def view_locked(self, state: TargetState) -> TargetView:
        connected = state.connected and not state.going and state.details_changed_since is None
        return TargetView(
            connected=connected,
            error=state.error,
            # Only while connected: a path reported for a target that is not
            # there invites writes to whatever is underneath.
            path=state.path if connected else None,
            last_failed_attempt=state.last_failed_attempt,
        )

    def set_error_locked(self, state: TargetState, code: ErrorCode, message: str) -> None:
        if state.error[0] != code:
            log.warning("target %s: %s", state.path, message)
        state.connected = False
        state.error = (int(code), message)
        self.notify_locked()

    def mark_connected_locked(
        self, state: TargetState, *, now: float, probe_interval: float, healthy: bool = True
    ) -> None:
        state.present = True
        state.probe_failures = 0
        state.repair_now = False
        if healthy:
            state.connected = True
            state.error = NO_ERROR
            state.failures = 0
            state.retry_at = 0.0
            state.probe_due = now + probe_interval
        else:
            state.awaiting_probe = True
            state.probe_due = now  # probe at once: is it really back?
        self.notify_locked()
