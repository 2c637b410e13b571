from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
