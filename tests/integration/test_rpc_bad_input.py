"""Whatever a client sends, the agent answers clearly, keeps serving, and keeps its references."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
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


# -- hostile bytes (defect 13, server side) --------------------------------
# One agent for the module: each case leaves it as it found it, which is
# itself checked.


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    base = tmp_path_factory.mktemp("hostile")
    (base / "mnt").mkdir()
    agent = AgentProcess(base / "state", base / "mnt")
    agent.start()
    with agent.client() as client:
        assert client.acquire({"keep": GOOD}) == {"keep": 0}
    yield agent
    agent.stop()


def _strict_json(response: httpx.Response) -> Any:
    """The body as strict JSON: NaN, Infinity and lone surrogates are refused, as a strict client would."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"the agent sent {constant}, which is not JSON")

    text = response.content.decode("utf-8")
    decoded = json.loads(text, parse_constant=refuse)
    json.dumps(decoded, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return decoded


def test_deeply_nested_json_is_a_parse_error(shared: AgentProcess) -> None:
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        response = _post(shared, body)
        assert response.status_code == 200
        assert response.json()["error"]["code"] == -32700
    _still_serving_with_refs_intact(shared)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_ids_are_refused_with_id_null(shared: AgentProcess, literal: str) -> None:
    body = '{"jsonrpc": "2.0", "id": %s, "method": "ConnectionRefs.statuses", "params": {}}' % literal
    response = _post(shared, body)
    answer = _strict_json(response)
    assert answer["id"] is None
    assert answer["error"]["code"] == -32600
    batch = _strict_json(_post(shared, "[%s]" % body))
    assert batch[0]["error"]["code"] == -32600


@pytest.mark.parametrize("request_id", [True, [1], {"a": 1}, "\ud800"])
def test_ids_that_are_not_ids_are_refused(shared: AgentProcess, request_id: Any) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ConnectionRefs.statuses", "params": {}})
    answer = _strict_json(_post(shared, body))
    assert answer["id"] is None
    assert answer["error"]["code"] == -32600


def test_huge_integer_id_is_echoed_and_longer_ones_are_parse_errors(shared: AgentProcess) -> None:
    big = "9" * 4000
    answer = _strict_json(_post(shared, '{"jsonrpc":"2.0","id":%s,"method":"ConnectionRefs.statuses"}' % big))
    assert answer["id"] == int(big)
    answer = _strict_json(_post(shared, '{"jsonrpc":"2.0","id":%s,"method":"ConnectionRefs.statuses"}' % ("9" * 5000)))
    assert answer["error"]["code"] == -32700


def _rpc_metric_series(agent: AgentProcess) -> list[str]:
    response = httpx.get(f"{agent.url}/metrics", timeout=10)
    assert response.status_code == 200
    return [line for line in response.text.splitlines() if line.startswith("storconn_rpc_requests_total{")]


def test_unknown_method_names_are_one_metric_label(shared: AgentProcess) -> None:
    for n in range(50):
        assert _call(shared, f"Made.up{n}", {})["error"]["code"] == -32601
    body = '{"jsonrpc": "2.0", "id": 1, "method": "\\ud800", "params": {}}'
    assert _post(shared, body).json()["error"]["code"] == -32601
    series = _rpc_metric_series(shared)
    assert 'storconn_rpc_requests_total{method="unknown",outcome="error"}' in " ".join(series)
    assert not [line for line in series if "Made.up" in line]
    assert httpx.get(f"{shared.url}/metrics", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "params, field",
    [
        ({"hostname": "portal\x00.example"}, "params.hostname"),
        ({"hostname": "127.0.0.1", "iface": "default\x00"}, "params.iface"),
        ({"hostname": "127.0.0.1", "iface": "de\nfault"}, "params.iface"),
        ({"hostname": "\ud800"}, "params.hostname"),
        ({"hostname": "-oProxyCommand=x"}, "params.hostname"),
        ({"hostname": "127.0.0.1", "iface": "-x"}, "params.iface"),
        ({"hostname": "127.0.0.1", "port": True}, "params.port"),
        ({"hostname": "127.0.0.1", "port": "3260"}, "params.port"),
    ],
)
def test_discover_refuses_bad_text_as_invalid_params(shared: AgentProcess, params: dict[str, Any], field: str) -> None:
    answer = _call(shared, "Iscsi.discover", params)
    assert answer["error"]["code"] == -32602
    assert answer["error"]["data"]["field"] == field


@pytest.mark.parametrize(
    "method, params, field",
    [
        ("StorageConnection.manage", {"uri": "localfs:///srv\x00x", "connectionID": "m"}, "params.uri"),
        ("StorageConnection.manage", {"uri": "localfs:///srv/\ud800", "connectionID": "m"}, "params.uri"),
        ("StorageConnection.manage", {"uri": "localfs:///srv", "connectionID": 5}, "params.connectionID"),
        ("ConnectionRefs.wait", {"refIDs": ["keep"], "timeout": "5"}, "params.timeout"),
        ("ConnectionRefs.wait", {"refIDs": ["keep"], "timeout": -1}, "params.timeout"),
        ("ConnectionRefs.statuses", {"refIDs": ["x"] * 10_001}, "params.refIDs"),
        ("ConnectionRefs.release", {"refIDs": ["x"] * 10_001}, "params.refIDs"),
        ("ConnectionRefs.wait", {"refIDs": ["x"] * 10_001, "timeout": 1}, "params.refIDs"),
        ("ConnectionRefs.acquire", {"conRefArgs": {f"r{n}": GOOD for n in range(10_001)}}, "params.conRefArgs"),
        ("ConnectionRefs.statuses", {"\ud800": 1}, "params"),
    ],
)
def test_params_name_the_field_and_change_nothing(shared: AgentProcess, method: str, params: Any, field: str) -> None:
    answer = _strict_json(_post(shared, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})))
    assert answer["error"]["code"] == -32602
    assert answer["error"]["data"]["field"] == field
    _still_serving_with_refs_intact(shared)


def test_timeout_nan_is_refused(shared: AgentProcess) -> None:
    body = '{"jsonrpc":"2.0","id":1,"method":"ConnectionRefs.wait","params":{"refIDs":["keep"],"timeout":NaN}}'
    answer = _strict_json(_post(shared, body))
    assert answer["error"]["code"] == -32602
    assert answer["error"]["data"]["field"] == "params.timeout"


def test_duplicate_keys_are_refused_and_acquire_nothing(shared: AgentProcess) -> None:
    body = ('{"jsonrpc":"2.0","id":1,"method":"ConnectionRefs.acquire","params":{"conRefArgs":'
            '{"dup": %s, "dup": %s}}}' % (json.dumps(GOOD), json.dumps({"type": "localfs", "params": {"path": "/srv/x"}})))
    answer = _strict_json(_post(shared, body))
    assert answer["error"]["code"] == -32700
    assert "duplicate key" in answer["error"]["message"]
    _still_serving_with_refs_intact(shared)


def test_batch_size_is_bounded(shared: AgentProcess) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire", "params": {"conRefArgs": {"b": GOOD}}}
    answer = _strict_json(_post(shared, json.dumps([call] * 101)))
    assert answer["error"]["code"] == -32600
    assert "at most 100" in answer["error"]["message"]
    _still_serving_with_refs_intact(shared)  # "b" was not acquired
    assert len(_post(shared, json.dumps([{**call, "method": "ConnectionRefs.statuses", "params": {}}] * 100)).json()) == 100


@pytest.mark.parametrize("name", [[], {}, ["ConnectionRefs.wait"], None, 1.5])
def test_a_method_that_is_not_a_string_is_an_invalid_request(shared: AgentProcess, name: Any) -> None:
    call = {"jsonrpc": "2.0", "id": 7, "method": name, "params": {}}
    assert _strict_json(_post(shared, json.dumps(call)))["error"]["code"] == -32600
    assert _strict_json(_post(shared, json.dumps([call])))[0]["error"]["code"] == -32600


def test_batch_of_non_objects_answers_each(shared: AgentProcess) -> None:
    answers = _strict_json(_post(shared, json.dumps([1, "x", None, [], True])))
    assert [a["error"]["code"] for a in answers] == [-32600] * 5


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_non_json_content_type_is_415(shared: AgentProcess, content_type: str) -> None:
    token = (shared.state_dir / "token").read_text().strip()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ConnectionRefs.acquire", "params": {"conRefArgs": {"ct": GOOD}}})
    response = httpx.post(f"{shared.url}/jsonrpc", content=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert response.status_code == 415
    _still_serving_with_refs_intact(shared)


def test_chunked_body_over_4_mib_is_413(shared: AgentProcess) -> None:
    token = (shared.state_dir / "token").read_text().strip()

    def chunks() -> Iterator[bytes]:
        yield b'{"jsonrpc":"2.0","id":1,"method":"ConnectionRefs.statuses","params":{"refIDs":["'
        for _ in range(80):
            yield b"x" * 65536
        yield b'"]}}'

    response = httpx.post(f"{shared.url}/jsonrpc", content=chunks(), timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 413
    _still_serving_with_refs_intact(shared)


def test_invalid_utf8_is_a_parse_error(shared: AgentProcess) -> None:
    answer = _strict_json(_post(shared, b'{"jsonrpc":"2.0","id":1,"method":"\xff"}'))
    assert answer["error"]["code"] == -32700


def test_empty_token_file_stops_the_start_with_a_clear_message(tmp_path: Path, mount_root: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "token").write_text("")
    agent = AgentProcess(state, mount_root)
    with pytest.raises(RuntimeError, match="token file .* is empty"):
        agent.start()
    agent.stop()


def test_a_request_head_sent_byte_by_byte_is_cut_off(shared: AgentProcess) -> None:
    """Slow-loris: a head that never completes loses its connection (after 10 s), whatever trickles in."""
    with socket.create_connection(("127.0.0.1", shared.port), timeout=30) as sock:
        sock.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 25:
            try:
                sock.sendall(b"X")
                time.sleep(0.5)
            except OSError:
                closed = True
                break
            sock.settimeout(0.01)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed, "the agent kept a connection whose head never completed"
        assert time.monotonic() - started < 15
    _still_serving_with_refs_intact(shared)


def test_the_client_splits_calls_over_the_agents_bound(shared: AgentProcess) -> None:
    ids = [f"many-{n}" for n in range(10_005)]
    with shared.client() as client:
        assert len(client.statuses(ids)) == 10_005
        assert set(client.release(ids).values()) == {479}
        assert len(client.wait(ids, timeout=1)) == 10_005
    _still_serving_with_refs_intact(shared)
