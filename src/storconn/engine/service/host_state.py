"""What each host's agent says of the references the engine asked it to hold: the live view.

Read on demand (the web pages poll it); nothing is stored. Hosts that do not
answer are reported as such, never waited for beyond the dispatcher's timeout.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from storconn.agent.client import AgentClient
from storconn.engine.model import Host, HostStatus
from storconn.engine.rules.references import ENGINE_PREFIX, FLOW_PREFIX
from storconn.engine.service.base import EngineBase

__all__ = ["HostReferences", "HostStateQueries"]


@dataclass(slots=True)
class HostReferences:
    """One host's engine references as its agent reports them (credentials already removed by the agent)."""

    host: Host
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None  # why there are no statuses: maintenance, or the agent did not answer

    def domain_statuses(self, domain_id: str) -> list[dict[str, Any]]:
        prefix = f"{ENGINE_PREFIX}{domain_id}:"
        return [status for ref_id, status in self.statuses.items() if ref_id.startswith(prefix)]


# A page asks this often: it waits for the hosts at most this long, and asks a
# host again only once its previous answer came (a hung agent is reported, never piled up).
PAGE_WAIT = 1.5


class HostStateQueries(EngineBase):
    _asking: dict[str, float]  # host id → when the question still unanswered was asked
    _asking_lock: threading.Lock

    def host_references(self, host_ids: list[str] | None = None) -> list[HostReferences]:
        """Each host's (or the given hosts') engine references, asked of the agents in parallel."""
        if not hasattr(self, "_asking_lock"):
            self._asking, self._asking_lock = {}, threading.Lock()
        with self._tx(write=False) as repo:
            hosts = repo.hosts(secrets=True)
        if host_ids is not None:
            wanted = set(host_ids)
            hosts = [host for host in hosts if host.id in wanted]
        now = time.monotonic()
        # A question never started (the pool was full) never clears its mark: it expires instead.
        stale = now - self._hosts.timeout * 2
        with self._asking_lock:
            busy = {h.id for h in hosts if self._asking.get(h.id, stale) > stale}
            asked = [h for h in hosts if h.status is not HostStatus.MAINTENANCE and h.id not in busy]
            self._asking.update((h.id, now) for h in asked)

        def statuses(client: AgentClient, host: Host) -> dict[str, dict[str, Any]]:
            try:
                return client.statuses()
            finally:
                with self._asking_lock:
                    self._asking.pop(host.id, None)

        answers = self._hosts.run(asked, statuses, wait=PAGE_WAIT)
        for host_id in busy:
            answers.failed[host_id] = "the host has not answered the previous question yet"
        found: list[HostReferences] = []
        for host in hosts:
            host_view = replace(host, token=None)
            if host.status is HostStatus.MAINTENANCE:
                found.append(HostReferences(host_view, error="the host is in maintenance"))
            elif host.id in answers.ok:
                ours = {
                    ref_id: status
                    for ref_id, status in answers.ok[host.id].items()
                    if ref_id.startswith((ENGINE_PREFIX, FLOW_PREFIX))
                }
                found.append(HostReferences(host_view, statuses=ours))
            else:
                found.append(HostReferences(host_view, error=answers.failed.get(host.id, "no answer")))
        return found
