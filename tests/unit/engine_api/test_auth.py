"""SSO tokens, HTTP Basic and roles: who may call, and what they may do."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.routing import APIRoute

from storconn.engine.api import TokenStore
from storconn.engine.model import Role, User

from .conftest import ADMIN, VIEWER, token

if TYPE_CHECKING:
    from starlette.testclient import TestClient

API = "/ovirt-engine/api"
TOKEN_URL = "/ovirt-engine/sso/oauth/token"
LOGOUT_URL = "/ovirt-engine/services/sso-logout"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_expires_after_its_ttl_without_use() -> None:
    clock = Clock()
    store = TokenStore(ttl=10, clock=clock)
    issued = store.issue(User("u", Role.ADMIN))
    clock.now += 9
    assert store.user(issued) == User("u", Role.ADMIN)
    clock.now += 9  # each use extends it
    assert store.user(issued) is not None
    clock.now += 11
    assert store.user(issued) is None


def test_a_revoked_or_unknown_token_is_no_one() -> None:
    store = TokenStore()
    issued = store.issue(User("u", Role.VIEWER))
    store.revoke(issued)
    store.revoke("never-issued")
    assert store.user(issued) is None
    assert store.user("made-up") is None


def test_the_token_endpoint_answers_what_the_sdk_reads(client: TestClient) -> None:
    answer = client.post(TOKEN_URL, data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1],
                                          "scope": "ovirt-app-api"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["token_type"] == "bearer" and body["scope"] == "ovirt-app-api"
    assert len(body["access_token"]) >= 32 and int(body["exp"]) > 0 and body["expires_in"] > 0


@pytest.mark.parametrize(("form", "status", "error"), [
    ({"grant_type": "password", "username": ADMIN[0], "password": "wrong"}, 401, "access_denied"),
    ({"grant_type": "password", "username": "nobody", "password": "x"}, 401, "access_denied"),
    ({"grant_type": "client_credentials", "username": ADMIN[0], "password": ADMIN[1]}, 400, "unsupported_grant_type"),
    ({"grant_type": "password"}, 400, "invalid_request"),
    ({}, 400, "unsupported_grant_type"),
])
def test_token_failures_answer_the_sso_error_json(client: TestClient, form: dict[str, str], status: int,
                                                  error: str) -> None:
    answer = client.post(TOKEN_URL, data=form)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error and body["error_description"]
    assert "wrong" not in body["error_description"]


def test_an_engine_failure_during_login_is_still_sso_json(client: TestClient, engine: Any) -> None:
    def broken(username: str, password: str) -> None:
        raise RuntimeError("database is gone")

    engine.authenticate = broken
    answer = client.post(TOKEN_URL, data={"grant_type": "password", "username": "u", "password": "p"})
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    assert "database" not in answer.text


def test_the_password_never_travels_in_the_query(client: TestClient) -> None:
    answer = client.post(TOKEN_URL, params={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]})
    assert answer.status_code == 400


def test_no_or_a_bad_credential_is_401_with_a_fault(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Basic !!!"},
                    {"Authorization": "Digest x"}, {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}):
        answer = client.get(f"{API}/storageconnections", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"].startswith("Basic")
        assert b"<fault>" in answer.content


def test_logout_revokes_the_token(client: TestClient) -> None:
    issued = token(client)
    headers = {"Authorization": f"Bearer {issued}"}
    assert client.get(f"{API}/storageconnections", headers=headers).status_code == 200
    answer = client.post(LOGOUT_URL, data={"scope": "ovirt-app-api", "token": issued})
    assert (answer.status_code, answer.json()) == (200, {})
    assert client.get(f"{API}/storageconnections", headers=headers).status_code == 401
    other = token(client)
    assert client.get(LOGOUT_URL, headers={"Authorization": f"Bearer {other}"}).json() == {}
    assert client.get(API, headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert client.post(LOGOUT_URL, data={"token": "unknown"}).json() == {}


def _basic(user: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()}


def test_http_basic_works_and_is_checked(client: TestClient) -> None:
    assert client.get(f"{API}/storageconnections", headers=_basic(ADMIN)).status_code == 200
    assert client.get(f"{API}/storageconnections", headers=_basic(ADMIN)).status_code == 200  # remembered
    assert client.get(f"{API}/storageconnections", headers=_basic((ADMIN[0], "wrong"))).status_code == 401


def test_a_viewer_may_read_but_not_change(client: TestClient, viewer: dict[str, str], admin: dict[str, str]) -> None:
    assert client.get(f"{API}/storageconnections", headers=viewer).status_code == 200
    assert client.get(API, headers=viewer).status_code == 200
    body = b"<storage_connection><type>localfs</type><path>/d</path></storage_connection>"
    denied = client.post(f"{API}/storageconnections", content=body, headers=viewer)
    assert denied.status_code == 403
    assert b"not authorized" in denied.content
    assert client.post(f"{API}/storageconnections", content=body, headers=_basic(VIEWER)).status_code == 403
    created = client.post(f"{API}/storageconnections", content=body, headers=admin)
    cid = created.headers["location"].rsplit("/", 1)[1]
    for method in ("PUT", "DELETE"):
        answer = client.request(method, f"{API}/storageconnections/{cid}", headers=viewer,
                                content=b"<storage_connection/>")
        assert answer.status_code == 403, method


def _every_route() -> list[tuple[str, str]]:
    """(method, path) of every API route, path parameters filled with ``x``."""
    from storconn.engine.api.routes import ROOT_ROUTER, ROUTERS

    found = []
    for router in (ROOT_ROUTER, *ROUTERS):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            path = path if path.startswith(API) else API + path
            found += [(method, path) for method in sorted(route.methods)]
    return found


ROUTES = _every_route()


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_requires_a_caller(client: TestClient, method: str, path: str) -> None:
    answer = client.request(method, path, content=b"")
    assert answer.status_code == 401
    assert b"<fault>" in answer.content


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r[0] != "GET"],
                         ids=[f"{m} {p}" for m, p in ROUTES if m != "GET"])
def test_every_changing_route_is_refused_to_a_viewer(client: TestClient, viewer: dict[str, str], method: str,
                                                     path: str) -> None:
    answer = client.request(method, path, content=b"", headers=viewer)
    assert answer.status_code == 403


def test_the_route_list_is_complete() -> None:
    assert len(ROUTES) >= 40
