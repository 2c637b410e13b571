"""A served engine with the web admin mounted, as ``storconn engine serve`` runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.engine.api import create_app
from storconn.engine.service import Engine
from storconn.engine.web import create_web_app
from tests.integration.engine.conftest import open_engine
from tests.unit.engine_api.server import serve


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    real = open_engine(tmp_path / "engine")
    yield real
    real.close()


@pytest.fixture
def session_ttl() -> float:
    return 1800.0


@pytest.fixture
def site(engine: Engine, session_ttl: float) -> Iterator[str]:
    """``http://127.0.0.1:PORT``: the API and the web admin, one server."""
    web = create_web_app(engine, session_key=engine.web_session_key(), session_ttl=session_ttl)
    with serve(create_app(engine, web=web)) as root:
        yield root
