"""The host agent: durable connection references that keep storage connected."""

from __future__ import annotations

from .client import AgentClient, AgentRpcError, AgentUnavailable
from .config import AgentConfig
from .reconciler import ReconcilerConfig
from .service import Agent

__all__ = ["Agent", "AgentClient", "AgentConfig", "AgentRpcError", "AgentUnavailable", "ReconcilerConfig"]
