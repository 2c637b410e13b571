"""The client's view of the agent's limits."""

from __future__ import annotations

from storconn.agent import client, rpc_params


def test_the_client_knows_the_agents_bound_on_ids() -> None:
    # The client splits larger calls by this bound; it keeps its own copy so
    # that importing the client does not import the agent.
    assert client.MAX_IDS_PER_CALL == rpc_params.MAX_IDS_PER_CALL
