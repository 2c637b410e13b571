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
from .connectors.ownership import FoundExisting
from .metrics import AgentMetrics
from .probes import Prober
from .refs import Registry
from .store import Store, StoredOwnership
from .system import boot
from .system.mountinfo import MountEntry

log = logging.getLogger(__name__)

# How long a tick's "nothing at this path" holds for a first attempt started
# right after it: long enough for the pool to reach it, short enough that no
# earlier mount of the agent's own can have completed meanwhile.
_FREE_FRESH = 0.5


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
        read_stack: Callable[[str], list[MountEntry]],
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
        self._read_stack = read_stack
        self._prober = prober
        self._rng = rng
        self._metrics = metrics
        self._unrecorded: dict[str, StoredOwnership] = {}  # guarded by the table's lock

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

    def _connect_claimed(self, state: TargetState) -> bool:
        started = self._clock()
        connector = self._connectors[state.info.type]
        confirmed = True
        try:
            # Read before every mount: one that timed out earlier may have
            # completed since, and a second mount would stack on it. A first
            # attempt right after the tick saw the path free trusts the tick,
            # so hundreds of targets mounted at once do not each read a
            # mount table hundreds of entries long.
            if state.failures == 0 and self._clock() - state.seen_free_at < _FREE_FRESH:
                mounts = {}
            else:
                mounts = self._read_mounts(state.path)
            if connector.present(state.info, state.path, mounts):
                if state.just_claimed:
                    # Someone else mounted it since the tick looked: theirs.
                    self._store.disown(state.key)
                    with self._table:
                        state.owned = False
                if not state.owned:
                    log.info("target %s: already there, using it without taking ownership", state.path)
                else:
                    # Ours: a mount of an earlier attempt of the agent's that
                    # completed late (after its timeout). Record it if it is
                    # not the one on record, so a release finds it.
                    self._record_mount(state, mounts)
            else:
                _refuse_occupied(state.path, mounts)
                # Owned before this attempt's claim: adopted after a restart,
                # or an earlier attempt of the agent's that may have completed.
                owned_before = state.owned and not state.just_claimed
                if not state.owned:
                    self._store.own(self._claim(state))
                    with self._table:
                        state.owned = True
                log.debug("connecting %s target %s", state.info.type, state.path)
                try:
                    confirmed = self._connect_and_verify(state)
                except FoundExisting as found:
                    self._found_existing(state, found, owned_before=owned_before)
                except StorconnError as exc:
                    self._drop_failed_claim(state, exc, owned_before=owned_before)
                    raise
        except (StorconnError, OSError) as exc:
            self.record_failure(state, exc, started)
            return False
        if not confirmed:
            return True
        with self._table as table:
            table.mark_connected_locked(state, now=self._clock(), probe_interval=self._config.probe_interval)
        log.info("connected %s target %s", state.info.type, state.path)
        return True

    def _found_existing(self, state: TargetState, found: FoundExisting, *, owned_before: bool) -> None:
        """The connector found the target already there and did not make it (``connectors.ownership``).

        The claim made for this attempt goes, since the target is someone
        else's; a claim from before stays. Usable now means connected; else
        the error stands until the next attempt.
        """
        if not owned_before:
            self._store.disown(state.key)
            with self._table:
                state.owned = False
        connector = self._connectors[state.info.type]
        if not connector.present(state.info, state.path, self._read_mounts(state.path)):
            raise found
        log.info("target %s: %s", state.path or state.key, found.message)

    def _drop_failed_claim(self, state: TargetState, exc: StorconnError, *, owned_before: bool) -> None:
        """Forget this attempt's claim when its connect failed before making anything.

        Only for targets that are not at a path of the agent's own (iSCSI
        sessions are global to the host): a claim kept there would make the
        agent own a session an administrator logs in to later, and log it
        out on release. A timed-out attempt keeps its claim, since the login
        or mount may still complete. Mount targets keep theirs: their mount
        point is the agent's, and a mount there is judged by type and source.
        """
        if owned_before or exc.code == ErrorCode.TIMEOUT or state.path is not None:
            return
        self._store.disown(state.key)
        with self._table:
            state.owned = False

    def _connect_and_verify(self, state: TargetState) -> bool:
        """Connect, then insist the target is really there: a mount helper that exits 0 proves nothing.

        Returns whether that is settled; False leaves it to the next tick.
        """
        connector = self._connectors[state.info.type]
        try:
            connector.connect(state.info, state.path)
        except StorconnError as exc:
            if exc.code != ErrorCode.TIMEOUT:
                raise
            # The command was killed, but the kernel may have finished the mount.
            mounts = self._read_mounts(state.path)
            if not connector.present(state.info, state.path, mounts):
                raise
            log.info("target %s: the mount completed after its timeout; keeping it", state.path)
            self._record_mount(state, mounts)
            return True
        if connector.confirmed_by_tick:
            # The next tick checks it against the mount table it reads anyway
            # (confirm_mount_locked): one read for all, not one per mount.
            with self._table:
                state.unconfirmed_since = self._clock()
            return False
        mounts = self._read_mounts(state.path)
        if not connector.present(state.info, state.path, mounts):
            top = mounts.get(state.path) if state.path is not None else None
            found = "nothing" if top is None else f"a {top.fstype} mount of {top.source}"
            raise StorconnError(
                f"{state.path}: the connect command reported success but the mount table shows {found} there",
                code=ErrorCode.MOUNT_ERROR,
            )
        self._record_mount(state, mounts)
        return True

    def _claim(self, state: TargetState, entry: MountEntry | None = None) -> StoredOwnership:
        return ownership_record(state, entry)

    def _record_mount(self, state: TargetState, mounts: dict[str, MountEntry]) -> None:
        """Write down which mount is the agent's own, so a release unmounts that one and no other."""
        with self._table:
            self.record_mount_locked(state, mounts)

    def record_mount_locked(self, state: TargetState, mounts: dict[str, MountEntry]) -> None:
        entry = mounts.get(state.path) if state.path is not None else None
        if entry is None or entry.mount_id == state.mount_id:
            return  # not a mount (a link, a session), or already on record
        # Written by the next tick, with every other mount of this tick, in
        # one commit (one fsync, not one per mount). Until then the record
        # claims the path without a mount id, and a restart judges the
        # mount there by type and source, as for records of older agents.
        state.mount_id = entry.mount_id
        self._unrecorded[state.key] = self._claim(state, entry)

    def confirm_mount_locked(self, state: TargetState, mounts: dict[str, MountEntry], now: float) -> None:
        """A tick's verdict on a mount whose command reported success: there (ours), or a failure.

        The tick reads the whole mount table anyway; confirming there rather
        than in each operation saves hundreds of reads of it when hundreds of
        targets are mounted at once.
        """
        started, state.unconfirmed_since = state.unconfirmed_since, None
        if self._connectors[state.info.type].present(state.info, state.path, mounts):
            if state.owned:
                self.record_mount_locked(state, mounts)
            self._table.mark_connected_locked(state, now=now, probe_interval=self._config.probe_interval)
            log.info("connected %s target %s", state.info.type, state.path)
            return
        top = mounts.get(state.path) if state.path is not None else None
        found = "nothing" if top is None else f"a {top.fstype} mount of {top.source}"
        failure = StorconnError(
            f"{state.path}: the connect command reported success but the mount table shows {found} there",
            code=ErrorCode.MOUNT_ERROR,
        )
        self.record_failure_locked(state, failure, now if started is None else started)

    def flush_mount_records(self) -> None:
        """Write the mount ids recorded since the last flush, in one commit. Never raises."""
        with self._table:
            records, self._unrecorded = list(self._unrecorded.values()), {}
        if not records:
            return
        try:
            self._store.own_many(records)
        except StorconnError as exc:
            log.error("cannot record the mounts of %d targets (retried): %s", len(records), exc)
            with self._table:
                for record in records:
                    self._unrecorded.setdefault(record.target, record)

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
        connector = self._connectors[state.info.type]
        try:
            self._refuse_foreign_top(state)
            connector.repair(state.info, state.path)
            mounts = self._read_mounts(state.path)
            if not connector.present(state.info, state.path, mounts):
                raise StorconnError(
                    f"{state.path}: the reconnect reported success but the target is not mounted",
                    code=ErrorCode.MOUNT_ERROR,
                )
            self._record_mount(state, mounts)
        except (StorconnError, OSError) as exc:
            self.record_failure(state, exc, started)
            return False
        with self._table as table:
            # Mounted again is not healthy yet: only a good probe resets the
            # backoff, so a server that accepts mounts but fails every request
            # is not remounted in a tight loop.
            probed = state.path is not None and connector.probe_command(state.path)
            table.mark_connected_locked(
                state, now=self._clock(), probe_interval=self._config.probe_interval, healthy=not probed
            )
            state.failures += 1
            state.retry_at = self._clock() + self.backoff(state.failures)
        log.info("repaired %s target %s", state.info.type, state.path)
        return True

    def _refuse_foreign_top(self, state: TargetState) -> None:
        """Refuse to touch the path when the top mount there is not the agent's own."""
        if state.mount_id is None or state.path is None:
            return
        top = self._read_mounts(state.path).get(state.path)
        if top is not None and top.mount_id != state.mount_id:
            raise StorconnError(
                f"{state.path}: a {top.fstype} mount of {top.source} is on top of the agent's own; "
                "leaving both",
                code=ErrorCode.BUSY,
            )

    # -- disconnect ----------------------------------------------------------

    def disconnect(self, state: TargetState) -> bool:
        def mark_going() -> None:
            with self._table:
                state.going = True

        # Checked and marked under the registry's lock: an acquire after this
        # point sees a disconnected target and is connected again afterwards.
        if not self._registry.run_if_unreferenced(state.key, mark_going):
            return False
        return self._take_down(state)

    def change_details(self, state: TargetState, info: ConnectionInfo) -> bool:
        """Take the target down so that the next tick connects it with ``info``, its references' details."""
        with self._table:
            state.going = True
        log.info("target %s: its references want other details; connecting it again", state.path)
        if not self._take_down(state):
            return False
        with self._table as table:
            state.info = info
            state.details_changed_since = None
            state.retry_at = 0.0
            state.failures = 0
            table.notify_locked()
        return True

    def _take_down(self, state: TargetState) -> bool:
        """Unmount the agent's own mount (only that one, only when on top) and forget the ownership."""
        started = self._clock()
        connector = self._connectors[state.info.type]
        try:
            mounts = self._read_mounts(state.path)
            if self._ours_on_top(state, mounts):
                log.info("disconnecting %s target %s", state.info.type, state.path)
                connector.disconnect(state.info, state.path)
            with self._table:
                self._unrecorded.pop(state.key, None)  # never written after the disown
            self._store.disown(state.key)
        except (StorconnError, OSError) as exc:
            exc = as_storconn_error(exc)
            with self._table as table:
                state.going = False
                state.connected = False
                if exc.code == ErrorCode.BUSY:
                    if not state.busy:
                        log.warning("target %s stays: %s; reported unmanaged", state.path, exc)
                        state.failures = 0
                    state.busy = True
                    state.failures += 1
                    # Whoever holds it may hold it for hours: try again at the
                    # tick period, then less and less often, never in a loop.
                    state.retry_at = self._clock() + self.busy_backoff(state.failures)
                    state.error = (int(exc.code), exc.message)
                    table.notify_locked()
                    return False
            self.record_failure(state, exc, started)
            return False
        with self._table as table:
            state.owned = state.present = state.connected = state.going = state.busy = False
            state.mount_id = None
            state.error = NO_ERROR
            self._prober.forget(state.key)
            table.notify_locked()
        log.info("disconnected %s target %s", state.info.type, state.path)
        return True

    def _ours_on_top(self, state: TargetState, mounts: dict[str, MountEntry]) -> bool:
        """Whether the thing to take down is the agent's own; raise BUSY when it lies under a foreign mount."""
        connector = self._connectors[state.info.type]
        top = mounts.get(state.path) if state.path is not None else None
        if state.mount_id is None or state.path is None:
            # A link, a session, or a claim whose mount was never seen: judged
            # by type and source, as before mount ids were recorded.
            return connector.present(state.info, state.path, mounts)
        if top is None:
            return False
        if top.mount_id == state.mount_id:
            return True
        if any(entry.mount_id == state.mount_id for entry in self._read_stack(state.path)):
            raise StorconnError(
                f"{state.path}: a {top.fstype} mount of {top.source} was mounted on top of the agent's own; "
                "leaving both until it goes",
                code=ErrorCode.BUSY,
            )
        log.info("target %s: the agent's mount is gone and %s %s is someone else's; leaving it",
                 state.path, top.fstype, top.source)
        return False

    # -- outcomes ------------------------------------------------------------

    def record_failure(self, state: TargetState, exc: StorconnError | OSError, started: float) -> None:
        with self._table:
            self.record_failure_locked(state, exc, started)

    def record_failure_locked(self, state: TargetState, exc: StorconnError | OSError, started: float) -> None:
        exc = as_storconn_error(exc)
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
        self._table.notify_locked()
        log.warning(
            "%s target %s: %s (attempt %d, next in %.2f s)",
            state.info.type, state.path, exc.message, state.failures, delay,
        )

    def busy_backoff(self, failures: int) -> float:
        """The wait before the next plain unmount of a busy target: one period, doubling up to busy_retry_cap."""
        period = self._config.period
        return float(min(max(self._config.busy_retry_cap, period), period * 2.0 ** (failures - 1)))

    def backoff(self, failures: int) -> float:
        """Exponential with equal jitter: half fixed, half random, so retries of many targets spread."""
        ceiling: float = min(self._config.backoff_cap, self._config.backoff_base * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


def as_storconn_error(exc: StorconnError | OSError) -> StorconnError:
    if isinstance(exc, StorconnError):
        return exc
    return StorconnError(f"{exc.filename or 'target'}: {exc.strerror}", code=ErrorCode.CONNECTION)


def ownership_record(state: TargetState, entry: MountEntry | None = None) -> StoredOwnership:
    """The durable record that this boot's agent owns ``state`` (and, once seen, which mount is its own)."""
    return StoredOwnership(
        state.key,
        stored_json(state.info),
        state.path,
        mount_id=None if entry is None else entry.mount_id,
        source=None if entry is None else entry.source,
        fstype=None if entry is None else entry.fstype,
        boot_id=boot.boot_id(),
    )


def _refuse_occupied(path: str | None, mounts: dict[str, MountEntry]) -> None:
    """Never mount over something else: the stack would hide it and a release could not tell them apart."""
    top = mounts.get(path) if path is not None else None
    if top is not None:
        raise StorconnError(
            f"{path} already has a {top.fstype} mount of {top.source}, which is not this target; "
            "not mounting over it",
            code=ErrorCode.MOUNT_ERROR,
        )


def stored_json(info: ConnectionInfo) -> str:
    return json.dumps(info.to_wire(secrets=True), sort_keys=True)
