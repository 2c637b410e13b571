"""The host agent: durable connection references that keep storage connected.

Names are loaded on first use, so that the server does not pay for the
client's imports (httpx) and the client does not pay for the server's.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import AgentClient, AgentRpcError, AgentUnavailable
    from .config import AgentConfig
    from .reconciler import ReconcilerConfig
    from .service import Agent

__all__ = ["Agent", "AgentClient", "AgentConfig", "AgentRpcError", "AgentUnavailable", "ReconcilerConfig"]

_HOMES = {
    "Agent": ".service",
    "AgentClient": ".client",
    "AgentRpcError": ".client",
    "AgentUnavailable": ".client",
    "AgentConfig": ".config",
    "ReconcilerConfig": ".reconciler",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
