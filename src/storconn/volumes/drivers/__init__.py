"""The volume drivers, one module each behind ``base.Driver``; ``make_driver`` picks one by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storconn.agent.client import AgentClient
from storconn.connection import ConnectionInfo, InvalidParameter, parse_info, parse_uri
from pydantic import BaseModel

from .base import Driver

__all__ = ["DRIVERS", "Driver", "make_driver", "parse_share"]

DRIVERS = ("file", "iscsi")
# Keys every backend takes, whatever its driver (cinderlib's and storconn's own).
COMMON_KEYS = frozenset({
    "volume_driver",
    "volume_backend_name",
    "use_multipath_for_image_xfer",
    "enforce_multipath_for_image_xfer",
    "device_type",
})
FILE_KEYS = frozenset({"share", "volume_format"})
ISCSI_KEYS = frozenset({
    "share",
    "target_ip_address",
    "target_port",
    "target_prefix",
    "target_secondary_ip_addresses",
    "shared_targets",
    "use_chap_auth",
    "tgt_control_port",
    "tgt_timeout",
})


def parse_share(share: object, field: str = "share") -> ConnectionInfo:
    """A share given as a URI, a ConnectionInfo wire dict, or a ConnectionInfo."""
    if isinstance(share, BaseModel) and hasattr(share, "identity"):
        return share  # type: ignore[return-value]
    try:
        if isinstance(share, str):
            return parse_uri(share)
        if isinstance(share, Mapping):
            return parse_info(dict(share))
    except InvalidParameter as exc:
        raise InvalidParameter(f"{field}.{exc.field}" if exc.field != "uri" else field, exc.reason) from None
    raise InvalidParameter(field, "must be a URI or a connection info")


def make_driver(backend_name: str, config: Mapping[str, Any], agent: AgentClient) -> Driver:
    """The driver ``config["volume_driver"]`` names, configured; InvalidParameter on unknown keys."""
    name = config.get("volume_driver", "file")
    if name not in DRIVERS:
        raise InvalidParameter("volume_driver", f"must be one of {', '.join(DRIVERS)}")
    allowed = COMMON_KEYS | (FILE_KEYS if name == "file" else ISCSI_KEYS)
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InvalidParameter(unknown[0], f"is not a {name} driver option")
    if "share" not in config:
        raise InvalidParameter("share", "field required")
    share = parse_share(config["share"])
    if name == "file":
        from .file import FileDriver

        return FileDriver(
            backend_name, share, agent, volume_format=config.get("volume_format", "raw")
        )
    from .iscsi import IscsiDriver

    options = {k: v for k, v in config.items() if k in ISCSI_KEYS and k != "share"}
    return IscsiDriver(backend_name, share, agent, **options)
