"""Running the agent as a server: token file, TLS rule, uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path

import uvicorn

from storconn.connection import InvalidParameter

from .config import AgentConfig
from .rpc import create_app
from .service import Agent

log = logging.getLogger(__name__)


def ensure_token(path: Path) -> str:
    """Read the bearer token, creating it (mode 0600) on first start."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        token = secrets.token_urlsafe(32)
        file.write(token + "\n")
    return token


def check_listen(config: AgentConfig) -> None:
    """Anything but loopback carries bearer tokens and CHAP secrets: it must be TLS."""
    try:
        loopback = ipaddress.ip_address(config.host).is_loopback
    except ValueError:
        loopback = config.host == "localhost"
    if not loopback and (config.tls_cert is None or config.tls_key is None):
        raise InvalidParameter("listen", f"{config.host} is not loopback: give --tls-cert and --tls-key")


def serve(config: AgentConfig, *, log_level: str = "info") -> None:
    check_listen(config)
    token = ensure_token(config.token_path)
    agent = Agent(config)
    agent.start()
    app = create_app(agent, token=token)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=log_level,
            access_log=False,
            ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
            ssl_keyfile=str(config.tls_key) if config.tls_key else None,
            timeout_graceful_shutdown=5,
        )
    )
    try:
        server.run()
    finally:
        agent.stop()
