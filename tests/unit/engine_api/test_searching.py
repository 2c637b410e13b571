"""The field tables of ``api.searching`` for what other branches bring: events and clusters.

Their routes land elsewhere; these tables are ready for them, so they are
checked here over plain objects shaped as those models will be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storconn.engine.api import searching
from storconn.engine.model import DataCenter, Host, HostStatus
from storconn.engine.rules.search import compile_query, parse


@dataclass
class Event:
    id: int
    code: int
    severity: str
    description: str
    host_id: str | None = None


@dataclass
class Cluster:
    id: str
    name: str
    data_center_id: str | None = None


@dataclass
class HostInCluster(Host):
    cluster_id: str | None = None


class StubEngine:
    """What ``Related`` reads: hosts, data centers, domains, clusters."""

    def list_hosts(self) -> list[Host]:
        return [Host("h-1", "h1", "127.0.0.1", 1), Host("h-2", "h2", "127.0.0.2", 1)]

    def list_data_centers(self) -> list[DataCenter]:
        return [DataCenter("dc-1", "dc1")]

    def list_domains(self) -> list[Any]:
        return []

    def list_clusters(self) -> list[Cluster]:
        return [Cluster("c-1", "c1", "dc-1")]


def _run(resource: searching.Resource[Any], query: str, items: list[Any]) -> list[Any]:
    related = searching.Related(StubEngine())  # type: ignore[arg-type]
    compiled = compile_query(parse(query), resource.fields(related), resource=resource.name,
                             entities=resource.prefixes)
    return compiled.apply(items, max=None, page_size=100)


def test_events_as_ovirt_host_searches_them() -> None:
    events = [Event(1, 839, "normal", "installed", "h-1"), Event(2, 887, "error", "failed", "h-2"),
              Event(3, 839, "normal", "installed", "h-2"), Event(4, 12, "alert", "other")]
    found = _run(searching.EVENTS, "type=839 or type=887 and host.name=h2", events)
    assert [e.id for e in found] == [1, 2, 3]
    assert [e.id for e in _run(searching.EVENTS, "severity=alert", events)] == [4]
    assert [e.id for e in _run(searching.EVENTS, "Events: event_host=h1", events)] == [1]


def test_clusters_and_hosts_in_them() -> None:
    assert _run(searching.CLUSTERS, 'name="c1" and datacenter=dc1', [Cluster("c-1", "c1", "dc-1")])
    hosts = [HostInCluster("h-1", "h1", "a", 1, status=HostStatus.UP, cluster_id="c-1"),
             HostInCluster("h-2", "h2", "b", 1)]
    assert [h.name for h in _run(searching.HOSTS, "cluster=c1", hosts)] == ["h1"]
