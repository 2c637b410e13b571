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


def _open_dialog(page: Any, link: str, role: str = "link") -> Any:
    """Click a list's link that opens a form in the page's dialog; the dialog, open."""
    page.get_by_role(role, name=link, exact=True).click()
    dialog = page.locator("#manage-dialog[open]")
    dialog.wait_for()
    return dialog


def _wait_focus_on(page: Any, text: str) -> None:
    """Focus lands on the element saying ``text`` (the dialog gives it back as it closes)."""
    page.wait_for_function("t => document.activeElement.textContent.trim() === t", arg=text, timeout=10_000)


def _dialog_screenshot(page: Any, name: str) -> None:
    """The open dialog whole: a modal stays in the viewport, so the viewport grows for the picture."""
    size = page.viewport_size
    page.set_viewport_size({"width": 1280, "height": 1300})
    page.evaluate("() => { document.getElementById('dialog-body').scrollTop = 0; }")
    screenshot(page, name)
    page.set_viewport_size(size)


def _dialog_open(page: Any) -> bool:
    return bool(page.evaluate("() => document.getElementById('manage-dialog').open"))


def test_maintenance_edit_activate_reaches_the_host(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess, mount_root: Path
) -> None:
    dc = engine.add_data_center("dc1")
    _host(engine, agent_process, dc.id)
    domain_id = _active_domain(engine, dc.id, "scratch1", ConnectionFields(
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

    # Manage Domain opens over the list, not as a page of its own.
    dialog = _open_dialog(page, "scratch1")
    assert "/edit" not in page.url
    page.wait_for_function("() => document.activeElement.id === 'f-name'")  # its first field
    dialog.get_by_label("Mount options").fill("size=32m")
    # The rows' poll replaces the table under the open dialog, and leaves the dialog alone.
    page.evaluate("""() => { window.polls = 0; document.getElementById('domain-rows')
        .addEventListener('htmx:afterSwap', () => { window.polls += 1; }); }""")
    page.wait_for_function("() => window.polls >= 1", timeout=15_000)
    assert _dialog_open(page) and dialog.get_by_label("Mount options").input_value() == "size=32m"
    _dialog_screenshot(page, "manage-domain-dialog")
    assert axe_violations(page) == [], describe(axe_violations(page))
    dialog.get_by_label("Mount options").press("Enter")  # saves, as Save does (not Test, the button before it)
    page.locator("#notices", has_text="Storage domain scratch1 saved.").wait_for()
    page.wait_for_function("() => !document.getElementById('manage-dialog').open")
    assert engine.domain_connections(domain_id)[0].mount_options == "size=32m"
    # Focus is back on the link that opened it (in the rows fetched again after the save).
    _wait_focus_on(page, "scratch1")

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
    domain_id = _active_domain(engine, dc.id, "busy", ConnectionFields(
        type=StorageType.POSIXFS, path="web-busy", vfs_type="tmpfs"))
    _log_in(page, site, ADMIN)
    dialog = _open_dialog(page, "busy")
    assert dialog.get_by_label("Mount options").is_disabled()
    # A forged edit past the disabled fields (or a domain activated meanwhile): the engine refuses
    # with oVirt's words, inside the dialog, which stays open with what was typed.
    page.evaluate("() => document.querySelectorAll('#manage-dialog fieldset').forEach(f => { f.disabled = false; })")
    dialog.get_by_label("Path").fill("web-other")
    dialog.get_by_role("button", name="Save").click()
    problem = dialog.locator("#problem .notice")
    problem.wait_for()
    assert "Cannot edit Storage Connection." in problem.inner_text() and "maintenance" in problem.inner_text()
    assert _dialog_open(page) and dialog.get_by_label("Path").input_value() == "web-other"
    page.wait_for_function("() => document.activeElement.matches('#problem .notice')")
    assert engine.domain_connections(domain_id)[0].connection == "web-busy"
    _dialog_screenshot(page, "manage-domain-refused")
    # Escape closes it, and focus goes back to the link that opened it.
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('manage-dialog').open")
    page.locator("#manage-dialog #f-name").wait_for(state="detached")  # the form went with it
    _wait_focus_on(page, "busy")


def test_the_test_button_shows_the_agents_answer(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess
) -> None:
    dc = engine.add_data_center("dc1")
    _host(engine, agent_process, dc.id)
    domain = engine.add_domain("local1", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/storconn-web-none"))
    _log_in(page, site, ADMIN)
    dialog = _open_dialog(page, "local1")
    dialog.get_by_label("Path").fill("/srv/storconn-web-missing")
    dialog.get_by_role("button", name="Test").click()
    answer = dialog.locator("#test-result .test-answer")
    answer.wait_for(timeout=40_000)
    assert "[453]" in answer.inner_text() and "host1" in answer.inner_text()
    assert dialog.locator("#test-result").get_attribute("aria-live") == "polite"
    _dialog_screenshot(page, "test-button")
    assert engine.domain_connections(domain.id)[0].connection == "/srv/storconn-web-none"  # nothing saved
    dialog.get_by_role("button", name="Cancel").click()
    page.wait_for_function("() => !document.getElementById('manage-dialog').open")
    _wait_focus_on(page, "local1")
    assert engine.domain_connections(domain.id)[0].connection == "/srv/storconn-web-none"


def test_a_domain_gone_meanwhile_opens_its_page_which_says_so(page: Any, site: str, engine: Engine) -> None:
    domain = engine.add_domain("gone1", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/gone"))
    _log_in(page, site, ADMIN)
    page.get_by_role("link", name="gone1", exact=True).wait_for()
    engine.remove_domain(domain.id)  # after the page, before the next poll
    page.get_by_role("link", name="gone1", exact=True).click()
    page.get_by_text("No such storage domain.").wait_for()
    assert page.url.endswith(f"/storage/{domain.id}/edit")


def test_the_no_javascript_page_still_edits(page: Any, site: str, engine: Engine) -> None:
    domain = engine.add_domain("plain1", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/plain"))
    _log_in(page, site, ADMIN)
    page.goto(f"{site}/storage/{domain.id}/edit")  # the link's own page: a new tab, no script
    page.get_by_label("Description").fill("by the page")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Storage domain plain1 saved.").wait_for()
    assert page.url.endswith("/storage")
    assert engine.get_domain(domain.id).description == "by the page"


def test_a_connection_is_added_and_edited_in_the_dialog(page: Any, site: str, engine: Engine) -> None:
    _log_in(page, site, ADMIN)
    page.get_by_role("link", name="Connections").click()
    dialog = _open_dialog(page, "New connection", role="button")  # a link that looks like one
    dialog.get_by_label("Storage type").select_option("nfs")
    dialog.get_by_role("button", name="Choose").click()
    dialog.get_by_label("Export path").wait_for()
    # A value only the server can judge: named beside its field, which gets the focus.
    dialog.get_by_label("Export path").fill("no-colon-here")
    dialog.get_by_role("button", name="Add").click()
    # The server's answer first (the field was focused before the click too), then where the focus went.
    page.wait_for_function(
        "() => document.querySelector('#manage-dialog #f-export')?.getAttribute('aria-invalid') === 'true'"
    )
    page.wait_for_function("() => document.activeElement.id === 'f-export'")
    assert "Export path: must be server:/path" in dialog.locator("#problem").inner_text()
    assert engine.list_connections() == []
    dialog.get_by_label("Export path").fill("server:/web-export")
    dialog.get_by_label("Timeout (deciseconds)").fill("600")
    dialog.get_by_role("button", name="Add").click()
    page.locator("#notices", has_text="Storage connection server:/web-export added.").wait_for()
    page.wait_for_function("() => !document.getElementById('manage-dialog').open")
    [conn] = engine.list_connections()
    assert conn.nfs_timeo == 600
    # The rows were fetched again: the new one is there and opens its own dialog.
    dialog = _open_dialog(page, "server:/web-export")
    assert dialog.get_by_label("Timeout (deciseconds)").input_value() == "600"
    dialog.get_by_label("Additional mount options").fill("noatime")
    dialog.get_by_role("button", name="Save").click()
    page.locator("#notices", has_text="Storage connection server:/web-export saved.").wait_for()
    assert engine.get_connection(conn.id).mount_options == "noatime"


def test_a_viewer_sees_no_action(page: Any, site: str, engine: Engine) -> None:
    dc = engine.add_data_center("dc1", local=True)
    domain = engine.add_domain("seen", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/seen"))
    engine.attach_domain(dc.id, domain.id)
    _log_in(page, site, VIEWER)
    assert page.locator("tr", has_text="seen").get_by_role("button").count() == 0
    # A poll replaces the rows under a keyboard user: the link they were on keeps the focus.
    page.get_by_role("link", name="seen", exact=True).focus()
    page.evaluate("""() => { window.polls = 0; document.getElementById('domain-rows')
        .addEventListener('htmx:afterSwap', () => { window.polls += 1; }); }""")
    page.wait_for_function("() => window.polls >= 1", timeout=15_000)
    _wait_focus_on(page, "seen")
    assert page.evaluate("() => document.activeElement.closest('#domain-rows') !== null")
    dialog = _open_dialog(page, "seen")
    assert dialog.get_by_role("button", name="Save").count() == 0
    assert dialog.get_by_role("button", name="Test").count() == 0
    assert dialog.get_by_label("Name").is_disabled()
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('manage-dialog').open")
