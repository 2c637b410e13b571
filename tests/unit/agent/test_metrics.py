"""RPC metrics label only the methods the agent has."""

from __future__ import annotations

from storconn.agent.metrics import AgentMetrics


def test_unknown_and_unencodable_method_names_count_as_unknown() -> None:
    metrics = AgentMetrics()
    metrics.known_methods(["ConnectionRefs.acquire"])
    metrics.rpc_done("ConnectionRefs.acquire", ok=True)
    for name in ["nope", "\ud800", None, 42, "x" * 10_000]:
        metrics.rpc_done(name, ok=False)
    text = metrics.render().decode()
    assert 'storconn_rpc_requests_total{method="ConnectionRefs.acquire",outcome="ok"} 1.0' in text
    assert 'storconn_rpc_requests_total{method="unknown",outcome="error"} 5.0' in text
    assert "nope" not in text

