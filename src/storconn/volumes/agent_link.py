"""How the library finds the local agent: ``setup(agent_url=, agent_token_file=)``,
else ``STORCONN_AGENT_URL`` / ``STORCONN_TOKEN_FILE`` as the CLI reads them.

One ``AgentClient`` per process and address, made on first use: httpx
clients pool their connections and are thread-safe, so every Backend and
Connection of the process shares it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from storconn.agent.client import AgentClient

from .errors import AgentError

__all__ = ["AgentSettings", "local_agent", "configure", "settings"]

DEFAULT_AGENT_URL = "http://127.0.0.1:54321"
DEFAULT_TOKEN_FILE = Path("/var/lib/storconn/agent/token")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    url: str
    token_file: Path


_lock = threading.Lock()
_configured: AgentSettings | None = None
_clients: dict[AgentSettings, AgentClient] = {}


def configure(url: str | None, token_file: str | Path | None) -> None:
    """Set the local agent's address for this process (``setup`` calls this).

    What is not given stays as it was: calling ``setup`` again for another
    persistence keeps the agent.
    """
    global _configured
    if url is None and token_file is None:
        return
    with _lock:
        base = settings()
        _configured = AgentSettings(url or base.url, Path(token_file) if token_file else base.token_file)


def settings() -> AgentSettings:
    """The configured address, else the environment's, else the defaults."""
    if _configured is not None:
        return _configured
    return AgentSettings(
        os.environ.get("STORCONN_AGENT_URL", DEFAULT_AGENT_URL),
        Path(os.environ.get("STORCONN_TOKEN_FILE", str(DEFAULT_TOKEN_FILE))),
    )


def local_agent() -> AgentClient:
    """The shared client of this host's agent; AgentError when its token cannot be read."""
    wanted = settings()
    with _lock:
        client = _clients.get(wanted)
        if client is None:
            try:
                # Attaching waits for a mount: allow the agent's own wait budget.
                client = AgentClient(wanted.url, token_file=wanted.token_file, timeout=330.0)
            except OSError as exc:
                raise AgentError(
                    f"cannot read the agent's token file {wanted.token_file}: {exc.strerror}"
                ) from exc
            _clients[wanted] = client
        return client


def close_all() -> None:
    """Close every client and forget the configured address (tests)."""
    global _configured
    with _lock:
        _configured = None
        for client in _clients.values():
            client.close()
        _clients.clear()


class _LazyAgent:
    """Stands for ``local_agent()`` and resolves it at each call, so that making a
    Backend never needs the agent's token: only reaching the storage does."""

    def __getattr__(self, name: str) -> object:
        return getattr(local_agent(), name)


def local_agent_lazy() -> AgentClient:
    return cast(AgentClient, _LazyAgent())
