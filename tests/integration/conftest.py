from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.postgres import PostgresServer, available

from storconn.agent import Agent, AgentConfig, ReconcilerConfig

FAST = ReconcilerConfig(
    period=0.1, grace=0.3, probe_interval=0.3, probe_timeout=1.0, backoff_base=0.1, backoff_cap=0.5,
    unsupported_retry=0.5,
)


@pytest.fixture
def agent(tmp_path: Path, mount_root: Path) -> Iterator[Agent]:
    """A real agent in this process, with real mounts, and timings fast enough for tests."""
    a = Agent(AgentConfig(state_dir=tmp_path / "state", mount_root=mount_root, reconciler=FAST))
    a.start()
    yield a
    a.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the session; each test takes a fresh database of it."""
    reason = available()
    if reason:
        print(f"\nskipping the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
