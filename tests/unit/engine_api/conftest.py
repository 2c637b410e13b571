"""Fixtures for the API's unit tests: a fake engine, the app, a test client, tokens, a served app for the SDK."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from storconn.engine.api import create_app
from storconn.engine.model import Role

from .fake_engine import FakeEngine
from .server import serve

if TYPE_CHECKING:
    from starlette.testclient import TestClient

ADMIN = ("admin@internal", "admin-password")
VIEWER = ("viewer@internal", "viewer-password")


@pytest.fixture
def engine() -> FakeEngine:
    fake = FakeEngine()
    fake.add_user(*ADMIN, Role.ADMIN)
    fake.add_user(*VIEWER, Role.VIEWER)
    return fake


@pytest.fixture
def app(engine: FakeEngine) -> Any:
    return create_app(engine)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with warnings.catch_warnings():
        # Starlette 1.x prefers httpx2 for its TestClient; httpx works and is what the project pins.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

        with TestClient(app, raise_server_exceptions=True) as test_client:
            yield test_client


def token(client: TestClient, user: tuple[str, str] = ADMIN) -> str:
    answer = client.post("/ovirt-engine/sso/oauth/token", data={
        "grant_type": "password", "username": user[0], "password": user[1], "scope": "ovirt-app-api"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    """Headers of an admin's requests."""
    return {"Authorization": f"Bearer {token(client)}"}


@pytest.fixture
def viewer(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, VIEWER)}"}


@pytest.fixture
def served(app: Any) -> Iterator[str]:
    """The app on a loopback port; yields the API URL for ``ovirtsdk4.Connection``."""
    with serve(app) as base:
        yield f"{base}/ovirt-engine/api"


@pytest.fixture
def sdk_connection(served: str) -> Iterator[Any]:
    sdk = pytest.importorskip("ovirtsdk4", reason="the official oVirt SDK (ovirt-engine-sdk-python) is not installed")
    connection = sdk.Connection(url=served, username=ADMIN[0], password=ADMIN[1], insecure=True)
    yield connection
    connection.close()
