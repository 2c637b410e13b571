"""Manage Domain and the connection forms as dialog fragments: what htmx gets, over HTTP, without a browser.

The list pages load these forms into a ``<dialog>`` with ``HX-Request``; the
same URLs without it are the pages a browser without JavaScript uses.
"""

from __future__ import annotations

import re

import pytest

from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine
from tests.integration.engine.conftest import ADMIN, VIEWER
from tests.peers.agent import AgentProcess

from .test_pages import _csrf, _domain, _login

HTMX = {"HX-Request": "true", "HX-Target": "dialog-body"}


def _in_maintenance(engine: Engine, name: str = "sd1") -> str:
    domain_id = _domain(engine, name)
    domain = engine.get_domain(domain_id)
    engine.deactivate_domain(domain.data_center_id or "", domain_id)
    return domain_id


def _is_fragment(text: str) -> bool:
    return "<html" not in text and "<body" not in text and "<nav" not in text


def test_the_storage_page_holds_the_dialog_and_its_links_open_it(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    page = _login(site, ADMIN).get("/storage").text
    assert '<dialog id="manage-dialog" aria-labelledby="dialog-title">' in page
    assert '<script src="/static/dialog.js" defer></script>' in page
    assert f'<a href="/storage/{domain_id}/edit" data-dialog>sd1</a>' in page
    # Outside the polled rows: the poll never replaces it.
    assert page.index('id="manage-dialog"') > page.index("</tbody>")


def test_manage_domain_answers_the_form_alone_for_htmx_and_the_page_without(site: str, engine: Engine) -> None:
    domain_id = _in_maintenance(engine)
    admin = _login(site, ADMIN)
    fragment = admin.get(f"/storage/{domain_id}/edit", headers=HTMX)
    assert fragment.status_code == 200 and _is_fragment(fragment.text)
    text = fragment.text
    assert '<h2 id="dialog-title">Manage domain sd1</h2>' in text
    assert f'hx-post="/storage/{domain_id}/edit" hx-target="#dialog-body"' in text
    assert 'aria-labelledby="dialog-title"' in text and "data-refusals" in text
    assert 'data-dialog-close>Cancel</button>' in text and 'aria-label="Close"' in text
    assert 'id="save-button"' in text and 'name="csrf_token"' in text
    assert 'id="f-spec"' in text and 'value="scratch"' in text  # the connection, editable in maintenance
    assert '<section id="test-result" aria-live="polite">' in text
    # Without htmx, and when htmx restores history: the whole page, with its link back.
    for headers in ({}, {"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        page = admin.get(f"/storage/{domain_id}/edit", headers=headers).text
        assert "<html" in page and '<h1 id="edit-title">Manage domain sd1</h1>' in page
        assert '<a href="/storage">Cancel</a>' in page and "hx-post=\"/storage/" not in page
        assert 'id="manage-dialog"' not in page  # no dialog over the form itself


def test_a_bad_field_in_the_dialog_is_named_and_nothing_changes(site: str, engine: Engine) -> None:
    domain_id = _in_maintenance(engine)
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    answer = admin.post(f"/storage/{domain_id}/edit", headers=HTMX, data={
        "csrf_token": token, "name": "typed-name", "spec": "", "vfs_type": "tmpfs", "mount_options": "size=8m"})
    assert answer.status_code == 400 and _is_fragment(answer.text)
    assert "Path: is required" in answer.text
    assert re.search(r'<input id="f-spec"[^>]*aria-invalid="true" aria-describedby="e-spec"', answer.text, re.S)
    assert '<small id="e-spec">Path is required</small>' in answer.text
    # What the user typed stays in the form; the dialog's form is still the dialog's.
    assert 'value="typed-name"' in answer.text and 'value="size=8m"' in answer.text
    assert 'hx-target="#dialog-body"' in answer.text
    assert engine.get_domain(domain_id).name == "sd1"
    assert engine.domain_connections(domain_id)[0].mount_options in (None, "")


def test_the_engines_refusal_shows_in_the_dialog_with_ovirts_words(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)  # active: the connection may not change
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    answer = admin.post(f"/storage/{domain_id}/edit", headers=HTMX, data={
        "csrf_token": token, "name": "sd1", "spec": "elsewhere", "vfs_type": "tmpfs"})
    assert answer.status_code == 400 and _is_fragment(answer.text)
    problem = re.search(r'<div id="problem" role="alert"><p class="notice error" tabindex="-1">([^<]+)</p>',
                        answer.text)
    assert problem and "Cannot edit Storage Connection." in problem.group(1) and "maintenance" in problem.group(1)
    assert 'id="f-spec"' in answer.text and 'id="save-button"' in answer.text  # the form stays
    assert engine.domain_connections(domain_id)[0].connection == "scratch"


def test_a_save_in_the_dialog_answers_the_notice_and_the_saved_event(site: str, engine: Engine) -> None:
    domain_id = _in_maintenance(engine)
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    answer = admin.post(f"/storage/{domain_id}/edit", headers=HTMX, data={
        "csrf_token": token, "name": "renamed", "description": "d", "spec": "scratch", "vfs_type": "tmpfs",
        "mount_options": "size=32m"})
    assert answer.status_code == 200
    assert answer.headers["HX-Retarget"] == "#notices" and answer.headers["HX-Reswap"] == "innerHTML"
    assert answer.headers["HX-Trigger-After-Settle"] == "storconn-saved"
    assert answer.text.strip() == '<p class="notice ok">Storage domain renamed saved.</p>'
    assert engine.get_domain(domain_id).name == "renamed"
    assert engine.domain_connections(domain_id)[0].mount_options == "size=32m"
    # Shown once, there: not again on the next page as a flash.
    assert "Storage domain renamed saved." not in admin.get("/storage").text
    # Without htmx: the flash and a redirect, as before.
    answer = admin.post(f"/storage/{domain_id}/edit", data={"csrf_token": token, "name": "again"})
    assert answer.status_code == 303 and answer.headers["location"] == "/storage"
    assert "Storage domain again saved." in admin.get("/storage").text


def test_a_viewer_gets_the_form_read_only_without_save_or_test(site: str, engine: Engine) -> None:
    domain_id = _in_maintenance(engine)
    conn_id = engine.domain_connections(domain_id)[0].id
    engine.add_host("h1", address="127.0.0.1", port=9, token="t", data_center_id=engine.get_domain(domain_id).data_center_id)
    viewer = _login(site, VIEWER)
    admin_view = _login(site, ADMIN).get(f"/storage/{domain_id}/edit", headers=HTMX).text
    assert 'id="test-button"' in admin_view  # what the viewer must not get
    for path in (f"/storage/{domain_id}/edit", f"/connections/{conn_id}/edit"):
        text = viewer.get(path, headers=HTMX).text
        assert _is_fragment(text) and 'id="dialog-title"' in text
        assert '<fieldset class="plain" disabled>' in text
        assert "save-button" not in text and "test-button" not in text and "Test</button>" not in text
        assert "hx-post" not in text and 'method="post"' not in text
        assert "data-dialog-close>Cancel</button>" in text
    # And the server refuses the save anyway, inside the dialog.
    token = _csrf(viewer.get("/storage").text)
    refused = viewer.post(f"/storage/{domain_id}/edit", headers=HTMX, data={"csrf_token": token, "name": "x"})
    assert refused.status_code == 403 and "Your role may view, not change." in refused.text
    assert refused.headers["HX-Retarget"] == "#problem"
    assert engine.get_domain(domain_id).name == "sd1"


def test_a_dialog_save_without_the_csrf_token_is_refused_in_the_dialog(site: str, engine: Engine) -> None:
    domain_id = _in_maintenance(engine)
    admin = _login(site, ADMIN)
    admin.get("/storage")
    for headers in (HTMX, {"HX-Request": "true", "HX-Target": "test-result"}):
        for data in ({"name": "forged"}, {"name": "forged", "csrf_token": "forged"}):
            action = "test" if headers["HX-Target"] == "test-result" else "edit"
            answer = admin.post(f"/storage/{domain_id}/{action}", headers=headers, data=data)
            assert answer.status_code == 403 and _is_fragment(answer.text)
            assert "stale or forged" in answer.text
            assert answer.headers["HX-Retarget"] == "#problem" and answer.headers["HX-Reswap"] == "innerHTML"
    # Not from a dialog (a plain form): the refusal page, as before.
    page = admin.post(f"/storage/{domain_id}/edit", data={"name": "forged"})
    assert page.status_code == 403 and "<html" in page.text and "HX-Retarget" not in page.headers
    assert engine.get_domain(domain_id).name == "sd1"


def test_the_chap_password_never_comes_back(site: str, engine: Engine) -> None:
    conn = engine.add_connection(ConnectionFields(
        type=StorageType.ISCSI, address="127.0.0.1", port=3260, target="iqn.2026-11.test:t1"))
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/connections").text)
    secret = "s3cret-chap-word"
    answer = admin.post(f"/connections/{conn.id}/edit", headers=HTMX, data={
        "csrf_token": token, "type": "iscsi", "address": "127.0.0.1", "port": "70000",
        "target": "iqn.2026-11.test:t1", "username": "chap", "password": secret})
    assert answer.status_code == 400 and "Port: must be between 1 and 65535" in answer.text
    assert secret not in answer.text and 'value="chap"' in answer.text
    assert re.search(r'<input id="f-port"[^>]*aria-invalid="true"', answer.text, re.S)


def test_a_connection_is_added_in_the_dialog(site: str, engine: Engine) -> None:
    admin = _login(site, ADMIN)
    page = admin.get("/connections").text
    assert '<a href="/connections/new" role="button" data-dialog>New connection</a>' in page
    assert '<tbody id="connection-rows" data-rows="/connections/rows">' in page
    token = _csrf(admin.get("/connections/new").text)
    form = admin.get("/connections/new", params={"type": "nfs"}, headers=HTMX).text
    assert _is_fragment(form) and '<h2 id="dialog-title">New storage connection</h2>' in form
    assert 'hx-get="/connections/new" hx-target="#dialog-body"' in form  # another type, in the dialog
    assert 'hx-post="/connections/new" hx-target="#dialog-body"' in form
    bad = admin.post("/connections/new", headers=HTMX, data={
        "csrf_token": token, "type": "nfs", "export": "server:/export", "nfs_timeo": "7000"})
    assert bad.status_code == 400 and _is_fragment(bad.text)
    assert "Timeout (deciseconds): must be between 1 and 6000" in bad.text
    assert re.search(r'<input id="f-nfs_timeo"[^>]*aria-invalid="true"', bad.text, re.S)
    assert 'value="server:/export"' in bad.text and 'value="7000"' in bad.text
    assert engine.list_connections() == []
    added = admin.post("/connections/new", headers=HTMX, data={
        "csrf_token": token, "type": "nfs", "export": "server:/export", "nfs_timeo": "600"})
    assert added.status_code == 200 and added.headers["HX-Trigger-After-Settle"] == "storconn-saved"
    assert "Storage connection server:/export added." in added.text
    [conn] = engine.list_connections()
    assert conn.nfs_timeo == 600
    rows = admin.get("/connections/rows").text
    assert _is_fragment(rows) and rows.lstrip().startswith("<tr")
    assert f'<a href="/connections/{conn.id}/edit" data-dialog>server:/export</a>' in rows


def test_a_connection_edit_refused_by_the_engine_stays_in_the_dialog(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)  # active
    conn = engine.domain_connections(domain_id)[0]
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/connections").text)
    answer = admin.post(f"/connections/{conn.id}/edit", headers=HTMX, data={
        "csrf_token": token, "type": "posixfs", "spec": "elsewhere", "vfs_type": "tmpfs"})
    assert answer.status_code >= 400 and answer.status_code < 500 and _is_fragment(answer.text)
    assert "Cannot edit Storage Connection." in answer.text and 'value="elsewhere"' in answer.text
    assert engine.get_connection(conn.id).connection == "scratch"
    saved = admin.post(f"/connections/{conn.id}/edit", headers=HTMX, data={
        "csrf_token": token, "type": "posixfs", "spec": "elsewhere", "vfs_type": "tmpfs", "force": "on"})
    assert saved.status_code == 200 and "Storage connection elsewhere (tmpfs) saved." in saved.text
    assert engine.get_connection(conn.id).connection == "elsewhere"


def test_an_unknown_domain_or_connection_is_a_404_not_a_fragment_of_nothing(site: str, engine: Engine) -> None:
    admin = _login(site, ADMIN)
    for path in ("/storage/unknown/edit", "/connections/unknown/edit"):
        answer = admin.get(path, headers=HTMX)
        assert answer.status_code == 404 and "No such" in answer.text
        # Nothing to put it in: an empty dialog has no problem region (dialog.js opens the page).
        assert "HX-Retarget" not in answer.headers


def test_no_dialog_request_answers_500_whatever_it_is_sent(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    conn_id = engine.domain_connections(domain_id)[0].id
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    paths = [f"/storage/{domain_id}/edit", f"/storage/{domain_id}/test", f"/connections/{conn_id}/edit",
             f"/connections/{conn_id}/test", "/connections/new", "/connections/rows", "/storage/unknown/edit",
             "/connections/x%00/edit"]
    forms = [{}, {"csrf_token": token}, {"csrf_token": token, "name": "", "spec": "\x00", "nfs_timeo": "x",
                                         "port": "-1", "test_host": "nope", "type": "bogus", "force": "on"}]
    for headers in (HTMX, {"HX-Request": "true", "HX-Target": "test-result"}, {"HX-Request": "true"}):
        for path in paths:
            assert admin.get(path, headers=headers).status_code < 500, path
            for form in forms:
                answer = admin.post(path, headers=headers, data=form)
                assert answer.status_code < 500, (path, headers, form, answer.text[:300])


@pytest.mark.root
def test_test_in_the_dialog_shows_each_hosts_answer(
    site: str, engine: Engine, agent_process: AgentProcess
) -> None:
    dc = engine.add_data_center("dc1")
    token_file = (agent_process.state_dir / "token").read_text().strip()
    host = engine.add_host("host1", address="127.0.0.1", port=agent_process.port, token=token_file,
                           data_center_id=dc.id)
    domain = engine.add_domain("local1", storage_type=StorageType.LOCALFS,
                               connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/storconn-dialog-a"))
    admin = _login(site, ADMIN)
    form = admin.get(f"/storage/{domain.id}/edit", headers=HTMX).text
    assert f'hx-post="/storage/{domain.id}/test" hx-target="#test-result"' in form
    answer = admin.post(f"/storage/{domain.id}/test", headers={"HX-Request": "true", "HX-Target": "test-result"},
                        data={"csrf_token": _csrf(form), "name": "local1", "path": "/srv/storconn-dialog-b",
                              "test_host": host.id})
    assert answer.status_code == 200 and _is_fragment(answer.text)
    cell = re.search(r'<tr class="test-answer">\s*<th scope="row">host1</th>\s*<td>\s*([^<]+)</td>', answer.text)
    assert cell and cell.group(1).strip().startswith("[453]"), answer.text
    assert engine.domain_connections(domain.id)[0].connection == "/srv/storconn-dialog-a"  # nothing saved

