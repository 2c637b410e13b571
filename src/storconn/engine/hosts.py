"""Talking to the hosts' agents: references acquired, released and synced, in parallel, each call with a timeout.

The engine tells agents what to hold with ``storconn.agent.client.AgentClient``
(DESIGN.md section 4):

- ``sync_host`` makes a host's ``engine:`` references match what it should
  hold: it reads what the agent holds, then asks the caller what it should
  hold (in that order: a reference committed and acquired by another
  command before the read is in both, one acquired after it is in neither,
  so a sync never releases what another command just acquired), acquires
  what is missing first, then releases what is left over, then releases
  flow references (``engine-flow:<uuid>:``) of flows that are no longer
  running. Acquiring first keeps the storage connected across a change of
  revision. When the agent refuses a new revision because the old one holds
  the same target with other options (490, conflict), the old revision is
  released first and the new one acquired again.
- ``flow`` acquires short-lived references for one flow and releases the
  flow's prefix when the block ends, also when it raises.
- ``sync`` runs ``sync_host`` on many hosts at once (a thread pool); a host
  that does not answer within the timeout is reported as unreachable, and
  the caller marks it non-responsive.

Agents not on loopback are reached over TLS only (``https://``); ``verify``
is the CA bundle (or False for tests with self-signed certificates).

Thread-safety: one dispatcher serves every thread of the engine. Calls to
one host that read and then change its references run under that host's
lock, so two syncs of one host in this process never interleave; clients are
cached per host under a mutex (httpx clients are thread-safe).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from storconn.agent.client import AgentClient, AgentUnavailable
from storconn.connection import ConnectionInfo, ErrorCode, StorconnError
from storconn.engine.model import Host
from storconn.engine.rules.references import (
    ENGINE_PREFIX,
    FLOW_PREFIX,
    flow_prefix,
    flow_uuid,
    is_engine_ref,
)

__all__ = ["DispatchResult", "Flow", "HostDispatcher", "SyncResult", "agent_url"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Budget: one agent call answers in milliseconds (acquire only stores the
# reference; connecting happens in the background). 10 s covers a loaded
# host; past it the host counts as not answering.
DEFAULT_TIMEOUT = 10.0
# The pool's own deadline comes a little after the HTTP timeout, so that a
# slow host is reported by httpx's error (which says why) rather than by us.
_DEADLINE_MARGIN = 2.0


def agent_url(host: Host) -> str:
    """``http://`` on loopback, ``https://`` anywhere else: tokens never cross a network in clear."""
    address = host.address.strip("[]")
    scheme = "http" if _is_loopback(address) else "https"
    shown = f"[{address}]" if ":" in address else address
    return f"{scheme}://{shown}:{host.port}"


@dataclass(slots=True)
class SyncResult:
    """What one sync did on one host; ``failed`` maps reference ids to the agent's error code."""

    acquired: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    flows_released: list[str] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(slots=True)
class DispatchResult(Generic[T]):
    """Answers per host id; ``failed`` says why a host failed, ``unreachable`` which did not answer at all."""

    ok: dict[str, T] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)


class Flow:
    """References held for one flow; see ``HostDispatcher.flow``."""

    def __init__(
        self, client: AgentClient, flow_id: str, ids: list[str], codes: dict[str, int]
    ) -> None:
        self.client = client
        self.flow_id = flow_id
        self.ids = ids
        self.codes = codes

    def wait(self, timeout: float) -> dict[str, dict[str, Any]]:
        """The agent's status of each reference once connected or failed, or at the timeout."""
        return self.client.wait(self.ids, timeout=timeout)


class HostDispatcher:
    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_workers: int = 16,
        verify: bool | str = True,
        client_factory: Callable[[Host], AgentClient] | None = None,
    ) -> None:
        self.timeout = timeout
        self._verify = verify
        self._factory = client_factory or self._new_client
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="storconn-hosts"
        )
        self._mutex = threading.Lock()
        self._clients: dict[str, tuple[tuple[str, int, str | None], AgentClient]] = {}
        self._host_locks: dict[str, threading.Lock] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._mutex:
            clients, self._clients = list(self._clients.values()), {}
        for _, client in clients:
            client.close()

    # -- many hosts at once ------------------------------------------------------

    def run(
        self,
        hosts: Sequence[Host],
        call: Callable[[AgentClient, Host], T],
        *,
        wait: float | None = None,
    ) -> DispatchResult[T]:
        """``call`` on every host in parallel; a host not answering in time is unreachable.

        ``wait`` (shorter than the agents' timeout) answers sooner, for a
        page that must not hang on one host: a call still going then counts
        as not answered, and finishes in the background.
        """
        result: DispatchResult[T] = DispatchResult()
        futures: dict[Future[T], Host] = {
            self._pool.submit(self._call_locked_host, host, call): host for host in hosts
        }
        limit = self.timeout + _DEADLINE_MARGIN if wait is None else min(wait, self.timeout + _DEADLINE_MARGIN)
        done, pending = wait_futures(futures, timeout=limit)
        for future in pending:
            host = futures[future]
            future.cancel()
            result.failed[host.id] = f"host {host.name} did not answer within {limit:g} s"
            result.unreachable.add(host.id)
        for future in done:
            host = futures[future]
            try:
                result.ok[host.id] = future.result()
            except AgentUnavailable as exc:
                result.failed[host.id] = f"host {host.name} did not answer: {exc.message}"
                result.unreachable.add(host.id)
            except StorconnError as exc:
                result.failed[host.id] = f"host {host.name}: {exc.message}"
            except Exception as exc:  # a bug or a surprise: the other hosts' answers still count
                log.exception("host %s: unexpected failure", host.name)
                result.failed[host.id] = f"host {host.name}: {type(exc).__name__}"
        return result

    def sync(
        self,
        hosts: Sequence[Host],
        desired: Callable[[Host], Mapping[str, ConnectionInfo]],
        *,
        live_flows: Callable[[], set[str]] | None = None,
    ) -> DispatchResult[SyncResult]:
        """``sync_host`` on every host in parallel; hosts whose sync left failures are in ``failed`` too."""
        result = self.run(hosts, lambda client, host: self._sync(client, host, desired, live_flows))
        for host_id, answer in list(result.ok.items()):
            if not answer.ok:
                codes = ", ".join(f"{ref}: {code}" for ref, code in sorted(answer.failed.items()))
                result.failed[host_id] = f"the agent refused references ({codes})"
        return result

    # -- one host ------------------------------------------------------------------

    def sync_host(
        self,
        host: Host,
        desired: Callable[[Host], Mapping[str, ConnectionInfo]],
        *,
        live_flows: Callable[[], set[str]] | None = None,
    ) -> SyncResult:
        """Make ``host``'s ``engine:`` references exactly ``desired(host)``; AgentUnavailable if it does not answer."""
        return self._call_locked_host(
            host, lambda client, h: self._sync(client, h, desired, live_flows)
        )

    def release_all(self, host: Host) -> dict[str, int]:
        """Release every ``engine:`` reference and flow on ``host`` (it leaves the engine)."""
        return self._call_locked_host(
            host, lambda client, _: client.release([], prefixes=[ENGINE_PREFIX, FLOW_PREFIX])
        )

    def discover(self, host: Host, address: str, port: int, *, timeout: float) -> list[dict[str, Any]]:
        """SendTargets discovery at ``address:port`` run by ``host``'s agent (``Iscsi.discover``).

        Not under the host's lock: it reads nothing of the host's references
        and may take as long as the portal does (``timeout`` bounds it).
        """
        return self._client(host).discover(address, port, timeout=timeout)

    def iscsi_devices(self, host: Host) -> list[dict[str, Any]]:
        """The disks of ``host``'s iSCSI sessions (``Iscsi.devices``, read from its sysfs)."""
        return self._client(host).iscsi_devices()

    @contextmanager
    def flow(
        self, host: Host, infos: Sequence[ConnectionInfo], *, flow_id: str | None = None
    ) -> Iterator[Flow]:
        """Hold ``infos`` on ``host`` as ``engine-flow:<flow_id>:<n>`` for the block, then release the prefix.

        The release runs whether the block succeeds or raises; if the host
        cannot be reached then, the next sync of the host releases the
        leftover. Raises AgentUnavailable if the acquire cannot be sent.
        """
        flow_id = flow_id or str(uuid.uuid4())
        prefix = flow_prefix(flow_id)
        wire = {f"{prefix}{index}": info for index, info in enumerate(infos)}
        client = self._client(host)
        try:
            codes = client.acquire(wire)
            log.info("host %s: flow %s acquired %s", host.name, flow_id, sorted(wire))
            yield Flow(client, flow_id, list(wire), codes)
        finally:
            try:
                client.release([], prefixes=[prefix])
            except StorconnError as exc:
                log.warning(
                    "host %s: flow %s not released (%s); the next sync releases it",
                    host.name,
                    flow_id,
                    exc.message,
                )

    def try_connect(
        self, host: Host, info: ConnectionInfo, *, flow_id: str, timeout: float
    ) -> dict[str, Any]:
        """Hold ``info`` on ``host`` through a flow until connected or failed; the agent's status.

        The status is the agent's (``connected``, ``lastError``, ``path``...),
        without the echoed ``connectionInfo``. AgentUnavailable if the host
        does not answer.
        """
        with self.flow(host, [info], flow_id=flow_id) as flow:
            ref = flow.ids[0]
            code = flow.codes.get(ref, 0)
            if code != 0:
                return {"connected": False, "lastError": [code, "the agent refused the reference"]}
            status = flow.wait(timeout).get(ref, {})
            return {key: value for key, value in status.items() if key != "connectionInfo"}

    # -- internals -------------------------------------------------------------------

    def _sync(
        self,
        client: AgentClient,
        host: Host,
        desired: Callable[[Host], Mapping[str, ConnectionInfo]],
        live_flows: Callable[[], set[str]] | None,
    ) -> SyncResult:
        # Order matters (see the module docstring): statuses first, then desired.
        held = {
            ref_id
            for ref_id in client.statuses()
            if is_engine_ref(ref_id) or ref_id.startswith(FLOW_PREFIX)
        }
        wanted = dict(desired(host))
        live = live_flows() if live_flows is not None else None
        result = SyncResult()
        self._acquire_missing(client, host, held, wanted, result)
        extra = sorted(ref for ref in held if is_engine_ref(ref) and ref not in wanted)
        if extra:
            answers = client.release(extra)
            result.released += [
                ref for ref in extra if answers.get(ref) in (0, int(ErrorCode.REF_ID_UNKNOWN))
            ]
            log.info("host %s: released %s", host.name, extra)
        if live is not None:
            dead = sorted({flow for ref in held if (flow := flow_uuid(ref)) and flow not in live})
            if dead:
                client.release([], prefixes=[flow_prefix(flow) for flow in dead])
                result.flows_released = dead
                log.info("host %s: released leftover flows %s", host.name, dead)
        return result

    def _acquire_missing(
        self,
        client: AgentClient,
        host: Host,
        held: set[str],
        wanted: dict[str, ConnectionInfo],
        result: SyncResult,
    ) -> None:
        missing = {ref: info for ref, info in wanted.items() if ref not in held}
        if not missing:
            return
        answers = client.acquire(missing)
        conflicted = [ref for ref, code in answers.items() if code == int(ErrorCode.CONFLICT)]
        if conflicted:
            # The old revision holds the same target with other details: let it go
            # first, then take the new one (the agent's grace period covers the gap).
            old = sorted(
                ref
                for ref in held
                if ref not in wanted and any(_same_slot(ref, new) for new in conflicted)
            )
            if old:
                client.release(old)
                result.released += old
                held.difference_update(old)
                answers.update(client.acquire({ref: missing[ref] for ref in conflicted}))
        for ref, code in answers.items():
            if code == 0:
                result.acquired.append(ref)
            else:
                result.failed[ref] = code
        if result.acquired:
            log.info("host %s: acquired %s", host.name, sorted(result.acquired))
        if result.failed:
            log.warning("host %s: the agent refused %s", host.name, result.failed)

    def _call_locked_host(self, host: Host, call: Callable[[AgentClient, Host], T]) -> T:
        with self._host_lock(host.id):
            return call(self._client(host), host)

    def _host_lock(self, host_id: str) -> threading.Lock:
        with self._mutex:
            return self._host_locks.setdefault(host_id, threading.Lock())

    def _client(self, host: Host) -> AgentClient:
        key = (host.address, host.port, host.token)
        with self._mutex:
            cached = self._clients.get(host.id)
            if cached is not None and cached[0] == key:
                return cached[1]
            client = self._factory(host)
            self._clients[host.id] = (key, client)
        if cached is not None:
            cached[1].close()
        return client

    def _new_client(self, host: Host) -> AgentClient:
        return AgentClient(
            agent_url(host), token=host.token, timeout=self.timeout, verify=self._verify
        )


def _same_slot(old: str, new: str) -> bool:
    """``engine:<d>:<c>:<rev>`` ids of one domain and connection, whatever the revision."""
    return old.rsplit(":", 1)[0] == new.rsplit(":", 1)[0]


def _is_loopback(address: str) -> bool:
    if address.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
