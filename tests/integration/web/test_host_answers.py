"""The Storage page's per-host cells come from answers the engine keeps a few seconds, not one question a view."""

from __future__ import annotations

import re
import socket
import time

import httpx

from storconn.engine.model import ConnectionFields, HostStatus, StorageType
from storconn.engine.service import Engine
from storconn.engine.service import host_state
from tests.peers.agent import AgentProcess

from tests.integration.engine.conftest import ADMIN

from .test_pages import _csrf, _login


def _statuses_asked(agent: AgentProcess) -> int:
    """How many ConnectionRefs.statuses calls the agent has answered (its own metrics)."""
    metrics = httpx.get(f"{agent.url}/metrics", timeout=10).text
    found = re.findall(r'storconn_rpc_requests_total\{method="ConnectionRefs.statuses",outcome="ok"\} (\S+)', metrics)
    return int(float(found[0])) if found else 0


def _active_tmpfs_domain(engine: Engine, agent: AgentProcess) -> tuple[str, str]:
    token = (agent.state_dir / "token").read_text().strip()
    dc = engine.add_data_center("dc1")
    engine.add_host("h1", address="127.0.0.1", port=agent.port, token=token, data_center_id=dc.id)
    domain = engine.add_domain("sd1", storage_type=StorageType.POSIXFS, connection=ConnectionFields(
        type=StorageType.POSIXFS, path="scratch", vfs_type="tmpfs"))
    engine.attach_domain(dc.id, domain.id)  # attaching activates: h1 holds the domain
    return dc.id, domain.id


def test_pages_in_quick_succession_ask_the_agent_once(site: str, engine: Engine, agent_process: AgentProcess) -> None:
    _, domain_id = _active_tmpfs_domain(engine, agent_process)
    admin = _login(site, ADMIN)
    first = admin.get("/storage").text
    assert "h1: connected" in first
    asked = _statuses_asked(agent_process)
    assert asked >= 1, "the agent's metrics do not count the page's question"
    for _ in range(5):
        assert "h1: connected" in admin.get("/storage/rows").text
    assert _statuses_asked(agent_process) == asked, "each view asked the agent again"


def test_an_answer_older_than_the_refresh_age_is_asked_again(
    site: str, engine: Engine, agent_process: AgentProcess, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(host_state, "REFRESH_AFTER", 0.2)
    _active_tmpfs_domain(engine, agent_process)
    admin = _login(site, ADMIN)
    admin.get("/storage")
    asked = _statuses_asked(agent_process)
    time.sleep(0.3)
    admin.get("/storage/rows")  # shows the answer it has, and asks again behind it
    deadline = time.monotonic() + 10
    while _statuses_asked(agent_process) == asked:
        assert time.monotonic() < deadline, "the stale answer was never refreshed"
        time.sleep(0.1)


def test_a_web_action_shows_the_hosts_new_state_at_once(site: str, engine: Engine, agent_process: AgentProcess) -> None:
    _, domain_id = _active_tmpfs_domain(engine, agent_process)
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)  # h1's answer: connected, kept for a while
    admin.post(f"/storage/{domain_id}/maintenance", data={"csrf_token": token})
    assert "h1: idle" in admin.get("/storage/rows").text
    admin.post(f"/storage/{domain_id}/activate", data={"csrf_token": token})
    rows = admin.get("/storage/rows").text
    assert "h1: connected" in rows, "the page showed what the agent said before the activation"


def test_a_hung_agent_costs_a_page_at_most_the_page_wait(site: str, engine: Engine) -> None:
    hung = socket.socket()  # takes the connection, never answers
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    try:
        dc = engine.add_data_center("dc1")
        engine.add_host("hung", address="127.0.0.1", port=hung.getsockname()[1], token="t", data_center_id=dc.id)
        domain = engine.add_domain("sd1", storage_type=StorageType.POSIXFS, connection=ConnectionFields(
            type=StorageType.POSIXFS, path="scratch", vfs_type="tmpfs"))
        with engine._tx() as repo:  # Up as far as the engine knows, and holding the domain
            repo.set_host_status(engine.get_host("hung").id, HostStatus.UP)
            stored = repo.domain(domain.id)
            assert stored is not None
            stored.data_center_id, stored.status = dc.id, stored.status.ACTIVE
            repo.save_domain(stored)
        admin = _login(site, ADMIN)
        for _ in range(2):  # the second view finds the first question still unanswered
            started = time.monotonic()
            page = admin.get("/storage").text
            assert time.monotonic() - started < host_state.PAGE_WAIT + 2.0
            assert "hung: non responsive" in page and "did not answer" in page
    finally:
        hung.close()
