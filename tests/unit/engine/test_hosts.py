"""The host dispatcher against fake agents (hosts.py); real agents: tests/integration/engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from storconn.agent.client import AgentUnavailable
from storconn.connection import ConnectionInfo, parse_info
from storconn.engine.hosts import HostDispatcher, agent_url
from storconn.engine.model import Host

A = parse_info({"type": "localfs", "params": {"path": "/srv/a"}})
B = parse_info({"type": "localfs", "params": {"path": "/srv/b"}})
TMPFS_16 = parse_info(
    {"type": "posixfs", "params": {"spec": "s", "vfsType": "tmpfs", "options": "size=16m"}}
)
TMPFS_32 = parse_info(
    {"type": "posixfs", "params": {"spec": "s", "vfsType": "tmpfs", "options": "size=32m"}}
)


class FakeAgent:
    """Enough of AgentClient: references by id, 490 for one identity with other details."""

    def __init__(self) -> None:
        self.refs: dict[str, ConnectionInfo] = {}
        self.calls: list[str] = []
        self.down = False
        self.delay = 0.0
        self.mutex = threading.Lock()

    def _enter(self, name: str) -> None:
        if self.delay:
            time.sleep(self.delay)
        if self.down:
            raise AgentUnavailable("connection refused")
        self.calls.append(name)

    def statuses(self, ref_ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        self._enter("statuses")
        return {ref: {"connected": True} for ref in self.refs} | {
            "unmanaged:1": {"connected": True}
        }

    def acquire(self, refs: Mapping[str, ConnectionInfo]) -> dict[str, int]:
        self._enter("acquire")
        answers = {}
        for ref, info in refs.items():
            clash = [
                old for old in self.refs.values() if old.identity == info.identity and old != info
            ]
            if clash:
                answers[ref] = 490
            else:
                self.refs[ref] = info
                answers[ref] = 0
        return answers

    def release(
        self, ref_ids: Sequence[str] = (), *, prefixes: Sequence[str] = ()
    ) -> dict[str, int]:
        self._enter("release")
        answers = {}
        for ref in ref_ids:
            answers[ref] = 0 if self.refs.pop(ref, None) is not None else 479
        for prefix in prefixes:
            for ref in [r for r in self.refs if r.startswith(prefix)]:
                del self.refs[ref]
                answers[ref] = 0
        return answers

    def wait(self, ref_ids: Sequence[str], timeout: float) -> dict[str, dict[str, Any]]:
        self._enter("wait")
        return {ref: {"connected": ref in self.refs, "lastError": [0, ""]} for ref in ref_ids}

    def close(self) -> None:
        pass


def host(hid: str = "h1") -> Host:
    return Host(id=hid, name=f"name-{hid}", address="127.0.0.1", port=1, token="t")


@pytest.fixture
def agents() -> dict[str, FakeAgent]:
    return {}


@pytest.fixture
def dispatcher(agents: dict[str, FakeAgent]) -> HostDispatcher:
    def factory(h: Host) -> Any:
        return agents.setdefault(h.id, FakeAgent())

    result = HostDispatcher(timeout=0.5, client_factory=factory)
    yield result  # type: ignore[misc]
    result.close()


def test_sync_acquires_what_is_missing(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    result = dispatcher.sync_host(host(), lambda h: {"engine:d:c:1": A})
    assert result.acquired == ["engine:d:c:1"] and set(agents["h1"].refs) == {"engine:d:c:1"}


def test_sync_releases_leftover_engine_refs(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    dispatcher.sync_host(host(), lambda h: {"engine:d:c:1": A})
    agents["h1"].refs["other-client"] = B
    result = dispatcher.sync_host(host(), lambda h: {})
    assert result.released == ["engine:d:c:1"]
    assert set(agents["h1"].refs) == {"other-client"}  # never touches ids that are not the engine's


def test_sync_acquires_before_it_releases(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    dispatcher.sync_host(host(), lambda h: {"engine:d:c:1": A})
    agents["h1"].calls.clear()
    dispatcher.sync_host(host(), lambda h: {"engine:d:c:2": B})
    assert agents["h1"].calls == ["statuses", "acquire", "release"]


def test_sync_reads_the_agent_before_asking_what_is_desired(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    order: list[str] = []

    def desired(h: Host) -> dict[str, ConnectionInfo]:
        order.append(f"desired after {agents['h1'].calls[-1]}")
        return {}

    dispatcher.sync_host(host(), desired)
    assert order == ["desired after statuses"]


def test_new_revision_of_the_same_target_replaces_the_old(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    dispatcher.sync_host(host(), lambda h: {"engine:d:c:1": TMPFS_16})
    result = dispatcher.sync_host(host(), lambda h: {"engine:d:c:2": TMPFS_32})
    assert result.ok and result.acquired == ["engine:d:c:2"] and "engine:d:c:1" in result.released
    assert agents["h1"].refs == {"engine:d:c:2": TMPFS_32}


def test_sync_reports_refused_references(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    agents["h1"] = FakeAgent()
    agents["h1"].refs["someone-else"] = TMPFS_16
    result = dispatcher.sync_host(host(), lambda h: {"engine:d:c:1": TMPFS_32})
    assert result.failed == {"engine:d:c:1": 490}


def test_sync_releases_flows_that_are_not_live(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    agents["h1"] = FakeAgent()
    agents["h1"].refs.update({"engine-flow:dead:0": A, "engine-flow:live:0": B})
    result = dispatcher.sync_host(host(), lambda h: {}, live_flows=lambda: {"live"})
    assert result.flows_released == ["dead"] and set(agents["h1"].refs) == {"engine-flow:live:0"}


def test_sync_without_live_flows_leaves_flows_alone(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    agents["h1"] = FakeAgent()
    agents["h1"].refs["engine-flow:x:0"] = A
    dispatcher.sync_host(host(), lambda h: {})
    assert "engine-flow:x:0" in agents["h1"].refs


def test_unreachable_host_is_reported(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    agents["h2"] = FakeAgent()
    agents["h2"].down = True
    result = dispatcher.sync([host("h1"), host("h2")], lambda h: {"engine:d:c:1": A})
    assert (
        set(result.ok) == {"h1"}
        and result.unreachable == {"h2"}
        and "name-h2" in result.failed["h2"]
    )


def test_a_host_that_hangs_times_out_without_holding_the_others(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    agents["slow"] = FakeAgent()
    agents["slow"].delay = 5.0
    started = time.monotonic()
    result = dispatcher.sync([host("h1"), host("slow")], lambda h: {})
    assert time.monotonic() - started < 4.0
    assert result.unreachable == {"slow"} and "h1" in result.ok


def test_hosts_are_called_in_parallel(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    for hid in ("a", "b", "c", "d"):
        agents[hid] = FakeAgent()
        agents[hid].delay = 0.3
    started = time.monotonic()
    dispatcher.sync([host(hid) for hid in agents], lambda h: {})
    assert time.monotonic() - started < 1.0


def test_flow_is_released_by_prefix_at_the_end(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    with dispatcher.flow(host(), [A], flow_id="f1") as flow:
        assert flow.ids == ["engine-flow:f1:0"] and flow.codes == {"engine-flow:f1:0": 0}
        assert flow.wait(1)["engine-flow:f1:0"]["connected"]
    assert agents["h1"].refs == {}


def test_flow_is_released_when_the_block_fails(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    with pytest.raises(RuntimeError):
        with dispatcher.flow(host(), [A, B], flow_id="f2"):
            raise RuntimeError
    assert agents["h1"].refs == {} and agents["h1"].calls[-1] == "release"


def test_release_all_releases_engine_refs_and_flows(
    dispatcher: HostDispatcher, agents: dict[str, FakeAgent]
) -> None:
    agents["h1"] = FakeAgent()
    agents["h1"].refs.update({"engine:d:c:1": A, "engine-flow:f:0": B, "mine": TMPFS_16})
    dispatcher.release_all(host())
    assert set(agents["h1"].refs) == {"mine"}


def test_loopback_agents_over_http_others_over_https() -> None:
    assert agent_url(Host(id="h", name="h", address="127.0.0.1", port=5)) == "http://127.0.0.1:5"
    assert agent_url(Host(id="h", name="h", address="::1", port=5)) == "http://[::1]:5"
    assert agent_url(Host(id="h", name="h", address="localhost", port=5)) == "http://localhost:5"
    assert agent_url(Host(id="h", name="h", address="10.0.0.5", port=5)) == "https://10.0.0.5:5"
    assert (
        agent_url(Host(id="h", name="h", address="agent.example.com", port=5))
        == "https://agent.example.com:5"
    )
