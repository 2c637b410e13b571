"""Running the agent as a server: token file, TLS rule, uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

import uvicorn

from storconn.connection import InvalidParameter

from .config import AgentConfig
from .http_protocol import HeadTimeoutH11Protocol
from .rpc import create_app
from .service import Agent

log = logging.getLogger(__name__)


_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,512}")


def ensure_token(path: Path) -> str:
    """Read the bearer token, creating it (mode 0600) on first start.

    Created whole or not at all: written to a temporary file, flushed to disk,
    then linked into place (link fails if another start won the race) and the
    directory flushed. A crash can therefore leave no empty token file; one
    that is empty or malformed anyway (a copy gone wrong, an older agent's
    crash) is refused with a clear message rather than served, since no
    client could ever present it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create_token(path)
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParameter("token", f"cannot read the token file {path}: {exc}") from exc
    if not _TOKEN.fullmatch(token):
        state = "empty" if not token else "malformed"
        raise InvalidParameter(
            "token",
            f"the token file {path} is {state}: remove it to have a new one created "
            "(clients must then read the new token)",
        )
    return token


def _create_token(path: Path) -> None:
    token = secrets.token_urlsafe(32)
    fd, temporary = tempfile.mkstemp(prefix=".token-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another agent start created it first: that one is the token
        _fsync_dir(path.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(temporary)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_listen(config: AgentConfig) -> None:
    """Anything but loopback carries bearer tokens and CHAP secrets: it must be TLS."""
    try:
        loopback = ipaddress.ip_address(config.host).is_loopback
    except ValueError:
        loopback = config.host == "localhost"
    if not loopback and (config.tls_cert is None or config.tls_key is None):
        raise InvalidParameter("listen", f"{config.host} is not loopback: give --tls-cert and --tls-key")


def uvicorn_settings() -> dict[str, Any]:
    """The server stack's settings, shared with the benchmark's bare app so the two compare fairly."""
    return {
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        # An idle keep-alive connection costs a socket, not a thread; close it
        # after a while all the same, as slow or vanished clients never will.
        "timeout_keep_alive": 30,
        # Each request's head within HEAD_TIMEOUT, however slowly its bytes trickle in.
        "http": HeadTimeoutH11Protocol,
        # Headers are small; a client that sends kilobytes of them is not one of ours.
        "h11_max_incomplete_event_size": 64 * 1024,
        # No proxy stands in front of the agent: X-Forwarded-For from a local
        # client must not change who the agent thinks is calling.
        "proxy_headers": False,
    }


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
            ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
            ssl_keyfile=str(config.tls_key) if config.tls_key else None,
            **uvicorn_settings(),
        )
    )
    try:
        server.run()
    finally:
        agent.stop()
