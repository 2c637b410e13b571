"""What the Ansible acceptance tests share: the ansible venv, a served Engine, an agent on port 54321, a recorder.

The oVirt modules have no way to name a host's agent port (``ovirt_host``
sends an address only, and oVirt's VDSM port is fixed): each test's agent
listens on the default port 54321 of a loopback address of its own
(127.x.y.z), which is the address the playbooks give the host.

Every request the modules send is recorded (method, path and query, the
body's element names, the status, the fault's detail) so that a failing run
says which request the engine refused, and how.
"""

from __future__ import annotations

import json
import random
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from storconn.engine.api import create_app
from tests.integration.engine.conftest import ADMIN, open_engine
from tests.peers.agent import AgentProcess
from tests.unit.engine_api.server import serve

from .runner import Ansible, venv_problem

AGENT_PORT = 54321  # the agent's (and VDSM's) default port: the one oVirt's clients assume


@pytest.fixture(scope="session")
def ansible_venv() -> None:
    problem = venv_problem()
    if problem:
        print(f"\nskipping the Ansible acceptance tests: {problem}")
        pytest.skip(problem)


# -- recording what the modules ask ---------------------------------------------------------


@dataclass(slots=True)
class Exchange:
    method: str
    target: str
    elements: list[str]
    status: int = 0
    detail: str = ""

    def __str__(self) -> str:
        body = f" <{' '.join(self.elements)}>" if self.elements else ""
        detail = f" {self.detail}" if self.detail else ""
        return f"{self.method} {self.target}{body} -> {self.status}{detail}"


@dataclass(slots=True)
class Recorder:
    """An ASGI wrapper around the API that keeps one line per request; bodies only as element names."""

    app: Any = field(repr=False)
    exchanges: list[Exchange] = field(default_factory=list, repr=False)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        exchange = Exchange(scope["method"], target, [])
        self.exchanges.append(exchange)
        chunks: list[bytes] = []
        answer: list[bytes] = []

        async def receive_body() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    exchange.elements = _element_names(b"".join(chunks))
            return message

        async def send_answer(message: Any) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body" and sum(map(len, answer)) < _READ_LIMIT:
                answer.append(message.get("body", b""))
                if not message.get("more_body"):
                    exchange.detail = _answer_note(exchange.status, b"".join(answer))
            await send(message)

        await self.app(scope, receive_body, send_answer)

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]


def _element_names(body: bytes) -> list[str]:
    """``storage_connection/address`` and the like, never values (bodies carry passwords)."""
    if not body.strip():
        return []
    if body.lstrip()[:1] not in (b"<", b"{"):
        return ["(form)"]  # the SSO endpoints' forms
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        try:
            return sorted(json.loads(body))
        except (ValueError, TypeError):
            return ["(unreadable body)"]
    names: list[str] = []

    def walk(element: ET.Element, prefix: str) -> None:
        path = f"{prefix}{element.tag}"
        children = list(element)
        if not children:
            names.append(path + ("[id]" if "id" in element.attrib else ""))
        for child in children:
            walk(child, path + "/")

    walk(root, "")
    return names


_READ_LIMIT = 256 * 1024  # answers are read for a note only up to here (lists can be long)


def _answer_note(status: int, body: bytes) -> str:
    """A fault's reason and detail; else the entity's ``status`` (what the modules poll for), if any."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return body[:300].decode("utf-8", "replace") if status >= 400 else ""
    if status >= 400:
        return " ".join(filter(None, (root.findtext("reason"), root.findtext("detail"))))[:300]
    found = root.findtext("status")
    return f"status={found}" if found else ""


# -- the engine, its agent, and ansible -------------------------------------------------------


@dataclass(slots=True)
class Served:
    url: str  # the API root, as the modules want it
    recorder: Recorder

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=ADMIN, timeout=60,
                            headers={"Accept": "application/json", "Content-Type": "application/json"})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Served]:
    real = open_engine(tmp_path / "engine")
    recorder = Recorder(create_app(real))
    try:
        with serve(recorder) as root:
            yield Served(f"{root}/ovirt-engine/api", recorder)
    finally:
        real.close()


def _loopback_address() -> str:
    """A 127.x.y.z whose port 54321 is free: one agent per test on the default port, tests side by side."""
    for _ in range(50):
        address = f"127.{random.randint(100, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, AGENT_PORT))
            except OSError:
                continue
        return address
    raise RuntimeError("no loopback address with port 54321 free")


@pytest.fixture
def host_agent(tmp_path: Path, mount_root: Path) -> Iterator[AgentProcess]:
    agent = AgentProcess(tmp_path / "state", mount_root, address=_loopback_address(), port=AGENT_PORT)
    agent.start()
    yield agent
    agent.stop()


@pytest.fixture
def ansible(ansible_venv: None, engine: Served, tmp_path: Path) -> Ansible:
    return Ansible(tmp_path / "ansible", {
        "engine_url": engine.url, "engine_user": ADMIN[0], "engine_password": ADMIN[1],
    })


def token_of(agent: AgentProcess) -> str:
    return (agent.state_dir / "token").read_text().strip()
