"""``get_connector_properties``: what a host tells a controller about itself, with os-brick's keys.

os-brick's signature is kept (``root_helper`` and ``execute`` are accepted
and ignored: storconn never runs a helper program on the library's
behalf, the agent does the privileged work). ``agent`` is storconn's own
key: the URL of the host's agent, so a controller knows whom to ask.
"""

from __future__ import annotations

import platform
import socket
import sys
from pathlib import Path
from typing import Any

from . import agent_link

__all__ = ["get_connector_properties", "initiator_name"]

INITIATOR_FILE = Path("/etc/iscsi/initiatorname.iscsi")


def initiator_name(path: Path = INITIATOR_FILE) -> str | None:
    """The host's iSCSI initiator name (open-iscsi's file), or None when it has none."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "InitiatorName" and value.strip():
            return value.strip()
    return None


def get_connector_properties(
    root_helper: str | None = None,
    my_ip: str | None = None,
    multipath: bool = False,
    enforce_multipath: bool = False,
    host: str | None = None,
    execute: object = None,
    *,
    initiator: str | None = None,
    agent_url: str | None = None,
) -> dict[str, Any]:
    """os-brick's connector dict for this host.

    Keys: ``platform, os_type, ip, host, multipath, enforce_multipath,
    do_local_attach, initiator`` (only when the host has one, as os-brick
    does) and ``agent``. ``initiator`` overrides the host's initiator name
    (a test, or a host with several).
    """
    hostname = host or socket.gethostname()
    properties: dict[str, Any] = {
        "platform": platform.machine(),
        "os_type": sys.platform,
        "ip": my_ip or _address_of(hostname),
        "host": hostname,
        "multipath": bool(multipath),
        "enforce_multipath": bool(enforce_multipath),
        "do_local_attach": False,
        "agent": agent_url or agent_link.settings().url,
    }
    name = initiator or initiator_name()
    if name:
        properties["initiator"] = name
    return properties


def _address_of(hostname: str) -> str:
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        return "127.0.0.1"
