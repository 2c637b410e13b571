"""Fakes for the reconciler's unit tests: a clock, a kernel mount table, a connector, an inline pool."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any, Callable

from storconn.agent.system.mountinfo import MountEntry
from storconn.connection import ConnectionInfo, ErrorCode, StorconnError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeKernel:
    """A mount table that the fake connector writes and the reconciler reads."""

    def __init__(self) -> None:
        self.mounts: dict[str, MountEntry] = {}
        self._next_id = 100

    def mount(self, path: str, source: str = "fake", fstype: str = "tmpfs") -> None:
        self._next_id += 1
        self.mounts[path] = MountEntry(self._next_id, path, fstype, source, "rw")

    def stack(self, path: str) -> list[MountEntry]:
        return [self.mounts[path]] if path in self.mounts else []

    def read(self, only: str | None = None) -> dict[str, MountEntry]:
        if only is not None:
            return {only: self.mounts[only]} if only in self.mounts else {}
        return dict(self.mounts)


class FakeConnector:
    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self.calls: list[tuple[str, str]] = []
        self.fail_connect: StorconnError | None = None
        self.vanish = False  # connect "succeeds" and mounts nothing, as a helper that exits 0 may
        self.busy: set[str] = set()
        self.confirmed_by_tick = False  # as MountConnector: the tick, not the operation, checks the mount

    def path(self, info: ConnectionInfo) -> str:
        return "/mnt/" + info.identity_key.replace("\x1f", ":").replace("/", "_")

    def present(self, info: ConnectionInfo, path: str | None, mounts: dict[str, MountEntry]) -> bool:
        return path in mounts

    def connect(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        self.calls.append(("connect", path))
        if self.fail_connect is not None:
            raise self.fail_connect
        if not self.vanish:
            self.kernel.mount(path)

    def disconnect(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        self.calls.append(("disconnect", path))
        if path in self.busy:
            raise StorconnError(f"{path} is busy", code=ErrorCode.BUSY)
        del self.kernel.mounts[path]

    def repair(self, info: ConnectionInfo, path: str | None) -> None:
        assert path is not None
        self.calls.append(("repair", path))
        self.kernel.mounts.pop(path, None)
        self.kernel.mount(path)

    def probe_command(self, path: str) -> list[str] | None:
        return None

    def count(self, verb: str) -> int:
        return sum(1 for v, _ in self.calls if v == verb)


class InlineExecutor(Executor):
    """Runs each operation at once, so a tick's effects are visible when it returns."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future
