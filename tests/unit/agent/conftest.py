from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.agent.reconciler import Reconciler, ReconcilerConfig
from storconn.agent.refs import Registry
from storconn.agent.store import Store

from .fakes import FakeClock, FakeConnector, FakeKernel, InlineExecutor


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "refs.sqlite")
    yield s
    s.close()


@pytest.fixture
def registry(store: Store) -> Registry:
    return Registry(store)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kernel() -> FakeKernel:
    return FakeKernel()


@pytest.fixture
def connector(kernel: FakeKernel) -> FakeConnector:
    return FakeConnector(kernel)


@pytest.fixture
def reconciler(registry: Registry, store: Store, connector: FakeConnector, kernel: FakeKernel, clock: FakeClock) -> Reconciler:
    r = Reconciler(
        registry,
        store,
        {"posixfs": connector, "localfs": connector},
        config=ReconcilerConfig(grace=2.0, backoff_base=1.0, backoff_cap=8.0),
        clock=clock,
        executor=InlineExecutor(),
        read_mounts=kernel.read,
        read_stack=kernel.stack,
        rng=random.Random(7),
    )
    registry.set_listener(r.wake)
    return r
