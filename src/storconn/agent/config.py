"""The agent's settings: flags, then ``STORCONN_AGENT_*`` variables, then a TOML file.

The CLI resolves flags and variables; this module holds the result and
reads the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from storconn.connection import InvalidParameter

from .connectors import Timeouts
from .reconciler import ReconcilerConfig

DEFAULT_PORT = 54321


@dataclass(frozen=True, slots=True)
class AgentConfig:
    state_dir: Path = Path("/var/lib/storconn/agent")
    mount_root: Path = Path("/run/storconn/mnt")
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    localfs_user: tuple[int, int] | None = None
    reconciler: ReconcilerConfig = field(default_factory=ReconcilerConfig)
    timeouts: Timeouts = field(default_factory=Timeouts)

    @property
    def store_path(self) -> Path:
        return self.state_dir / "refs.sqlite"

    @property
    def token_path(self) -> Path:
        return self.state_dir / "token"


def load_toml(path: Path) -> dict[str, Any]:
    """The ``[agent]`` table of a TOML file (keys as the flags, with '_' for '-')."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    table = data.get("agent", {})
    if not isinstance(table, dict):
        raise InvalidParameter("agent", f"{path}: [agent] must be a table")
    return table


def tuning(base: ReconcilerConfig, values: dict[str, Any]) -> ReconcilerConfig:
    """Apply the reconciler keys of ``values`` (period, grace, ...) to ``base``; refuse unknown ones."""
    known = {f.name for f in fields(ReconcilerConfig)}
    chosen = {k: v for k, v in values.items() if k in known and v is not None}
    for name, value in chosen.items():
        if not isinstance(value, (int, float)) or value < 0:
            raise InvalidParameter(name, "must be a non-negative number")
    return replace(base, **chosen)
