"""What the pages show, built from the engine's entities: rows, per-host states, allowed actions.

Pure: the routes fetch, these functions shape, the templates print. The
actions a row offers follow oVirt's rules for a domain's status (seed 001,
engine-rules.md): maintenance from active, activate and detach from
maintenance, remove when unattached; the engine refuses anything else anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from storconn.engine.model import (
    DomainStatus,
    HostStatus,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.service.host_state import HostReferences

__all__ = [
    "DomainRow",
    "HostCell",
    "Listing",
    "connection_summary",
    "domain_rows",
    "host_cells",
    "listing",
]

SORT_KEYS = ("name", "status", "type", "storage_type", "data_center")


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs twice, and a page makes 10,000
class HostCell:
    """A domain's state on one host, in words a person reads."""

    host_id: str
    host_name: str
    state: str  # connected, connecting, failed, non_responsive, maintenance
    detail: str = ""
    html: str | None = field(default=None, compare=False)  # as rows.py prints it, made once

    @property
    def text(self) -> str:
        """What the cell says: the host, its state, and the reason when it failed."""
        words = f"{self.host_name}: {self.state.replace('_', ' ')}"
        return f"{words} — {self.detail}" if self.state in ("failed", "non_responsive") else words


@dataclass(slots=True)
class DomainRow:
    domain: StorageDomain
    connection: str
    data_center: str
    hosts: list[HostCell] = field(default_factory=list)

    @property
    def actions(self) -> list[str]:
        status = self.domain.status
        if status is DomainStatus.ACTIVE:
            return ["maintenance", "edit"]
        if status is DomainStatus.MAINTENANCE:
            return ["activate", "detach", "edit"]
        return ["remove", "edit"]

    def sort_value(self, key: str) -> str:
        return _SORT_VALUES.get(key, _SORT_VALUES["name"])(self).lower()

    def matches(self, text: str) -> bool:
        needle = text.lower()
        haystack = (
            self.domain.name,
            self.domain.status.value,
            self.domain.storage_type.value,
            self.connection,
            self.data_center,
        )
        return any(needle in value.lower() for value in haystack)


_SORT_VALUES: dict[str, Callable[[DomainRow], str]] = {
    "name": lambda row: row.domain.name,
    "status": lambda row: row.domain.status.value,
    "type": lambda row: row.domain.domain_type,
    "storage_type": lambda row: row.domain.storage_type.value,
    "data_center": lambda row: row.data_center,
}


@dataclass(frozen=True, slots=True)
class Listing:
    """A page's filter and sort, as they stand in its URL."""

    text: str = ""
    sort: str = "name"
    descending: bool = False

    @property
    def query(self) -> str:
        from urllib.parse import urlencode

        params = {"q": self.text, "sort": self.sort, "dir": "desc" if self.descending else "asc"}
        return urlencode({k: v for k, v in params.items() if v})


def listing(text: str | None, sort: str | None, direction: str | None) -> Listing:
    """The page state from the query, anything unknown replaced by the default (it is only a view)."""
    return Listing(
        text=(text or "").strip()[:200],
        sort=sort if sort in SORT_KEYS else "name",
        descending=direction == "desc",
    )


def connection_summary(conn: StorageConnection | None) -> str:
    """How an administrator names a connection: the export path, the spec, the target."""
    if conn is None:
        return ""
    if conn.type is StorageType.ISCSI:
        port = f":{conn.port}" if conn.port else ""
        return f"{conn.connection}{port} {conn.iqn or ''}".strip()
    if conn.type is StorageType.POSIXFS and conn.vfs_type:
        return f"{conn.connection} ({conn.vfs_type})"
    return conn.connection


def domain_rows(
    domains: Iterable[StorageDomain],
    connections: dict[str, StorageConnection],
    data_center_names: dict[str, str],
    host_views: Sequence[HostReferences],
    view: Listing,
) -> list[DomainRow]:
    hosts_by_dc = _hosts_by_data_center(host_views)
    rows = []
    for domain in domains:
        summary = ", ".join(
            connection_summary(connections.get(cid)) for cid in domain.connection_ids
        )
        row = DomainRow(
            domain=domain,
            connection=summary,
            data_center=data_center_names.get(domain.data_center_id or "", ""),
            hosts=[host.cell(domain) for host in hosts_by_dc.get(domain.data_center_id, ())],
        )
        if not view.text or row.matches(view.text):
            rows.append(row)
    rows.sort(key=lambda row: (row.sort_value(view.sort), row.domain.id), reverse=view.descending)
    return rows


def host_cells(domain: StorageDomain, host_views: Sequence[HostReferences]) -> list[HostCell]:
    """The domain's state on each host of its data center, by host name."""
    hosts = _hosts_by_data_center(host_views).get(domain.data_center_id, [])
    return [host.cell(domain) for host in hosts]


def _hosts_by_data_center(host_views: Sequence[HostReferences]) -> dict[str | None, list[_HostColumn]]:
    """Each data center's hosts by name: worked out once a page, not once a domain."""
    by_dc: dict[str | None, list[_HostColumn]] = {}
    for host_view in sorted(host_views, key=lambda v: v.host.name.lower()):
        if host_view.host.data_center_id is not None:
            by_dc.setdefault(host_view.host.data_center_id, []).append(_HostColumn(host_view))
    return by_dc


class _HostColumn:
    """One host's cells. Most say the same on every row (host in maintenance, not answering, domain
    not active, nothing asked yet): those are made once, and a page of 1,000 rows shares them."""

    def __init__(self, view: HostReferences) -> None:
        host = view.host
        self.view = view
        self.shared: HostCell | None = None  # the host's state alone decides every cell
        if host.status is HostStatus.MAINTENANCE:
            self.shared = HostCell(host.id, host.name, "maintenance", "host in maintenance")
        elif view.error is not None:
            self.shared = HostCell(host.id, host.name, "non_responsive", view.error)
        self.idle = HostCell(host.id, host.name, "idle", "not held: the domain is not active")
        self.unasked = HostCell(
            host.id, host.name, "connecting", "the engine has not asked the host yet"
        )

    def cell(self, domain: StorageDomain) -> HostCell:
        if self.shared is not None:
            return self.shared
        if domain.status is not DomainStatus.ACTIVE:
            return self.idle
        # Derived from the agent's answer once, and shown from it by every page until the next one.
        key = (domain.id, self.view.host.name)
        cell: HostCell | None = self.view.memo.get(key)
        if cell is None:
            cell = self.view.memo[key] = self._answered_cell(domain)
        return cell

    def _answered_cell(self, domain: StorageDomain) -> HostCell:
        statuses = self.view.domain_statuses(domain.id)
        if not statuses:
            return self.unasked
        host = self.view.host
        failed = [s for s in statuses if not s.get("connected")]
        if not failed:
            paths = ", ".join(str(s.get("path") or "") for s in statuses)
            return HostCell(host.id, host.name, "connected", paths)
        code, message = (failed[0].get("lastError") or [0, ""])[:2]
        if code:
            return HostCell(host.id, host.name, "failed", f"[{code}] {message}")
        return HostCell(host.id, host.name, "connecting", "connecting")
