"""What ``Volumes.attach`` asks, validated: the connection id, the conn_info, the mode, the device type.

Pure: no I/O. Every problem is an InvalidParameter naming the field
(``connectionID``, ``connInfo.data.name``, ``mode``, ``deviceType``), never
quoting a value, since a conn_info may carry a CHAP password.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from storconn.connection import ErrorCode, InvalidParameter, StorconnError
from storconn.connection.volume_shapes import FILE_PROTOCOLS, VolumeLocation, check_volume_id, parse_conn_info

REF_PREFIX = "volumes:"
MAX_CONN_INFO = 64 * 1024  # bytes of canonical JSON


class AttachmentConflict(StorconnError):
    """The connection id is attached with a different ``field``: 478, naming it."""

    def __init__(self, connection_id: str, field: str) -> None:
        super().__init__(
            f"connectionID {connection_id} is attached with a different {field}; detach it first",
            code=ErrorCode.REF_ID_IN_USE,
        )
        self.field = field


@dataclass(frozen=True, slots=True)
class Request:
    """A validated ``Volumes.attach``."""

    connection_id: str
    location: VolumeLocation
    conn_info_json: str = field(repr=False)  # canonical, secrets included: compared and stored, never shown
    mode: str
    device_type: str
    timeout: float

    @property
    def ref_ids(self) -> list[str]:
        base = f"{REF_PREFIX}{self.location.volume_id}:{self.connection_id}"
        return [base if n == 0 else f"{base}:{n}" for n in range(len(self.location.shares))]

    def stored(self) -> str:
        return json.dumps({"connInfo": json.loads(self.conn_info_json), "mode": self.mode,
                           "deviceType": self.device_type}, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Plan:
    """An attach between its acquire and its device: what the wait and the finish need."""

    request: Request
    deadline: float
    answer: dict[str, Any] | None = None  # set when the connection was attached already

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def parse_request(
    connection_id: object, conn_info: object, mode: str | None, device_type: str | None, timeout: float
) -> Request:
    """Validate ``Volumes.attach``'s params; InvalidParameter naming the field otherwise."""
    cid = check_volume_id(connection_id, "connectionID")
    try:
        canonical = json.dumps(conn_info, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        raise InvalidParameter("connInfo", "must be JSON") from None
    if len(canonical) > MAX_CONN_INFO:
        raise InvalidParameter("connInfo", f"is larger than {MAX_CONN_INFO} bytes")
    location = parse_conn_info(conn_info)
    chosen_mode = mode or location.access_mode
    if chosen_mode == "rw" and location.access_mode == "ro":
        raise InvalidParameter("mode", "the controller granted this connection read-only access")
    file_protocol = location.protocol in FILE_PROTOCOLS
    chosen_type = device_type or ("file" if file_protocol else "block")
    if not file_protocol and chosen_type != "block":
        raise InvalidParameter("deviceType", "an iSCSI volume attaches as 'block' only")
    if location.format != "raw" and chosen_type == "block":
        raise InvalidParameter("deviceType", f"a {location.format} volume attaches as 'file' only")
    return Request(cid, location, canonical, chosen_mode, chosen_type, timeout)
