"""One bad id in a batch fails alone: the good ones are stored, held, and survive a restart (defect 4).

Before the fix a lone surrogate passed the id check, sqlite3 raised
UnicodeEncodeError inside the group commit, the batch answered -32603 and
the good id was lost (479) while the store kept a transaction open.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.peers.agent import AgentProcess

GOOD = {"type": "localfs", "params": {"path": "/srv/storconn-test-data"}}


def _post(agent: AgentProcess, payload: Any) -> Any:
    token = (agent.state_dir / "token").read_text().strip()
    # json.dumps writes a lone surrogate as the escape "\ud800", as a hostile client would.
    response = httpx.post(f"{agent.url}/jsonrpc", content=json.dumps(payload), timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def _call(agent: AgentProcess, method: str, params: Any) -> Any:
    answer = _post(agent, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    assert "error" not in answer, answer
    return answer["result"]


def _held(agent: AgentProcess) -> dict[str, Any]:
    statuses = _call(agent, "ConnectionRefs.statuses", {})
    return {ref_id: status for ref_id, status in statuses.items() if not ref_id.startswith("unmanaged:")}


@pytest.mark.parametrize("bad_id", ["\ud800", "a\udc00b", "nul\x00", "esc\x1b[2J", "c1\x85"])
def test_a_bad_id_in_a_batch_fails_alone_and_the_good_one_survives_a_restart(
    agent_process: AgentProcess, bad_id: str
) -> None:
    result = _call(agent_process, "ConnectionRefs.acquire", {"conRefArgs": {"good": GOOD, bad_id: GOOD}})
    assert result == {"good": 0, bad_id: 1000}
    assert list(_held(agent_process)) == ["good"]
    # The store is not left inside a transaction: the next write works.
    assert _call(agent_process, "ConnectionRefs.acquire", {"conRefArgs": {"next": GOOD}}) == {"next": 0}

    agent_process.stop()
    agent_process.start()
    held = _held(agent_process)
    assert sorted(held) == ["good", "next"]
    assert held["good"]["connectionInfo"] == GOOD


def test_a_bad_id_in_one_call_of_a_jsonrpc_batch_fails_only_that_entry(agent_process: AgentProcess) -> None:
    answers = _post(agent_process, [
        {"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire", "params": {"conRefArgs": {"good": GOOD}}},
        {"jsonrpc": "2.0", "id": 2, "method": "ConnectionRefs.acquire", "params": {"conRefArgs": {"\ud800": GOOD}}},
    ])
    assert [a["result"] for a in answers] == [{"good": 0}, {"\ud800": 1000}]
    assert list(_held(agent_process)) == ["good"]


def test_every_way_an_id_comes_in_refuses_a_bad_one(agent_process: AgentProcess) -> None:
    _call(agent_process, "ConnectionRefs.acquire", {"conRefArgs": {"good": GOOD}})
    bad = "\ud800"
    assert _call(agent_process, "ConnectionRefs.release", {"refIDs": [bad]}) == {bad: 1000}
    assert _call(agent_process, "ConnectionRefs.release", {"prefixes": [bad + ":"]}) == {bad + ":": 1000}
    assert _call(agent_process, "ConnectionRefs.statuses", {"refIDs": [bad]})[bad]["lastError"][0] == 1000
    assert _call(agent_process, "ConnectionRefs.wait", {"refIDs": [bad], "timeout": 0})[bad]["lastError"][0] == 1000
    assert _call(agent_process, "StorageConnection.manage", {"uri": "localfs:///srv/x", "connectionID": bad}) == 1000
    assert _call(agent_process, "StorageConnection.unmanage", {"connectionID": bad}) == 1000
    assert list(_held(agent_process)) == ["good"]


NOT_STRINGS: list[Any] = [1, None, [1], {"a": 1}, 2.5, False]
KEYS = ["1", "null", "[1]", '{"a":1}', "2.5", "false"]


def test_non_string_ref_ids_are_judged_per_entry(agent_process: AgentProcess) -> None:
    """Defect 13: a number among the ids used to fail the whole release."""
    _call(agent_process, "ConnectionRefs.acquire", {"conRefArgs": {"a": GOOD, "b": GOOD, "flow:c": GOOD}})
    released = _call(agent_process, "ConnectionRefs.release",
                     {"refIDs": [*NOT_STRINGS, "a", "nope"], "prefixes": [*NOT_STRINGS, "flow:"]})
    assert released == {**dict.fromkeys(KEYS, 1000), "a": 0, "nope": 479, "flow:c": 0}

    statuses = _call(agent_process, "ConnectionRefs.statuses", {"refIDs": [*NOT_STRINGS, "b"]})
    assert statuses.pop("b")["managed"] is True
    assert {key: s["lastError"][0] for key, s in statuses.items()} == dict.fromkeys(KEYS, 1000)
    waited = _call(agent_process, "ConnectionRefs.wait", {"refIDs": [*NOT_STRINGS, "b"], "timeout": 0})
    assert set(waited) == {*KEYS, "b"}
    assert list(_held(agent_process)) == ["b"]
