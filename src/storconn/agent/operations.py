"""The operations that change a target: connect, disconnect, repair. Run in a pool, one per target.

Kubelet's ``operation_executor``: the loop (``reconciler.py``) decides and
marks the target in flight under the table's lock; the operation runs here,
outside that lock, with the connector's own timeouts, and records its outcome
in the table. The loop never starts a second operation for a target in flight.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable

from storconn.connection import ConnectionInfo, ErrorCode, StorconnError

from .actual_state import NO_ERROR, ActualState, TargetState
from .reconciler_config import ReconcilerConfig
from .connectors import Connector
from .metrics import AgentMetrics
from .probes import Prober
from .refs import Registry
from .store import Store, StoredOwnership
from .system.mountinfo import MountEntry

log = logging.getLogger(__name__)

_ABSENT_FRESH = 0.5  # seconds a tick's "not mounted" holds for a first attempt


class Operations:
    """Runs connect, disconnect and repair of targets and records their outcome in the table."""

    def __init__(
        self,
        table: ActualState,
        *,
        registry: Registry,
        store: Store,
        connectors: dict[str, Connector],
        config: ReconcilerConfig,
        clock: Callable[[], float],
        read_mounts: Callable[[str | None], dict[str, MountEntry]],
        prober: Prober,
        rng: random.Random,
        metrics: AgentMetrics | None,
    ) -> None:
        self._table = table
        self._registry = registry
        self._store = store
        self._connectors = connectors
        self._config = config
        self._clock = clock
        self._read_mounts = read_mounts
        self._prober = prober
        self._rng = rng
        self._metrics = metrics

    def run(self, key: str, verb: str, operation: Callable[[], bool]) -> None:
        """Run one operation of the pool, then let the loop start the next one for that target."""
        started = time.perf_counter()
        succeeded = False
        try:
            succeeded = operation()
        except Exception:
            log.exception("%s of target %s failed unexpectedly", verb, key)
        finally:
            if self._metrics is not None:
                self._metrics.operation_done(verb, succeeded, time.perf_counter() - started)
            with self._table as table:
                table.in_flight.discard(key)
                table.notify_locked()

    # -- connect -------------------------------------------------------------

    def connect(self, state: TargetState) -> bool:
        try:
            return self._connect_claimed(state)
        finally:
            state.just_claimed = False

    def _still_absent(self, state: TargetState) -> bool:
        """Whether the tick's look at the mount table is recent enough to trust.

        Only for a first attempt started right after the tick: after a failed
        or timed-out attempt the table is read again, since that mount may have
        completed after all. Saves a read of the table per target when
        hundreds are mounted at once.
        """
        return state.failures == 0 and self._clock() - state.seen_absent_at < _ABSENT_FRESH

    def _connect_claimed(self, state: TargetState) -> bool:
        started = self._clock()
        connector = self._connectors[state.info.type]
        try:
            if self._still_absent(state):
                present = False
            else:
                # A mount that timed out earlier may have completed since.
                present = connector.present(state.info, state.path, self._read_mounts(state.path))
            if present:
                if state.just_claimed:
                    # Someone else mounted it since the tick looked: theirs.
                    self._store.disown(state.key)
                    with self._table:
                        state.owned = False
                if not state.owned:
                    log.info("target %s: already there, using it without taking ownership", state.path)
            else:
                if not state.owned:
                    self._store.own(StoredOwnership(state.key, stored_json(state.info), state.path))
                    with self._table:
                        state.owned = True
                log.info("connecting %s target %s", state.info.type, state.path)
                connector.connect(state.info, state.path)
        except (StorconnError, OSError) as exc:
            self.record_failure(state, exc, started)
            return False
        with self._table as table:
            table.mark_connected_locked(state, now=self._clock(), probe_interval=self._config.probe_interval)
        log.info("connected %s target %s", state.info.type, state.path)
        return True

    # -- repair --------------------------------------------------------------

    def repair(self, state: TargetState) -> bool:
        started = self._clock()
        if not state.owned:
            with self._table:
                state.repair_now = False
                state.probe_failures = 0
            log.warning("target %s is unhealthy but not the agent's to repair", state.path)
            return False
        log.warning("repairing %s target %s: %s", state.info.type, state.path, state.error[1])
        try:
            self._connectors[state.info.type].repair(state.info, state.path)
        except (StorconnError, OSError) as exc:
            self.record_failure(state, exc, started)
            return False
        with self._table as table:
            # Mounted again is not healthy yet: only a good probe resets the
            # backoff, so a server that accepts mounts but fails every request
            # is not remounted in a tight loop.
            probed = state.path is not None and self._connectors[state.info.type].probe_command(state.path)
            table.mark_connected_locked(
                state, now=self._clock(), probe_interval=self._config.probe_interval, healthy=not probed
            )
            state.failures += 1
            state.retry_at = self._clock() + self.backoff(state.failures)
        log.info("repaired %s target %s", state.info.type, state.path)
        return True

    # -- disconnect ----------------------------------------------------------

    def disconnect(self, state: TargetState) -> bool:
        def mark_going() -> None:
            with self._table:
                state.going = True

        # Checked and marked under the registry's lock: an acquire after this
        # point sees a disconnected target and is connected again afterwards.
        if not self._registry.run_if_unreferenced(state.key, mark_going):
            return False
        started = self._clock()
        connector = self._connectors[state.info.type]
        try:
            if connector.present(state.info, state.path, self._read_mounts(state.path)):
                log.info("disconnecting %s target %s", state.info.type, state.path)
                connector.disconnect(state.info, state.path)
            self._store.disown(state.key)
        except (StorconnError, OSError) as exc:
            exc = as_storconn_error(exc)
            with self._table as table:
                state.going = False
                state.connected = False
                if exc.code == ErrorCode.BUSY:
                    if not state.busy:
                        log.warning("target %s stays: %s; reported unmanaged", state.path, exc)
                    state.busy = True
                    state.error = (int(exc.code), exc.message)
                    table.notify_locked()
                    return False
            self.record_failure(state, exc, started)
            return False
        with self._table as table:
            state.owned = state.present = state.connected = state.going = state.busy = False
            state.error = NO_ERROR
            self._prober.forget(state.key)
            table.notify_locked()
        log.info("disconnected %s target %s", state.info.type, state.path)
        return True

    # -- outcomes ------------------------------------------------------------

    def record_failure(self, state: TargetState, exc: StorconnError | OSError, started: float) -> None:
        exc = as_storconn_error(exc)
        with self._table as table:
            state.failures += 1
            delay = self.backoff(state.failures)
            if exc.code == ErrorCode.UNSUPPORTED:
                # This host cannot do it (no kernel module): retrying every
                # 1.5 s only burns CPU until an administrator loads the module.
                delay = max(delay, self._config.unsupported_retry)
            state.retry_at = self._clock() + delay
            state.connected = False
            state.last_failed_attempt = started
            state.error = (int(exc.code), exc.message)
            table.notify_locked()
        log.warning(
            "%s target %s: %s (attempt %d, next in %.2f s)",
            state.info.type, state.path, exc.message, state.failures, delay,
        )

    def backoff(self, failures: int) -> float:
        """Exponential with equal jitter: half fixed, half random, so retries of many targets spread."""
        ceiling: float = min(self._config.backoff_cap, self._config.backoff_base * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


def as_storconn_error(exc: StorconnError | OSError) -> StorconnError:
    if isinstance(exc, StorconnError):
        return exc
    return StorconnError(f"{exc.filename or 'target'}: {exc.strerror}", code=ErrorCode.CONNECTION)


def stored_json(info: ConnectionInfo) -> str:
    return json.dumps(info.to_wire(secrets=True), sort_keys=True)
