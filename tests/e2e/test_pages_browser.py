"""Every page in the browser: a host's references, an orphan removed, and an axe scan of each page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine
from tests.integration.engine.conftest import ADMIN, VIEWER
from tests.peers.agent import AgentProcess
from tests.peers.mounts import eventually

from .conftest import axe_violations, describe, screenshot
from .test_storage_flow import _active_domain, _dialog_screenshot, _host, _log_in, _open_dialog, _tmpfs_mount

pytestmark = pytest.mark.root


def test_a_hosts_references_are_listed(page: Any, site: str, engine: Engine, agent_process: AgentProcess) -> None:
    dc = engine.add_data_center("dc1")
    host_id = _host(engine, agent_process, dc.id)
    domain_id = _active_domain(engine, dc.id, "refs1", ConnectionFields(
        type=StorageType.POSIXFS, path="web-refs", vfs_type="tmpfs"))
    _log_in(page, site, ADMIN)
    page.get_by_role("link", name="Hosts").click()
    page.get_by_role("link", name="host1").click()
    reference = page.locator("tr.reference", has_text=f"engine:{domain_id}:")
    reference.wait_for()
    assert "refs1" in reference.inner_text()
    screenshot(page, "host")
    assert page.url.endswith(f"/hosts/{host_id}")


def test_host_maintenance_lets_go_and_activate_brings_back(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess, mount_root: Path
) -> None:
    dc = engine.add_data_center("dc1")
    host_id = _host(engine, agent_process, dc.id)
    _active_domain(engine, dc.id, "maint1", ConnectionFields(type=StorageType.POSIXFS, path="web-maint",
                                                             vfs_type="tmpfs"))
    assert eventually(lambda: _tmpfs_mount(mount_root, "web-maint"), timeout=20)
    _log_in(page, site, ADMIN)
    page.goto(f"{site}/hosts/{host_id}")
    page.get_by_role("button", name="Maintenance host1").click()
    page.get_by_text("Host host1 moved to maintenance.").wait_for()
    assert eventually(lambda: _tmpfs_mount(mount_root, "web-maint") is None, timeout=20)
    page.get_by_role("button", name="Activate host1").click()
    page.get_by_text("Host host1 activated.").wait_for()
    assert eventually(lambda: _tmpfs_mount(mount_root, "web-maint"), timeout=20)
    page.locator("tr.reference", has_text="maint1").wait_for()


def test_an_orphan_connection_is_removed(page: Any, site: str, engine: Engine) -> None:
    orphan = engine.add_connection(ConnectionFields(type=StorageType.LOCALFS, path="/srv/web-orphan"))
    _log_in(page, site, ADMIN)
    page.get_by_role("link", name="Connections").click()
    screenshot(page, "connections")
    page.get_by_role("button", name="Remove /srv/web-orphan").click()
    page.get_by_text("Storage connection /srv/web-orphan removed.").wait_for()
    assert page.locator(f"#connection-{orphan.id}").count() == 0
    assert all(conn.id != orphan.id for conn in engine.list_connections())


@pytest.mark.parametrize("user", [ADMIN, VIEWER], ids=["admin", "viewer"])
def test_every_page_passes_an_axe_scan(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess, user: tuple[str, str]
) -> None:
    dc = engine.add_data_center("dc1")
    host_id = _host(engine, agent_process, dc.id)
    domain_id = _active_domain(engine, dc.id, "axe1", ConnectionFields(
        type=StorageType.POSIXFS, path="web-axe", vfs_type="tmpfs"))
    conn_id = engine.domain_connections(domain_id)[0].id
    engine.add_connection(ConnectionFields(type=StorageType.ISCSI, address="127.0.0.1", port=3260,
                                           target="iqn.2026-11.test:t1"))
    pages = ["/login", "/storage", f"/storage/{domain_id}/edit", "/connections", "/connections/new?type=iscsi",
             f"/connections/{conn_id}/edit", "/datacenters", "/hosts", f"/hosts/{host_id}", "/events"]
    pages += ["/clusters", "/clusters/new", "/hosts/new"]
    page.goto(f"{site}/login")
    assert axe_violations(page) == [], describe(axe_violations(page))
    _log_in(page, site, user)
    for path in pages[1:]:
        page.goto(f"{site}{path}")
        violations = axe_violations(page)
        assert violations == [], f"{path}: {describe(violations)}"
        if user is ADMIN:
            screenshot(page, path.strip("/").split("?")[0].replace("/", "-").replace(domain_id, "domain")
                       .replace(conn_id, "connection").replace(host_id, "host") or "home")
    # And with each dialog open over its list: Manage Domain, a connection, a new one.
    dialogs = [("/storage", "link", "axe1"), ("/connections", "link", "web-axe (tmpfs)")]
    if user is ADMIN:
        dialogs.append(("/connections", "button", "New connection"))
    for path, role, name in dialogs:
        page.goto(f"{site}{path}")
        dialog = _open_dialog(page, name, role=role)
        dialog.locator("form").first.wait_for()
        violations = axe_violations(page)
        assert violations == [], f"{path} with the dialog of {name}: {describe(violations)}"
        if user is ADMIN and name == "New connection":
            dialog.get_by_label("Storage type").select_option("iscsi")
            dialog.get_by_role("button", name="Choose").click()
            dialog.get_by_label("CHAP password").wait_for()
            violations = axe_violations(page)
            assert violations == [], f"the new iSCSI connection dialog: {describe(violations)}"
            _dialog_screenshot(page, "connection-dialog")
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('manage-dialog').open")
