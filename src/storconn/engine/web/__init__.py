"""The web admin: server-rendered pages on the engine's services (DESIGN.md section 4, issue 10)."""

from __future__ import annotations

from .app import DEFAULT_SESSION_TTL, create_web_app

__all__ = ["DEFAULT_SESSION_TTL", "create_web_app"]
