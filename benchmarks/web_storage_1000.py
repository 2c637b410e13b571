"""web_storage_1000: the Storage page with 1,000 domains and 10 hosts, on the server and in Chromium.

Two ratios, each measured interleaved in one run (a fixed time in ms does
not hold on a shared machine):

- server render: ``GET /storage`` (1,000 domains in a data center of 10 Up
  hosts, each host's agent asked for its references) per domain, against
  ``GET /ovirt-engine/api/storageconnections`` (JSON, 10,000 connections) per
  connection — the page may cost at most 2× the API per entity;
- in the browser: Debian's chromium loads the page until htmx is live
  (interactive), against the same bytes saved as a static HTML file and
  served by the same server — at most 2×.

The engine runs in this process behind uvicorn on loopback; the 10 hosts
are 10 host records of one real agent, which answers each ``statuses``
call. The domains are active localfs domains (stored through the
repository in one transaction, as ``engine_list_10000`` stores its
connections) and the engine's host sync has the agent hold their 1,000
references, so every host cell is worked out from the agent's answer and
names the domain's own path, as on a site of active domains. localfs
stands in for every type: a reference it holds is a symlink, where 1,000
NFS or tmpfs domains would be 1,000 mounts, and the page's work per cell
is the same whatever the type.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from storconn.engine.api import create_app
from storconn.engine.db import Database, UnitOfWork
from storconn.engine.model import ConnectionFields, DomainStatus, StorageDomain, StorageType
from storconn.engine.rules import checked_connection
from storconn.engine.rules.references import desired_refs
from storconn.engine.secrets import SecretBox
from storconn.engine.service import Engine
from storconn.engine.web import create_web_app
from tests.unit.engine_api.server import serve

from .engine_process import ADMIN, JSON, insert_connections
from .report import Row
from .timing import interleave
from .workspace import Workspace

NAME = "web_storage_1000"
DESCRIPTION = "Storage page of 1,000 domains × 10 hosts: server render per domain vs the API's per connection; Chromium load vs static"
DOMAINS = 1_000
HOSTS = 10
CONNECTIONS = 10_000
ROUNDS = 7
WARMUP = 1
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def run(work: Workspace) -> list[Row]:
    # Probing 1,000 targets every 2 s (the default) forks 500 children a second in the agent:
    # noise on a 2-core machine that has nothing to do with the page. Once a minute here.
    agent = work.agent("web-agent", extra=["--period", "1", "--probe-interval", "60"])
    state = work.dir("web-engine")
    engine = Engine(f"sqlite:///{state / 'engine.db'}", key_file=state / "key", admin_password=ADMIN[1])
    try:
        _fill(engine, state / "key", agent, work.dir("web-local"))
        static_dir = work.dir("web-static")
        web = create_web_app(engine, session_key=engine.web_session_key())
        app = Starlette(routes=[Mount("/bench-static", StaticFiles(directory=static_dir)),
                                Mount("/", create_app(engine, web=web))])
        with serve(app) as site:
            rows = [_server_row(site)]
            rows.append(_browser_row(site, static_dir))
        return rows
    finally:
        engine.close()


def _fill(engine: Engine, key_file: Path, agent: Any, directories: Path) -> None:
    token = (agent.state_dir / "token").read_text().strip()
    dc = engine.add_data_center("bench-dc")
    for n in range(HOSTS):
        engine.add_host(f"host{n:02d}", address="127.0.0.1", port=agent.port, token=token, data_center_id=dc.id)
    database = Database(engine_url(engine))
    try:
        with UnitOfWork(database, SecretBox(key_file))() as repo:
            for n in range(DOMAINS):
                path = directories / f"sd{n:04d}"
                path.mkdir()
                fields = ConnectionFields(type=StorageType.LOCALFS, path=str(path))
                conn = checked_connection(fields, connection_id=str(uuid.uuid4()))
                repo.save_connection(conn)
                domain = StorageDomain(
                    id=str(uuid.uuid4()), name=f"sd{n:04d}", storage_type=StorageType.LOCALFS,
                    data_center_id=dc.id, status=DomainStatus.ACTIVE,
                )
                repo.save_domain(domain)
                repo.attach(domain.id, conn.id)
            # What activation records: each host should hold each domain's reference.
            hosts = repo.hosts()
            domains, connections = repo.domains_and_connections()
            repo.replace_references([h.id for h in hosts], desired_refs(hosts, domains, connections))
    finally:
        database.close()
    insert_connections(engine_url(engine), key_file, CONNECTIONS - DOMAINS, prefix="web")
    failed = engine.sync_hosts()  # and the hosts acquire them
    if failed:
        raise RuntimeError(f"host sync failed: {failed}")
    _wait_connected(agent, token)


def _wait_connected(agent: Any, token: str) -> None:
    from storconn.agent.client import AgentClient

    with AgentClient(f"http://127.0.0.1:{agent.port}", token=token) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = client.statuses()
            if sum(1 for s in statuses.values() if s.get("connected")) >= DOMAINS:
                return
            time.sleep(0.5)
    raise RuntimeError("the agent did not connect the 1,000 localfs references in 120 s")


def engine_url(engine: Engine) -> str:
    return str(engine._db.engine.url)  # the bench fills the same database the engine serves


def _login(site: str) -> httpx.Client:
    client = httpx.Client(base_url=site, timeout=120)
    answer = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    if answer.status_code != 303:
        raise RuntimeError(f"web login: HTTP {answer.status_code}")
    return client


def _server_row(site: str) -> Row:
    web = _login(site)
    api = httpx.Client(base_url=f"{site}/ovirt-engine/api", timeout=120, auth=ADMIN)
    token = httpx.post(f"{site}/ovirt-engine/sso/oauth/token", data={
        "grant_type": "password", "scope": "ovirt-app-api", "username": ADMIN[0], "password": ADMIN[1]},
        headers={"Accept": "application/json"}).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"
    sizes: dict[str, int] = {}

    def page(n: int) -> None:
        answer = web.get("/storage")
        # Counted in the bytes: decoding 2.8 MB to text would be the client's time, not the page's.
        if answer.status_code != 200 or answer.content.count(b'<tr id="domain-') != DOMAINS:
            raise RuntimeError(f"GET /storage: HTTP {answer.status_code}")
        sizes["page"] = len(answer.content)

    def listing(n: int) -> None:
        answer = api.get("/storageconnections", headers=JSON)
        if answer.status_code != 200:
            raise RuntimeError(f"GET /storageconnections: HTTP {answer.status_code}")
        sizes["list"] = len(answer.content)

    try:
        samples = interleave(ROUNDS, {"page": page, "list": listing}, warmup=WARMUP)
    finally:
        web.close()
        api.close()
    per_domain = samples["page"].median / DOMAINS * 1e6
    per_connection = samples["list"].median / CONNECTIONS * 1e6
    return Row(
        f"{NAME} (server, per entity)", per_domain, per_connection, "µs", target=2.0,
        note=(f"GET /storage of {DOMAINS:,} domains × {HOSTS} hosts ({sizes['page'] / 1e6:.1f} MB) "
              f"median {samples['page'].median * 1000:.0f} ms; GET /storageconnections JSON of {CONNECTIONS:,} "
              f"({sizes['list'] / 1e6:.1f} MB) median {samples['list'].median * 1000:.0f} ms; {ROUNDS} rounds"),
    )


def _browser_row(site: str, static_dir: Path) -> Row:
    import os

    if not os.path.exists(CHROMIUM):
        return Row(f"{NAME} (Chromium, load to interactive)", None, None, "ms", target=2.0,
                   skipped="needs Debian's chromium (scripts/install-test-deps)")
    from playwright.sync_api import sync_playwright

    client = _login(site)
    try:
        (static_dir / "storage.html").write_bytes(client.get("/storage").content)
    finally:
        client.close()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(180_000)  # a loaded shared machine: the figure is the ratio, not the time
            page.goto(f"{site}/login")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{site}/storage")

            def load(url: str) -> None:
                started = time.perf_counter()
                page.goto(url, wait_until="load")
                page.wait_for_function("() => window.htmx !== undefined")
                timings[url] = time.perf_counter() - started

            timings: dict[str, float] = {}
            samples = interleave(ROUNDS, {
                "page": lambda n: load(f"{site}/storage"),
                "static": lambda n: load(f"{site}/bench-static/storage.html"),
            }, warmup=WARMUP)
        finally:
            browser.close()
    return Row(
        f"{NAME} (Chromium, load to interactive)", samples["page"].median * 1000,
        samples["static"].median * 1000, "ms", target=2.0,
        note=(f"chromium {CHROMIUM}: the page until htmx is live vs the same bytes as a static file "
              f"from the same server; median of {ROUNDS}"),
    )
