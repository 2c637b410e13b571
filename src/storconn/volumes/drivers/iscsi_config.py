"""The ``iscsi`` driver's configuration: Cinder's key names, each checked.

Pure (no I/O). Every problem is an ``InvalidParameter`` naming the key and
never quoting its value.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storconn.connection import InvalidParameter

from .tgt_protocol import DEFAULT_TIMEOUT

__all__ = ["DEFAULT_PREFIX", "IscsiConfig", "portal", "slug"]

DEFAULT_PREFIX = "iqn.2010-10.org.openstack:"
_PREFIX = re.compile(r"(?:iqn|eui|naa)\.[a-z0-9.:-]{0,150}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
# Keys the Backend reads itself; the driver accepts them without using them.
_BACKEND_KEYS = frozenset({"volume_driver", "device_type", "target_protocol", "target_helper"})


@dataclass(frozen=True, slots=True)
class IscsiConfig:
    """The driver's configuration, checked; Cinder's key names."""

    volume_backend_name: str
    share: object = field(repr=False)  # may hold the share's credentials
    target_ip_address: str = "127.0.0.1"
    target_port: int = 3260
    target_secondary_ip_addresses: tuple[str, ...] = ()
    target_prefix: str = DEFAULT_PREFIX
    shared_targets: bool = True
    use_chap_auth: bool = False
    tgt_control_port: int = 0
    tgt_timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> IscsiConfig:
        """Check every key; InvalidParameter names the first bad one, nothing is kept."""
        known = {f for f in cls.__dataclass_fields__}
        for key in config:
            if key not in known and key not in _BACKEND_KEYS and key != "volume_format":
                raise InvalidParameter(key, "unknown configuration key for the iscsi driver")
        if config.get("volume_format", "raw") != "raw":
            raise InvalidParameter("volume_format", "iscsi volumes are raw files")
        name = config.get("volume_backend_name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise InvalidParameter("volume_backend_name", "must be non-empty text")
        if config.get("share") in (None, ""):
            raise InvalidParameter("share", "field required: where the LUN files live")
        prefix = config.get("target_prefix", DEFAULT_PREFIX)
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise InvalidParameter(
                "target_prefix", "must be an iSCSI name prefix (iqn./eui./naa.) of lower-case "
                "letters, digits, '.', ':' or '-', at most 154 characters"
            )
        return cls(
            volume_backend_name=name,
            share=config["share"],
            target_ip_address=_ip(config.get("target_ip_address", "127.0.0.1"),
                                  "target_ip_address"),
            target_port=_int(config.get("target_port", 3260), "target_port", 1, 65535),
            target_secondary_ip_addresses=tuple(
                _ip(a, "target_secondary_ip_addresses")
                for a in _list(config.get("target_secondary_ip_addresses", ()),
                               "target_secondary_ip_addresses")
            ),
            target_prefix=prefix,
            shared_targets=_bool(config.get("shared_targets", True), "shared_targets"),
            use_chap_auth=_bool(config.get("use_chap_auth", False), "use_chap_auth"),
            tgt_control_port=_int(config.get("tgt_control_port", 0), "tgt_control_port", 0, 32767),
            tgt_timeout=_float(config.get("tgt_timeout", DEFAULT_TIMEOUT), "tgt_timeout"),
        )

    def portals(self, multipath: bool) -> list[str]:
        addresses = [self.target_ip_address]
        if multipath:
            addresses += [a for a in self.target_secondary_ip_addresses if a not in addresses]
        return [portal(a, self.target_port) for a in addresses]


def slug(name: str) -> str:
    """``name`` as a piece of a target name: lower-case letters, digits, '.', '-'.

    A name that had to change gets a hash suffix, so that "a_b" and "a-b"
    never share a target.
    """
    if _SLUG.fullmatch(name):
        return name
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")[:40] or "backend"
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def portal(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"





def _ip(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(field, "must be an IP address")
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise InvalidParameter(field, "must be an IP address") from None


def _list(value: object, field: str) -> Sequence[object]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return value
    raise InvalidParameter(field, "must be a list of IP addresses")


def _int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(field, f"must be an integer {low}-{high}")
    return value


def _float(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 300:
        raise InvalidParameter(field, "must be a number of seconds, 0-300")
    return float(value)


def _bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise InvalidParameter(field, "must be true or false")
