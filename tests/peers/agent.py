"""Run a real agent as a subprocess, the way an administrator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from storconn.agent.client import AgentClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AgentProcess:
    """``storconn agent serve`` in a child process, with fast timings for tests."""

    def __init__(
        self, state_dir: Path, mount_root: Path, *, extra: list[str] | None = None,
        address: str = "127.0.0.1", port: int | None = None,
    ) -> None:
        """``address``/``port``: another loopback address lets an agent take the default port (54321)."""
        self.state_dir = state_dir
        self.mount_root = mount_root
        self.address = address
        self.port = port or free_port()
        self.url = f"http://{address}:{self.port}"
        self.extra = extra or ["--period", "0.2", "--grace", "0.5", "--probe-interval", "0.5",
                               "--probe-timeout", "1", "--backoff-cap", "1"]
        self.process: subprocess.Popen[bytes] | None = None
        self.log = state_dir.parent / f"agent-{self.port}.log"

    def start(self, *, timeout: float = 20.0) -> None:
        argv = [sys.executable, "-m", "storconn.cli.main", "agent", "serve",
                "--state-dir", str(self.state_dir), "--mount-root", str(self.mount_root),
                "--listen", f"{self.address}:{self.port}", *self.extra]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"agent exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"agent did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def client(self) -> AgentClient:
        return AgentClient(self.url, token_file=self.state_dir / "token")

    def kill(self) -> None:
        """SIGKILL, as a crash would; wait until it is reaped."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def is_root() -> bool:
    return os.geteuid() == 0
