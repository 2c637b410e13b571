"""Whatever a client sends, the agent answers clearly, keeps serving, and keeps its references."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.peers.agent import AgentProcess

GOOD = {"type": "localfs", "params": {"path": "/srv/storconn-test-data"}}


def _post(agent: AgentProcess, body: bytes | str, *, token: str | None = None) -> httpx.Response:
    token = token if token is not None else (agent.state_dir / "token").read_text().strip()
    return httpx.post(f"{agent.url}/jsonrpc", content=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def _call(agent: AgentProcess, method: str, params: Any) -> dict[str, Any]:
    response = _post(agent, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def seeded(agent_process: AgentProcess) -> AgentProcess:
    with agent_process.client() as client:
        assert client.acquire({"keep": GOOD}) == {"keep": 0}
    return agent_process


def _still_serving_with_refs_intact(agent: AgentProcess) -> None:
    with agent.client() as client:
        statuses = client.statuses()
    assert statuses["keep"]["connectionInfo"] == GOOD
    assert [i for i in statuses if not i.startswith("unmanaged:")] == ["keep"]


def test_non_json_is_a_parse_error(seeded: AgentProcess) -> None:
    answer = _post(seeded, b"{not json").json()
    assert answer["error"]["code"] == -32700
    _still_serving_with_refs_intact(seeded)


@pytest.mark.parametrize(
    "request_body, code",
    [
        ([], -32600),
        ("just a string", -32600),
        ({"jsonrpc": "1.0", "id": 1, "method": "ConnectionRefs.statuses"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": 42}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.nope"}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire", "params": "x"}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire", "params": {}}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.release", "params": {"refIDs": "keep"}}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.wait", "params": {"refIDs": ["keep"], "timeout": 301}}, -32602),
    ],
)
def test_wrong_shapes_get_jsonrpc_errors(seeded: AgentProcess, request_body: Any, code: int) -> None:
    answer = _post(seeded, json.dumps(request_body)).json()
    if isinstance(answer, list):
        (answer,) = answer
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    _still_serving_with_refs_intact(seeded)


def test_invalid_params_name_the_field(seeded: AgentProcess) -> None:
    answer = _call(seeded, "ConnectionRefs.release", {"refIDs": "keep"})
    assert answer["error"]["data"]["field"] == "params.refIDs"
    assert "params.refIDs" in answer["error"]["message"]


@pytest.mark.parametrize("bad_id", ["a/b", ""])
def test_bad_ids_get_1000(seeded: AgentProcess, bad_id: str) -> None:
    assert _call(seeded, "ConnectionRefs.acquire", {"conRefArgs": {bad_id: GOOD}})["result"] == {bad_id: 1000}
    _still_serving_with_refs_intact(seeded)


@pytest.mark.parametrize(
    "info",
    [
        {"type": "zfs", "params": {}},
        {"type": "nfs", "params": {}},
        {"type": "posixfs", "params": {"spec": "x"}},
        {"params": {"path": "/x"}},
        {"type": "localfs", "params": {"path": "relative"}},
        "not an object",
    ],
)
def test_bad_infos_get_1000_per_entry(seeded: AgentProcess, info: Any) -> None:
    result = _call(seeded, "ConnectionRefs.acquire", {"conRefArgs": {"bad": info, "good": GOOD}})["result"]
    assert result == {"bad": 1000, "good": 0}
    with seeded.client() as client:
        client.release(["good"])
    _still_serving_with_refs_intact(seeded)


def test_ten_megabyte_body_is_413(seeded: AgentProcess) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire",
                       "params": {"conRefArgs": {"big": {"type": "localfs", "params": {"path": "/" + "x" * 10_000_000}}}}})
    assert _post(seeded, body).status_code == 413
    _still_serving_with_refs_intact(seeded)


def test_missing_or_wrong_token_is_401(seeded: AgentProcess) -> None:
    assert _post(seeded, "{}", token="wrong").status_code == 401
    assert httpx.post(f"{seeded.url}/jsonrpc", content="{}").status_code == 401
    _still_serving_with_refs_intact(seeded)


def test_token_file_is_private(agent_process: AgentProcess) -> None:
    assert (agent_process.state_dir / "token").stat().st_mode & 0o777 == 0o600


def test_batch_answers_each_call_and_skips_notifications(seeded: AgentProcess) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.statuses", "params": {"refIDs": ["keep"]}},
        {"jsonrpc": "2.0", "method": "ConnectionRefs.statuses"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        17,
    ]
    answers = _post(seeded, json.dumps(batch)).json()
    assert [a.get("id") for a in answers] == [1, 2, None]
    assert "keep" in answers[0]["result"]
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["error"]["code"] == -32600


def test_manage_unmanage_share_the_id_space(seeded: AgentProcess) -> None:
    assert _call(seeded, "StorageConnection.manage", {"uri": "localfs:///srv/other", "connectionID": "keep"})["result"] == 478
    assert _call(seeded, "StorageConnection.manage", {"uri": "localfs:///srv/other", "connectionID": "m1"})["result"] == 0
    assert "m1" in _call(seeded, "StorageConnection.list", {})["result"]
    assert _call(seeded, "StorageConnection.unmanage", {"connectionID": "m1"})["result"] == 0
    assert _call(seeded, "StorageConnection.unmanage", {"connectionID": "m1"})["result"] == 479
    assert _call(seeded, "StorageConnection.manage", {"uri": "bogus://x", "connectionID": "m2"})["result"] == 1000


def test_healthz_and_metrics(seeded: AgentProcess) -> None:
    assert httpx.get(f"{seeded.url}/healthz").json() == {"status": "ok", "references": 1}
    metrics = httpx.get(f"{seeded.url}/metrics").text
    assert "storconn_references 1.0" in metrics
    assert 'storconn_targets{state="disconnected"} 1.0' in metrics  # /srv/storconn-test-data does not exist
