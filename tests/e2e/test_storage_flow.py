"""Seed 001 in the browser: maintenance, edit the mount options, activate, and see it on the host."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from storconn.engine.model import ConnectionFields, DomainStatus, StorageType
from storconn.engine.service import Engine
from tests.integration.engine.conftest import ADMIN, VIEWER
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually, mounts_under

from .conftest import axe_violations, describe, screenshot

pytestmark = pytest.mark.root


def _log_in(page: Any, site: str, user: tuple[str, str]) -> None:
    page.goto(f"{site}/login")
    page.get_by_label("User name").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/storage"))


def _host(engine: Engine, agent: AgentProcess, dc_id: str) -> str:
    token = (agent.state_dir / "token").read_text().strip()
    host = engine.add_host("host1", address="127.0.0.1", port=agent.port, token=token, data_center_id=dc_id)
    assert host.status.value == "up"
    return host.id


def _active_domain(engine: Engine, dc_id: str, name: str, fields: ConnectionFields) -> str:
    domain = engine.add_domain(name, storage_type=fields.type or StorageType.POSIXFS, connection=fields)
    if engine.attach_domain(dc_id, domain.id).status is DomainStatus.MAINTENANCE:
        engine.activate_domain(dc_id, domain.id)
    return domain.id


def _tmpfs_mount(mount_root: Path, source: str) -> Any:
    found = [entry for entry in mounts_under(mount_root).values() if entry.source == source]
    return found[0] if found else None


def test_maintenance_edit_activate_reaches_the_host(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess, mount_root: Path
) -> None:
    dc = engine.add_data_center("dc1")
    _host(engine, agent_process, dc.id)
    _active_domain(engine, dc.id, "scratch1", ConnectionFields(
        type=StorageType.POSIXFS, path="web-scratch", vfs_type="tmpfs", mount_options="size=16m"))
    assert eventually(lambda: _tmpfs_mount(mount_root, "web-scratch"), timeout=20)

    _log_in(page, site, ADMIN)
    row = page.locator("tr", has_text="scratch1")
    row.locator(".host-state.connected").wait_for(timeout=20_000)
    screenshot(page, "storage")
    assert axe_violations(page) == [], describe(axe_violations(page))

    row.get_by_role("button", name="Maintenance scratch1").click()
    page.get_by_text("moved to maintenance").wait_for()
    assert eventually(lambda: _tmpfs_mount(mount_root, "web-scratch") is None, timeout=20)

    page.get_by_role("link", name="scratch1").click()
    page.get_by_label("Mount options").fill("size=32m")
    screenshot(page, "edit")
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Storage domain scratch1 saved.").wait_for()

    page.locator("tr", has_text="scratch1").get_by_role("button", name="Activate scratch1").click()
    page.get_by_text("activated").wait_for()
    mounted = eventually(lambda: _tmpfs_mount(mount_root, "web-scratch"), timeout=20)
    assert "size=32768k" in mounted.super_options
    # The host column turns connected, by the page's own poll.
    page.locator("tr", has_text="scratch1").locator(".host-state.connected").wait_for(timeout=20_000)


def test_editing_an_active_domains_connection_is_not_offered_and_refused_by_the_engine(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess
) -> None:
    dc = engine.add_data_center("dc1")
    _host(engine, agent_process, dc.id)
    _active_domain(engine, dc.id, "busy", ConnectionFields(
        type=StorageType.POSIXFS, path="web-busy", vfs_type="tmpfs"))
    _log_in(page, site, ADMIN)
    page.get_by_role("link", name="busy").click()
    assert page.get_by_label("Mount options").is_disabled()
    # A forged request past the disabled fields: the engine refuses with oVirt's words.
    token = page.locator("input[name=csrf_token]").first.input_value()
    domain_id = page.url.rstrip("/").split("/")[-2]
    answer = page.request.post(f"{site}/storage/{domain_id}/edit", form={
        "csrf_token": token, "name": "busy", "spec": "web-other", "vfs_type": "tmpfs"})
    assert answer.status == 400
    assert "Cannot edit Storage Connection." in answer.text() and "maintenance" in answer.text()
    conns = engine.domain_connections(domain_id)
    assert conns[0].connection == "web-busy"


def test_the_test_button_shows_the_agents_answer(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess
) -> None:
    dc = engine.add_data_center("dc1")
    _host(engine, agent_process, dc.id)
    domain = engine.add_domain("local1", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/storconn-web-none"))
    _log_in(page, site, ADMIN)
    page.goto(f"{site}/storage/{domain.id}/edit")
    page.get_by_label("Path").fill("/srv/storconn-web-missing")
    page.get_by_role("button", name="Test").click()
    answer = page.locator("#test-result .test-answer")
    answer.wait_for(timeout=40_000)
    assert "[453]" in answer.inner_text() and "host1" in answer.inner_text()
    screenshot(page, "test-button")
    assert engine.domain_connections(domain.id)[0].connection == "/srv/storconn-web-none"  # nothing saved


def test_a_viewer_sees_no_action(page: Any, site: str, engine: Engine) -> None:
    dc = engine.add_data_center("dc1", local=True)
    domain = engine.add_domain("seen", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/seen"))
    engine.attach_domain(dc.id, domain.id)
    _log_in(page, site, VIEWER)
    assert page.locator("tr", has_text="seen").get_by_role("button").count() == 0
    page.get_by_role("link", name="seen").click()
    assert page.get_by_role("button", name="Save").count() == 0
    assert page.get_by_label("Name").is_disabled()
    assert axe_violations(page) == [], describe(axe_violations(page))
