"""The engine's shared machinery: the database, the locks, the hosts, and the helpers every command uses.

``EngineBase`` holds what each command module (one per noun, beside this one)
needs; ``storconn.engine.service.Engine`` composes them."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from storconn.agent.client import AgentUnavailable
from storconn.connection import ConnectionInfo, StorconnError
from storconn.engine import actor, rules
from storconn.engine.db import Database, Locks, Repository, UnitOfWork, upgrade_engine
from storconn.engine.errors import BadRequest, Conflict, EngineError
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.hosts import DispatchResult, HostDispatcher, SyncResult
from storconn.engine.model import (
    ConnectionFields,
    Host,
    HostStatus,
    StorageConnection,
)
from storconn.engine.secrets import SecretBox

__all__ = ["CONNECT_TIMEOUT", "EMPTY_GUID", "EVENTS_KEPT", "FLOW_MAX_AGE", "EngineBase", "command", "found"]

log = logging.getLogger(__name__)

# A flow row older than this belongs to an engine that died mid-flow: its
# references on the agents are leftovers. Longer than any flow can last
# (the agent's wait is capped at 300 s).
FLOW_MAX_AGE = timedelta(minutes=10)
# How long add/edit with a host wait for the host to connect.
CONNECT_TIMEOUT = 30.0
# The audit log keeps the newest this many events (oVirt keeps 30 days; a count
# bounds the table whatever the rate). Pruned every PRUNE_EVERY events and on start.
EVENTS_KEPT = 10_000
PRUNE_EVERY = 100
# oVirt's Guid.Empty: the seed's <host id="00000000-..."/> means "no host" (oVirt's own default).
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def found(value: T | None, what: str, ident: str) -> T:
    """``value``, or oVirt's 404 for the ``what`` the client named."""
    if value is None:
        raise rules.not_found(what, ident)
    return value


def command(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Give every EngineError the command raises oVirt's action prefix ("Cannot add Storage Connection.")."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except EngineError as exc:
                if exc.action is None and rules.messages.prefixed(exc.key):
                    exc.action = action
                raise

        return run

    return decorate


class EngineBase:
    """The state every command shares; see ``storconn.engine.service.Engine`` for the threading rules."""

    def __init__(
        self,
        database_url: str,
        *,
        key_file: Path,
        hosts: HostDispatcher | None = None,
    ) -> None:
        self._box = SecretBox(key_file)
        self._db = Database(database_url)
        upgrade_engine(self._db.engine)
        self._tx = UnitOfWork(self._db, self._box)
        self.locks = Locks(self._db.engine)
        self._hosts = hosts if hosts is not None else HostDispatcher()
        self._own_hosts = hosts is None
        self.events_kept = EVENTS_KEPT

    def close(self) -> None:
        if self._own_hosts:
            self._hosts.close()
        self._db.close()

    @staticmethod
    def _checked(fields: ConnectionFields, **options: Any) -> StorageConnection:
        return rules.checked_connection(fields, connection_id=str(uuid.uuid4()), **options)

    def _existing_connection(
        self, connection_id: str, *, secrets: bool = False, missing: type[EngineError] = BadRequest
    ) -> StorageConnection:
        with self._tx(write=False) as repo:
            return self._existing(repo, connection_id, secrets=secrets, missing=missing)

    @staticmethod
    def _existing(
        repo: Repository,
        connection_id: str,
        *,
        secrets: bool = False,
        missing: type[EngineError] = BadRequest,
    ) -> StorageConnection:
        conn = repo.connection(connection_id, secrets=secrets)
        if conn is None:
            # A connection named in a body is a bad request (400), not oVirt's 500.
            raise missing(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
                "Storage connection doesn't exist.",
            )
        return conn

    def _up_target(self, id_or_name: str | None) -> Host | None:
        """The host a connection command should (dis)connect on, or None for none.

        The empty GUID is oVirt's "no host". An unknown host is 404 (oVirt
        ignores one on delete); a host that is not Up is oVirt's 409, before
        anything is tried on it.
        """
        if id_or_name is None or id_or_name.strip() in ("", EMPTY_GUID):
            return None
        host = self._host(id_or_name)
        if host.status is not HostStatus.UP:
            raise Conflict(
                "VDS_ADD_STORAGE_SERVER_STATUS_MUST_BE_UP",
                "Cannot add storage server connection when Host status is not up",
            )
        return host

    @staticmethod
    def _drop_unused(repo: Repository, connection_ids: Iterable[str]) -> list[str]:
        """Remove those of ``connection_ids`` that no domain and no LUN disk uses any more.

        What oVirt's removal of a domain (its storage helper's
        ``storageDomainRemoved``) and of a LUN disk (``removeLun``) do with
        their connections: a shared one stays.
        """
        dropped = []
        for connection_id in connection_ids:
            if not repo.domains_using(connection_id) and not repo.disks_using(connection_id):
                repo.delete_connection(connection_id)
                dropped.append(connection_id)
        return dropped

    def _host(self, id_or_name: str) -> Host:
        with self._tx(write=False) as repo:
            return found(repo.host(id_or_name, secrets=True), "host", id_or_name)

    @staticmethod
    def _up_hosts(repo: Repository, dc_id: str) -> list[Host]:
        return [
            h for h in repo.hosts(data_center_id=dc_id, secrets=True) if h.status is HostStatus.UP
        ]

    def _desired(self, host: Host) -> dict[str, ConnectionInfo]:
        with self._tx(write=False) as repo:
            return repo.desired_infos(host.id)

    def _live_flows(self) -> set[str]:
        with self._tx(write=False) as repo:
            return repo.live_flows(max_age=FLOW_MAX_AGE)

    def _sync(self, hosts: Sequence[Host]) -> DispatchResult[SyncResult]:
        """Sync ``hosts`` in parallel and record who answered (Up) and who did not (non-responsive)."""
        if not hosts:
            return DispatchResult()
        result = self._hosts.sync(hosts, self._desired, live_flows=self._live_flows)
        self._record_contact(hosts, result.unreachable)
        for host in hosts:
            if host.id in result.failed:
                log.warning("host %s: %s", host.name, result.failed[host.id])
        return result

    def _record_contact(self, hosts: Iterable[Host], unreachable: set[str]) -> None:
        changed = {
            host.id: HostStatus.NON_RESPONSIVE if host.id in unreachable else HostStatus.UP
            for host in hosts
            if host.status is not HostStatus.MAINTENANCE
        }
        with self._tx() as repo:
            for host_id, status in changed.items():
                # Read in this transaction: only a real change of status is an event.
                stored = repo.host(host_id)
                if stored is None:
                    continue  # removed meanwhile
                repo.set_host_status(host_id, status)
                if stored.status is not status:
                    kind = EventKind.HOST_UP if status is HostStatus.UP else EventKind.HOST_NON_RESPONSIVE
                    self._record(event_rules.build(kind, host=stored), repo)

    def _record(self, event: event_rules.NewEvent, repo: Repository | None = None) -> None:
        """Add ``event`` to the audit log, by the acting user (``storconn.engine.actor``).

        With ``repo``, in the command's own transaction: the event stands or
        falls with the change it tells of. Without, in a transaction of its
        own after the fact; a failure to write it is logged and does not
        turn the command that already happened into a failure.
        """
        who = actor.current()
        user = who.user_name if who else None
        if user and event.objects.user_name is None:
            event.objects.user_name = user
        description = event_rules.render(event, user)

        def write(repo: Repository) -> None:
            new_id = repo.add_event(
                code=event.code,
                severity=event.severity,
                description=description,
                origin=event_rules.ORIGIN,
                objects=event.objects,
                correlation_id=who.correlation_id if who else None,
            )
            if new_id % PRUNE_EVERY == 0:
                repo.prune_events(self.events_kept)
            log.info("event %d (code %d, %s): %s", new_id, event.code, event.severity, description)

        if repo is not None:
            write(repo)
            return
        try:
            with self._tx() as own:
                write(own)
        except EngineError as exc:
            log.warning("event not recorded (%s): %s", exc.key, description)

    def _try_on_host(
        self, host: Host, conn: StorageConnection, *, timeout: float
    ) -> dict[str, Any]:
        """Connect ``conn`` on ``host`` for a moment through a flow reference; the agent's status."""
        info = rules.to_info(conn)
        flow_id = str(uuid.uuid4())
        # Recorded first, so that a sync meanwhile does not take the flow for a leftover.
        with self._tx() as repo:
            repo.add_flow(flow_id, host.id, "connect")
        try:
            return self._hosts.try_connect(host, info, flow_id=flow_id, timeout=timeout)
        except StorconnError as exc:
            if isinstance(exc, AgentUnavailable):
                self._record_contact([host], {host.id})
            raise BadRequest(
                "VDS_NETWORK_ERROR",
                f"Network error during communication with host {host.name}: {exc.message}",
            ) from None
        finally:
            with self._tx() as repo:
                repo.delete_flow(flow_id)

    def _connect_or_raise(self, host: Host, conn: StorageConnection) -> None:
        status = self._try_on_host(host, conn, timeout=CONNECT_TIMEOUT)
        if not status.get("connected"):
            code, message = (status.get("lastError") or [0, ""])[:2]
            why = f"{message or 'no answer in time'} (code {code})"
            raise BadRequest(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FAILED",
                f"Host {host.name} could not connect to the storage: {why}.",
            )
