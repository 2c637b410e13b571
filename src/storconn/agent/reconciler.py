"""The loop that drives the actual state of this host (mounts, links) towards the desired one (references).

Shaped like kubelet's volume manager: the registry is the desired state of
the world, the table in ``actual_state.py`` is the actual one, rebuilt from
the mount table and the ownership records on start, and this loop compares
them and decides. It never does I/O that can hang: connects, disconnects and
repairs run in ``operations.py`` in a bounded pool, at most one per target,
each with its own timeouts; health probes run in child processes that are
polled, never waited on.

Ownership: before it creates a target the agent records, durably, that it
owns it, and it forgets the record only after the target is gone. A target
that was there before the agent made it is used and never taken down.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from storconn.connection import ConnectionInfo, ErrorCode, StorconnError, parse_info

from .actual_state import NO_ERROR, ActualState, TargetState, TargetView
from .connectors import Connector
from .metrics import AgentMetrics
from .operations import Operations, ownership_record
from .probes import Prober, ProbeResult
from .reconciler_config import ReconcilerConfig
from .refs import Registry
from .store import Store
from .system import boot, mountinfo
from .system.mountinfo import MountEntry

__all__ = ["Reconciler", "ReconcilerConfig", "TargetState", "TargetView"]

log = logging.getLogger(__name__)

_PROBE_POLL = 0.05  # seconds between looks at running probes


@dataclass(slots=True)
class _Tick:
    """Work decided under the lock, started after it is released."""

    operations: list[tuple[str, str, Callable[[], bool]]] = field(default_factory=list)
    claims: list[TargetState] = field(default_factory=list)  # to own before their connects start


class Reconciler:
    def __init__(
        self,
        registry: Registry,
        store: Store,
        connectors: dict[str, Connector],
        *,
        config: ReconcilerConfig = ReconcilerConfig(),
        clock: Callable[[], float] = time.monotonic,
        executor: Executor | None = None,
        read_mounts: Callable[[str | None], dict[str, MountEntry]] = mountinfo.read,
        read_stack: Callable[[str], list[MountEntry]] = mountinfo.stack,
        rng: random.Random | None = None,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self._registry = registry
        self._store = store
        self._connectors = connectors
        self._config = config
        self._clock = clock
        self._executor = executor or ThreadPoolExecutor(
            max_workers=config.pool_size, thread_name_prefix="storconn-op"
        )
        self._read_mounts = read_mounts
        self._prober = Prober(timeout=config.probe_timeout, clock=clock)
        self._table = ActualState()
        self._states = self._table.states  # the same dict: read and changed under the table's lock
        self._in_flight = self._table.in_flight
        self._operations = Operations(
            self._table,
            registry=registry,
            store=store,
            connectors=connectors,
            config=config,
            clock=clock,
            read_mounts=read_mounts,
            read_stack=read_stack,
            prober=self._prober,
            rng=rng or random.Random(),
            metrics=metrics,
        )
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_due = 0.0

    # -- lifecycle -------------------------------------------------------

    def restore_ownership(self) -> None:
        """Rebuild the owned targets from the store, before the first tick.

        A record from an earlier boot names a mount that died with that boot:
        whatever is at its path now is someone else's, so the record is
        dropped and the target connected again if references want it.
        """
        this_boot = boot.boot_id()
        stale: list[str] = []
        with self._table:
            for record in self._store.load_ownership():
                if record.boot_id is not None and record.boot_id != this_boot:
                    log.info("ownership of %s is from an earlier boot: not the agent's any more", record.path)
                    stale.append(record.target)
                    continue
                try:
                    info = parse_info(json.loads(record.info_json))
                except (StorconnError, ValueError, TypeError, RecursionError) as exc:
                    # Never a reason not to start: the record is left as it
                    # is, and whatever it named is not touched.
                    log.error("ownership record %r unreadable, skipped: %s", record.target[:200], exc)
                    continue
                state = self._new_state_locked(record.target, info)
                state.path = record.path
                state.owned = True
                state.mount_id = record.mount_id
        for target in stale:
            self._store.disown(target)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="storconn-reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._operations.flush_mount_records()

    def wake(self, keys: set[str] | None = None) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.tick()
            self._wake.wait(self._until_next_tick())
            self._wake.clear()

    def _until_next_tick(self) -> float:
        """Sleep until the period ends or a probe is due; poll briskly while probes or operations run.

        Probe results are read on ticks, so this is what makes an outage show
        within the probe's own timeout rather than a whole period later.
        """
        with self._table:
            # Finished operations are picked up by this polling rather than by
            # a wake-up each: two hundred mounts finishing together then cost
            # a handful of ticks, not two hundred.
            if self._prober.running() or self._in_flight:
                return _PROBE_POLL
            if any(state.unconfirmed_since is not None for state in self._states.values()):
                return 0.0  # a mount to confirm: its client is waiting for connected
            return max(_PROBE_POLL, min(self._config.period, self._next_due - self._clock()))

    # -- reads for clients ---------------------------------------------

    def views(self) -> dict[str, TargetView]:
        with self._table:
            return {key: self._table.view_locked(state) for key, state in self._states.items()}

    def view(self, key: str) -> TargetView | None:
        with self._table:
            state = self._states.get(key)
            return None if state is None else self._table.view_locked(state)

    def wait_for_change(self, timeout: float) -> None:
        """Block until some target's state changes or ``timeout`` passes."""
        with self._table.changed:
            self._table.changed.wait(timeout)

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (outside the reconciler's lock) after any target's state changed."""
        self._table.add_listener(callback)

    def path_of(self, info: ConnectionInfo) -> str | None:
        return self._connectors[info.type].path(info)

    def iscsi_sessions_in_use(self) -> set[int]:
        """Session ids of the iSCSI targets that references hold (read from sysfs, never blocks)."""
        with self._table:
            wanted = [s.info for s in self._states.values() if s.info.type == "iscsi"]
        connector = self._connectors.get("iscsi")
        sessions_of = getattr(connector, "sessions", None)
        if sessions_of is None:
            return set()
        return {session.sid for info in wanted for session in sessions_of(info)}

    # -- the tick --------------------------------------------------------

    def tick(self) -> None:
        """One pass of the loop. Never raises: whatever fails is retried on the next tick."""
        try:
            desired = self._registry.desired()
            now = self._clock()
            work = _Tick()
            with self._table:
                # Read under the lock: an operation that finished before this
                # shows in the table, one still running is skipped as in
                # flight. Read before taking it, a mount finished in between
                # would look missing and be mounted a second time on top.
                mounts = self._read_mounts(None)
                self._observe_locked(desired, mounts, now)
                self._collect_probes_locked(now)
                # Orphans first: they free pool slots and busy mounts, and a
                # target re-acquired within its grace never reaches this step.
                self._disconnect_orphans_locked(desired, now, work)
                # Then targets whose details changed: taken down here, they
                # are connected with the new details on the next tick.
                self._change_details_locked(desired, now, work)
                self._connect_missing_locked(desired, now, work)
                self._repair_unhealthy_locked(desired, now, work)
                probes = self._due_probes_locked(desired, now)
                self._in_flight.update(key for key, _, _ in work.operations)
                self._plan_next_tick_locked(desired, now)
            # Spawned outside the lock: a thousand targets are a thousand forks
            # a probe interval, seconds in which no client could read a status.
            for key, argv, path in probes:
                self._prober.start(key, argv, path)
            self._claim(work)
            self._operations.flush_mount_records()
            for key, verb, operation in work.operations:
                self._executor.submit(self._operations.run, key, verb, operation)
        except Exception:
            log.exception("reconcile tick failed; the next tick retries")

    def _claim(self, work: _Tick) -> None:
        """Record ownership of every target this tick will mount, in one commit.

        Durable before any of those mounts starts, as ownership must be, at the
        price of one fsync per tick instead of one per target.
        """
        if not work.claims:
            return
        records = [ownership_record(s) for s in work.claims]
        try:
            self._store.own_many(records)
        except StorconnError as exc:
            log.error("cannot record ownership of %d targets; not mounting them: %s", len(records), exc)
            refused = {s.key for s in work.claims}
            work.operations = [op for op in work.operations if op[0] not in refused]
            with self._table:
                self._in_flight -= refused
            return
        with self._table:
            for state in work.claims:
                state.owned = state.just_claimed = True

    def _observe_locked(
        self, desired: dict[str, ConnectionInfo], mounts: dict[str, MountEntry], now: float
    ) -> None:
        for key, info in desired.items():
            if key not in self._states:
                self._new_state_locked(key, info)
        for key, state in list(self._states.items()):
            if key in self._in_flight:
                continue
            connector = self._connectors[state.info.type]
            if state.unconfirmed_since is not None:
                self._operations.confirm_mount_locked(state, mounts, now)
            state.present = connector.present(state.info, state.path, mounts)
            if not state.present and (state.path is None or state.path not in mounts):
                state.seen_free_at = now
            if key in desired:
                state.orphaned_since = None
                self._follow_details_locked(state, desired[key], now)
                if state.busy and state.present and state.details_changed_since is None:
                    log.info("target %s: busy mount adopted by a new reference", state.path)
                    state.busy = False
                    state.failures = 0
                    state.retry_at = 0.0
                if state.connected and not state.present:
                    # Whatever took it away, it is gone: mount again at once.
                    self._table.set_error_locked(state, ErrorCode.CONNECTION_LOST, "the mount disappeared")
                    state.retry_at = now
                    self._prober.forget(key)
                elif (
                    state.present
                    and not state.connected
                    and state.probe_failures == 0
                    and not state.awaiting_probe
                ):
                    # Adopted after a restart, or made by someone else: usable
                    # until a probe says otherwise.
                    self._mark_connected_locked(state)
            elif state.details_changed_since is not None:
                state.details_changed_since = None  # nobody wants the new details either
                state.orphaned_since = now
            elif not state.owned:
                # Not ours and not wanted: forget it, never touch it.
                self._prober.forget(key)
                del self._states[key]
            elif state.orphaned_since is None:
                state.orphaned_since = now

    def _follow_details_locked(self, state: TargetState, wanted: ConnectionInfo, now: float) -> None:
        """A target's details are those of its references.

        The registry refuses a second reference with other details while one
        is held, so they change only after the last reference with the old
        ones was released. A target not up (or not the agent's) takes the new
        details at once; one the agent mounted is connected again with them
        after the grace period, in case the old details come back within it.
        """
        if state.info is wanted or state.info == wanted:
            state.info = wanted  # the next tick compares identities, not every field
            state.details_changed_since = None
            return
        if not state.present or not state.owned:
            state.info = wanted
            state.details_changed_since = None
            return
        if state.details_changed_since is None:
            log.info("target %s: its references now want other details; reconnecting after the grace period",
                     state.path)
            state.details_changed_since = now
            self._table.notify_locked()

    def _collect_probes_locked(self, now: float) -> None:
        for key, result in self._prober.poll().items():
            state = self._states.get(key)
            if state is None or key in self._in_flight or not state.present:
                continue
            self._record_probe_locked(state, result, now)

    def _disconnect_orphans_locked(
        self, desired: dict[str, ConnectionInfo], now: float, work: _Tick
    ) -> None:
        for key, state in self._states.items():
            if key in desired or key in self._in_flight or not state.owned:
                continue
            if state.orphaned_since is None or now - state.orphaned_since < self._config.grace:
                continue
            if now < state.retry_at:  # busy ones too: operations.busy_backoff paces them
                continue
            work.operations.append((key, "disconnect", partial(self._operations.disconnect, state)))

    def _change_details_locked(
        self, desired: dict[str, ConnectionInfo], now: float, work: _Tick
    ) -> None:
        for key, info in desired.items():
            state = self._states[key]
            since = state.details_changed_since
            if key in self._in_flight or since is None or now - since < self._config.grace:
                continue
            if now < state.retry_at:
                continue
            work.operations.append((key, "reconnect", partial(self._operations.change_details, state, info)))

    def _connect_missing_locked(
        self, desired: dict[str, ConnectionInfo], now: float, work: _Tick
    ) -> None:
        for key in desired:
            state = self._states[key]
            if key in self._in_flight or state.present or now < state.retry_at:
                continue
            if not state.owned:
                work.claims.append(state)
            work.operations.append((key, "connect", partial(self._operations.connect, state)))

    def _repair_unhealthy_locked(
        self, desired: dict[str, ConnectionInfo], now: float, work: _Tick
    ) -> None:
        limit = self._config.probe_failures_to_repair
        for key in desired:
            state = self._states[key]
            if key in self._in_flight or not state.present or now < state.retry_at:
                continue
            if state.repair_now or state.probe_failures >= limit:
                work.operations.append((key, "repair", partial(self._operations.repair, state)))

    def _plan_next_tick_locked(self, desired: dict[str, ConnectionInfo], now: float) -> None:
        """Wake for the earliest retry or end of grace too, not only for probes.

        Without it a retry due in 0.25 s waits for the next period (1 s), and
        the backoff base and the recovery budget would be fiction.
        """
        due = self._next_due
        for key, state in self._states.items():
            if key in self._in_flight:
                continue
            if key in desired:
                if not state.present or state.repair_now or state.probe_failures:
                    due = min(due, state.retry_at)
                if state.details_changed_since is not None:
                    due = min(due, max(state.retry_at, state.details_changed_since + self._config.grace))
            elif state.owned and state.orphaned_since is not None:
                due = min(due, max(state.retry_at, state.orphaned_since + self._config.grace))
        self._next_due = max(due, now)

    def _due_probes_locked(
        self, desired: dict[str, ConnectionInfo], now: float
    ) -> list[tuple[str, Sequence[str], str]]:
        """The probes to start now, as (key, argv, path); their next time is set here, under the lock."""
        due: list[tuple[str, Sequence[str], str]] = []
        self._next_due = now + self._config.period
        for key in desired:
            state = self._states[key]
            if not state.present or key in self._in_flight:
                continue
            if now < state.probe_due:
                self._next_due = min(self._next_due, state.probe_due)
                continue
            if state.path is None or self._prober.busy(key):
                continue
            argv = self._connectors[state.info.type].probe_command(state.path)
            if argv is None:
                continue
            state.probe_due = now + self._config.probe_interval
            self._next_due = min(self._next_due, state.probe_due)
            due.append((key, argv, state.path))
        return due

    # -- helpers -----------------------------------------------------------

    def _new_state_locked(self, key: str, info: ConnectionInfo) -> TargetState:
        state = TargetState(key=key, info=info, path=self._connectors[info.type].path(info))
        self._states[key] = state
        return state

    def _record_probe_locked(self, state: TargetState, result: ProbeResult, now: float) -> None:
        state.awaiting_probe = False
        if result.healthy:
            if not state.connected:
                log.info("target %s answers again", state.path)
            state.connected = True
            state.probe_failures = state.failures = 0
            state.retry_at = 0.0
            state.error = NO_ERROR
        else:
            # Look again soon: an outage must not wait a whole interval to be
            # confirmed, nor a recovery to be noticed.
            state.probe_due = min(state.probe_due, now + self._config.probe_retry_interval)
            state.probe_failures += 1
            state.repair_now = state.repair_now or result.repair_now
            self._table.set_error_locked(state, result.code, result.message)
            if result.repair_now:
                state.retry_at = min(state.retry_at, now)
        self._table.notify_locked()


    def _mark_connected_locked(self, state: TargetState) -> None:
        self._table.mark_connected_locked(state, now=self._clock(), probe_interval=self._config.probe_interval)
