"""Prometheus metrics of one agent, in a registry of its own so several agents can share a process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


# Method names are the client's text: labelled as they are, they would make
# unbounded series (and one lone surrogate made every later /metrics fail).
UNKNOWN_METHOD = "unknown"


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._methods: frozenset[str] = frozenset()
        self._request_series: dict[tuple[str, str], Any] = {}
        self.operations = Counter(
            "storconn_operations",
            "Connect, disconnect and repair operations, by verb and result",
            ["verb", "result"],
            registry=self.registry,
        )
        self.operation_seconds = Histogram(
            "storconn_operation_seconds",
            "Duration of connect, disconnect and repair operations",
            ["verb"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.requests = Counter(
            "storconn_rpc_requests",
            "JSON-RPC calls, by method and outcome",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.references = Gauge(
            "storconn_references", "References held", registry=self.registry
        )
        self.waits = Gauge(
            "storconn_rpc_waits", "ConnectionRefs.wait calls in flight", registry=self.registry
        )
        self.targets = Gauge(
            "storconn_targets",
            "Referenced targets, by state",
            ["state"],
            registry=self.registry,
        )

    def known_methods(self, names: Iterable[str]) -> None:
        """The method names that may be labels; every other name counts as ``unknown``."""
        self._methods = frozenset(names)

    def rpc_done(self, method: object, *, ok: bool) -> None:
        label = method if isinstance(method, str) and method in self._methods else UNKNOWN_METHOD
        key = (label, "ok" if ok else "error")
        # labels() takes a lock and builds a key per call: once per series is enough.
        child = self._request_series.get(key)
        if child is None:
            child = self._request_series.setdefault(key, self.requests.labels(*key))
        child.inc()

    def operation_done(self, verb: str, succeeded: bool, seconds: float) -> None:
        self.operations.labels(verb, "ok" if succeeded else "failed").inc()
        self.operation_seconds.labels(verb).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
