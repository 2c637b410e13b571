"""What each host's agent says of the references the engine asked it to hold: the live view.

Read on demand (the web pages poll it); nothing is stored. Hosts that do not
answer are reported as such, never waited for beyond the dispatcher's timeout.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from storconn.engine.model import Host, HostStatus
from storconn.engine.rules.references import ENGINE_PREFIX, FLOW_PREFIX
from storconn.engine.service.base import EngineBase

__all__ = ["HostReferences", "HostStateQueries"]


@dataclass(slots=True)
class HostReferences:
    """One host's engine references as its agent reports them (credentials already removed by the agent).

    Built once per answer and shared by every page shown from it (with the
    host's current record swapped in): what is derived from an answer is
    derived once, however many browsers poll.
    """

    host: Host
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None  # why there are no statuses: maintenance, or the agent did not answer
    # Statuses by the domain in their reference id (engine:<domain>:…): a page asks for
    # every domain on every host, and a scan per question is domains × references.
    by_domain: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False, compare=False)
    # What pages derive from this answer (a domain's cell), kept as long as the answer is shown.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def answered(cls, host: Host, statuses: dict[str, dict[str, Any]]) -> HostReferences:
        by_domain: dict[str, list[dict[str, Any]]] = {}
        start = len(ENGINE_PREFIX)
        for ref_id, status in statuses.items():
            if ref_id.startswith(ENGINE_PREFIX):
                by_domain.setdefault(ref_id[start:].split(":", 1)[0], []).append(status)
        return cls(host, statuses, by_domain=by_domain)

    def domain_statuses(self, domain_id: str) -> list[dict[str, Any]]:
        return self.by_domain.get(domain_id, [])


# How old an agent's answer may be. A page shows an answer up to SHOW_AT_MOST
# old without waiting, and asks again in the background once it is older than
# REFRESH_AFTER: rendering never waits on agents that answered lately, and many
# browsers polling at once ask each agent at most once per REFRESH_AFTER. With no
# answer that recent, the page waits for the agents, at most PAGE_WAIT. (A page polls every 5 s.)
REFRESH_AFTER = 4.0
SHOW_AT_MOST = 10.0
PAGE_WAIT = 1.5


@dataclass(frozen=True, slots=True)
class _Answer:
    at: float  # time.monotonic() when the question was asked
    references: HostReferences  # with the host's record as it was asked; errors in .error


class _Answers:
    """The newest answer of each host's agent, and which hosts are being asked (one question each)."""

    def __init__(self) -> None:
        self.by_host: dict[str, _Answer] = {}
        self.asking: set[str] = set()
        self.changed = threading.Condition()


class HostStateQueries(EngineBase):
    _answers: _Answers

    def host_references(
        self, host_ids: list[str] | None = None, *, max_age: float | None = None
    ) -> list[HostReferences]:
        """Each host's (or the given hosts') engine references, as their agents said them.

        ``max_age`` None: what a page shows (see SHOW_AT_MOST); a number: only
        answers at most that old (0 asks every host and waits, up to PAGE_WAIT).
        """
        answers = self._host_answers()
        with self._tx(write=False) as repo:
            hosts = repo.hosts(secrets=True)
        if host_ids is not None:
            wanted = set(host_ids)
            hosts = [host for host in hosts if host.id in wanted]
        live = [host for host in hosts if host.status is not HostStatus.MAINTENANCE]
        now = time.monotonic()
        shown, refresh = (SHOW_AT_MOST, REFRESH_AFTER) if max_age is None else (max_age, max_age)
        with answers.changed:
            to_ask = [
                h for h in live
                if h.id not in answers.asking and now - self._asked_at(h.id) >= refresh
            ]
            answers.asking.update(h.id for h in to_ask)
        if to_ask:
            threading.Thread(target=self._ask, args=(to_ask,), name="host-states", daemon=True).start()
        deadline = now + PAGE_WAIT
        with answers.changed:
            # Wait for the hosts with nothing recent enough to show, not for the background refreshes.
            answers.changed.wait_for(
                lambda: all(self._asked_at(h.id) > now - shown for h in live),
                timeout=max(0.0, deadline - time.monotonic()),
            )
            found = [self._host_view(host, now - shown) for host in hosts]
        return found

    def forget_host_answers(self) -> None:
        """Ask every agent afresh next time: something changed what they hold (a command ran)."""
        answers = self._host_answers()
        with answers.changed:
            answers.by_host.clear()

    def _host_answers(self) -> _Answers:
        if not hasattr(self, "_answers"):
            self._answers = _Answers()  # lazily: EngineBase's __init__ is shared by every mixin
        return self._answers

    def _asked_at(self, host_id: str) -> float:
        answer = self._answers.by_host.get(host_id)
        return answer.at if answer is not None else float("-inf")

    def _ask(self, hosts: list[Host]) -> None:
        """Ask ``hosts`` their statuses (in the background of any page) and keep what they say."""
        asked = time.monotonic()
        found: dict[str, _Answer] = {}
        try:
            result = self._hosts.run(hosts, lambda client, host: client.statuses())
            by_id = {host.id: replace(host, token=None) for host in hosts}
            for host_id, statuses in result.ok.items():
                found[host_id] = _Answer(asked, HostReferences.answered(by_id[host_id], _engine_statuses(statuses)))
            for host_id, error in result.failed.items():
                found[host_id] = _Answer(asked, HostReferences(by_id[host_id], error=error))
        finally:
            with self._answers.changed:
                self._answers.by_host.update(found)
                self._answers.asking.difference_update(h.id for h in hosts)
                self._answers.changed.notify_all()

    def _host_view(self, host: Host, oldest: float) -> HostReferences:
        host_view = replace(host, token=None)
        if host.status is HostStatus.MAINTENANCE:
            return HostReferences(host_view, error="the host is in maintenance")
        answer = self._answers.by_host.get(host.id)
        if answer is None or answer.at <= oldest:
            return HostReferences(host_view, error=f"host {host.name} did not answer within {PAGE_WAIT:g} s")
        return replace(answer.references, host=host_view)  # its statuses, index and memo shared


def _engine_statuses(statuses: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The references the engine asked for (a host's agent may hold others' too)."""
    return {
        ref_id: status
        for ref_id, status in statuses.items()
        if ref_id.startswith((ENGINE_PREFIX, FLOW_PREFIX))
    }
