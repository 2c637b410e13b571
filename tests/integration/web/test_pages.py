"""The web admin without a browser: log in, pages for admin and viewer, CSRF, session expiry."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from storconn.engine.model import ConnectionFields, DomainStatus, HostStatus, StorageType
from storconn.engine.api import create_app
from storconn.engine.service import Engine
from storconn.engine.web import create_web_app
from tests.integration.engine.conftest import ADMIN, VIEWER
from tests.unit.engine_api.server import serve


def _login(site: str, user: tuple[str, str]) -> httpx.Client:
    client = httpx.Client(base_url=site, timeout=30)
    answer = client.post("/login", data={"username": user[0], "password": user[1]})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/storage"
    return client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _domain(engine: Engine, name: str = "sd1") -> str:
    dc = engine.add_data_center("dc1")
    domain = engine.add_domain(
        name, storage_type=StorageType.POSIXFS,
        connection=ConnectionFields(type=StorageType.POSIXFS, path="scratch", vfs_type="tmpfs"),
    )
    if engine.attach_domain(dc.id, domain.id).status is DomainStatus.MAINTENANCE:
        engine.activate_domain(dc.id, domain.id)  # attach activates as in oVirt; older engines did not
    return domain.id


def test_pages_need_a_login(site: str) -> None:
    with httpx.Client(base_url=site) as client:
        answer = client.get("/storage")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")
        poll = client.get("/storage/rows", headers={"HX-Request": "true"})
        assert poll.status_code == 401 and poll.headers["HX-Redirect"] == "/login"


def test_a_wrong_password_is_refused_with_the_engines_words(site: str) -> None:
    with httpx.Client(base_url=site) as client:
        answer = client.post("/login", data={"username": ADMIN[0], "password": "wrong"})
        assert answer.status_code == 401
        assert "wrong user name or password" in answer.text
        assert "storconn_session" not in answer.cookies or client.get("/storage").status_code == 303


def test_the_session_cookie_is_same_site_strict_and_http_only(site: str) -> None:
    client = httpx.Client(base_url=site)
    answer = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    cookie = answer.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie and "httponly" in cookie


def test_the_admin_sees_domains_with_their_actions(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    page = _login(site, ADMIN).get("/storage").text
    assert "sd1" in page and "scratch (tmpfs)" in page and "dc1" in page
    assert f'action="/storage/{domain_id}/maintenance' in page  # attached: active or maintenance
    assert "Log out" in page


def test_a_viewer_sees_no_action_and_the_server_refuses_one_anyway(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    viewer = _login(site, VIEWER)
    page = viewer.get("/storage").text
    assert "sd1" in page
    assert "<button" in page  # the logout button only
    assert "/maintenance" not in page and "/activate" not in page and "/remove" not in page
    answer = viewer.post(f"/storage/{domain_id}/maintenance", data={"csrf_token": _csrf(page)})
    assert answer.status_code == 403
    assert engine.get_domain(domain_id).status.value == "active"


def test_a_change_without_the_csrf_token_is_refused(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    admin = _login(site, ADMIN)
    admin.get("/storage")
    for data in ({}, {"csrf_token": "forged"}):
        answer = admin.post(f"/storage/{domain_id}/maintenance", data=data)
        assert answer.status_code == 403
        assert "stale or forged" in answer.text
    assert engine.get_domain(domain_id).status.value == "active"


def test_maintenance_and_activate_from_the_page(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    answer = admin.post(f"/storage/{domain_id}/maintenance?q=sd&sort=name", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/storage?q=sd&sort=name"
    assert engine.get_domain(domain_id).status.value == "maintenance"
    page = admin.get(answer.headers["location"]).text
    assert "moved to maintenance" in page
    # A refused action shows the engine's words: removing an attached domain.
    refused = admin.post(f"/storage/{domain_id}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "Cannot remove Storage Domain" in refused.text or "Cannot remove" in refused.text
    assert engine.get_domain(domain_id).status.value == "maintenance"
    admin.post(f"/storage/{domain_id}/activate", data={"csrf_token": token})
    assert engine.get_domain(domain_id).status.value == "active"


def test_an_unknown_action_is_a_404_and_changes_nothing(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    answer = admin.post(f"/storage/{domain_id}/format", data={"csrf_token": token})
    assert answer.status_code == 404
    assert engine.get_domain(domain_id).status.value == "active"


def test_filter_and_sort_stay_in_the_url_and_the_poll(site: str, engine: Engine) -> None:
    _domain(engine, "alpha")
    engine.add_domain("beta", storage_type=StorageType.LOCALFS,
                      connection=ConnectionFields(type=StorageType.LOCALFS, path="/srv/beta"))
    admin = _login(site, ADMIN)
    page = admin.get("/storage?q=alp&sort=name&dir=desc").text
    assert "alpha" in page and "beta" not in page
    assert 'hx-get="/storage/rows?q=alp&amp;sort=name&amp;dir=desc"' in page
    rows = admin.get("/storage/rows?q=alp&sort=name&dir=desc").text
    assert "alpha" in rows and "beta" not in rows and "<html" not in rows


def test_logout_ends_the_session(site: str) -> None:
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    assert admin.post("/logout", data={"csrf_token": token}).status_code == 303
    assert admin.get("/storage").status_code == 303


@pytest.mark.parametrize("session_ttl", [1.0])
def test_an_idle_session_expires(site: str) -> None:
    admin = _login(site, ADMIN)
    assert admin.get("/storage").status_code == 200
    time.sleep(1.5)
    answer = admin.get("/storage")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_connections_list_what_uses_them_and_an_orphan_is_removed(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    orphan = engine.add_connection(ConnectionFields(type=StorageType.LOCALFS, path="/srv/orphan"))
    admin = _login(site, ADMIN)
    page = admin.get("/connections").text
    assert "scratch (tmpfs)" in page and f'href="/storage/{domain_id}/edit" data-dialog>sd1</a>' in page
    assert "/srv/orphan" in page and "nothing (orphan)" in page
    assert f'action="/connections/{orphan.id}/remove"' in page
    used = engine.domain_connections(domain_id)[0]
    assert f'action="/connections/{used.id}/remove"' not in page  # only orphans offer Remove
    answer = admin.post(f"/connections/{orphan.id}/remove", data={"csrf_token": _csrf(page)}, follow_redirects=True)
    assert "removed" in answer.text and f'id="connection-{orphan.id}"' not in answer.text
    assert all(conn.id != orphan.id for conn in engine.list_connections())
    # A forged remove of a used one gets the engine's refusal, and it stays.
    refused = admin.post(f"/connections/{used.id}/remove", data={"csrf_token": _csrf(page)}, follow_redirects=True)
    assert "Cannot remove Storage Connection." in refused.text
    assert engine.get_connection(used.id)


def test_adding_a_connection_names_the_bad_field(site: str, engine: Engine) -> None:
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/connections/new?type=nfs").text)
    answer = admin.post("/connections/new", data={
        "csrf_token": token, "type": "nfs", "export": "server:/export", "nfs_timeo": "7000"})
    assert answer.status_code == 400
    assert "Timeout (deciseconds): must be between 1 and 6000" in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert engine.list_connections() == []
    added = admin.post("/connections/new", data={
        "csrf_token": token, "type": "nfs", "export": "server:/export", "nfs_timeo": "600", "nfs_version": "4.1"})
    assert added.status_code == 303
    [conn] = engine.list_connections()
    assert conn.connection == "server:/export" and conn.nfs_timeo == 600 and conn.nfs_version == "4.1"


def test_every_page_answers_for_admin_and_viewer(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    conn_id = engine.domain_connections(domain_id)[0].id
    host = engine.add_host("gone", address="127.0.0.1", port=9, token="t", data_center_id=None)
    pages = ["/storage", "/storage/rows", f"/storage/{domain_id}/edit", "/connections", "/connections/new",
             f"/connections/{conn_id}/edit", "/datacenters", "/hosts", f"/hosts/{host.id}", "/events"]
    for user in (ADMIN, VIEWER):
        client = _login(site, user)
        for path in pages:
            answer = client.get(path)
            assert answer.status_code == 200, (user[0], path, answer.status_code)
            changes = re.findall(r'<form method="post" action="(?!/logout)', answer.text)
            if user is VIEWER:
                assert not changes, (path, "a viewer is offered a change")


def test_a_data_center_action_returns_to_the_data_centers_page(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    admin = _login(site, ADMIN)
    page = admin.get("/datacenters").text
    assert "dc1" in page and "sd1" in page and "Status up" in page and "version 4.7" in page
    answer = admin.post(f"/storage/{domain_id}/maintenance", data={"csrf_token": _csrf(page), "back": "/datacenters"})
    assert answer.headers["location"] == "/datacenters"
    assert engine.get_domain(domain_id).status.value == "maintenance"
    # Anywhere else is not followed: no open redirect through a form field.
    answer = admin.post(f"/storage/{domain_id}/activate",
                        data={"csrf_token": _csrf(page), "back": "https://elsewhere.example/"})
    assert answer.headers["location"] == "/storage"


def test_a_host_page_shows_an_unreachable_agent_in_words(site: str, engine: Engine) -> None:
    host = engine.add_host("gone", address="127.0.0.1", port=9, token="t", data_center_id=None)
    page = _login(site, ADMIN).get(f"/hosts/{host.id}").text
    assert "Host gone" in page and "did not answer" in page


def test_logout_ends_the_session_for_a_copied_cookie_too(site: str) -> None:
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    copy = httpx.Client(base_url=site, cookies=dict(admin.cookies))
    assert copy.get("/storage").status_code == 200
    admin.post("/logout", data={"csrf_token": token})
    assert copy.get("/storage").status_code == 303  # the engine forgot the session, not just this browser


def test_a_session_from_one_engine_process_works_on_another(site: str, engine: Engine, tmp_path: Path) -> None:
    # A second engine on the same database and key file, as a second `storconn engine serve` would be.
    other = Engine(str(engine._db.engine.url), key_file=tmp_path / "engine" / "key", sync_on_start=False)
    try:
        web = create_web_app(other, session_key=other.web_session_key())
        with serve(create_app(other, web=web)) as second:
            admin = _login(site, ADMIN)
            elsewhere = httpx.Client(base_url=second, cookies=dict(admin.cookies))
            assert elsewhere.get("/storage").status_code == 200
    finally:
        other.close()


def test_events_are_listed_newest_first_and_searched(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    admin = _login(site, ADMIN)
    page = admin.get("/events").text
    assert "sd1" in page and f'href="/storage/{domain_id}/edit"' in page
    times = re.findall(r'<tr class="event[^>]*>\s*<td>([^<]+)</td>', page)
    assert times == sorted(times, reverse=True) and times
    only = admin.get("/events", params={"search": "type=950"}).text  # data center added
    assert "dc1" in only and "sd1" not in only
    bad = admin.get("/events", params={"search": "nosuchfield=1"})
    assert bad.status_code == 400 and "nosuchfield" in bad.text


def test_no_page_or_action_answers_500_whatever_it_is_sent(site: str, engine: Engine) -> None:
    domain_id = _domain(engine)
    conn_id = engine.domain_connections(domain_id)[0].id
    admin = _login(site, ADMIN)
    token = _csrf(admin.get("/storage").text)
    cluster = engine.add_cluster("c1", data_center_id=engine.list_data_centers()[0].id)
    host = engine.add_host("gone", address="127.0.0.1", port=9, token="t", cluster_id=cluster.id)
    engine.deactivate_host(host.id)  # a host in maintenance: it may move and go
    ids = [domain_id, conn_id, cluster.id, host.id, "unknown", "%00", "x" * 300,
           "00000000-0000-0000-0000-000000000000"]
    templates = ["/storage/{id}/edit", "/storage/{id}/test", "/storage/{id}/maintenance", "/storage/{id}/remove",
                 "/connections/{id}/edit", "/connections/{id}/test", "/connections/{id}/remove",
                 "/hosts/{id}", "/hosts/{id}/maintenance", "/hosts/{id}/activate",
                 "/clusters/{id}/edit", "/clusters/{id}/remove", "/clusters/new", "/hosts/{id}/cluster",
                 "/hosts/{id}/remove", "/hosts/new"]
    forms = [{}, {"csrf_token": token}, {"csrf_token": token, "name": "", "nfs_timeo": "x", "port": "-1",
                                         "test_host": "nope", "type": "bogus", "spec": "\x00", "back": "//evil"},
             {"csrf_token": token, "name": "n\x00", "data_center": "\x00", "cluster": "x" * 300,
              "address": "\x00", "port": "99999999999999999999", "token": "\u00e9\n", "description": "\x00"}]
    for template in templates:
        for ident in ids:
            path = template.format(id=ident)
            assert admin.get(path).status_code < 500, path
            for form in forms:
                answer = admin.post(path, data=form)
                assert answer.status_code < 500, (path, form, answer.text[:300])
    for query in ({"q": "\x00" * 3, "sort": "nope", "dir": "sideways"}, {"search": "((("}, {"type": "bogus"}):
        for path in ("/storage", "/storage/rows", "/events", "/connections/new"):
            assert admin.get(path, params=query).status_code < 500, (path, query)


def test_a_long_activation_shows_its_progress_and_its_end(site: str, engine: Engine) -> None:
    # A host whose agent takes the connection and never answers: the activation waits out the timeout.
    import socket

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    try:
        dc = engine.add_data_center("dc1")
        domain = engine.add_domain("slow", storage_type=StorageType.POSIXFS, connection=ConnectionFields(
            type=StorageType.POSIXFS, path="slow", vfs_type="tmpfs"))
        engine.attach_domain(dc.id, domain.id)
        engine.deactivate_domain(dc.id, domain.id)
        engine.add_host("hung", address="127.0.0.1", port=hung.getsockname()[1], token="t", data_center_id=dc.id)
        with engine._tx() as repo:  # Up as far as the engine knows: it was, until its agent hung
            repo.set_host_status(engine.get_host("hung").id, HostStatus.UP)
        admin = _login(site, ADMIN)
        token = _csrf(admin.get("/storage").text)
        answer = admin.post(f"/storage/{domain.id}/activate", data={"csrf_token": token})
        assert answer.status_code == 303 and "job=" in answer.headers["location"]
        job_id = answer.headers["location"].split("job=")[1]
        page = admin.get(answer.headers["location"]).text
        assert f'hx-get="/jobs/{job_id}"' in page
        progress = admin.get(f"/jobs/{job_id}").text
        assert "0 of 1 hosts so far" in progress and "<progress" in progress
        deadline = time.monotonic() + 60
        while "hosts so far" in progress:
            assert time.monotonic() < deadline, "the activation never ended"
            time.sleep(0.5)
            progress = admin.get(f"/jobs/{job_id}").text
        assert "activated" in progress and "hung" in progress  # the host that did not follow, named
        assert "hx-trigger" not in progress  # the poll stops at the end
        assert engine.get_domain(domain.id).status.value == "active"
        assert any(e.code == 966 for e in engine.list_events(max=20))  # and it ends in an event
        assert any(e.objects.user_name == ADMIN[0] for e in engine.list_events(max=20) if e.code == 966)
    finally:
        hung.close()
