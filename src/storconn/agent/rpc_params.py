"""The params of each JSON-RPC method, validated before any of the agent's code sees them.

Every string that is not a reference id is checked here for NUL, control
characters and lone surrogates (JSON can carry ``"\\ud800"``, which no file,
command line or SQLite column can): such a value gets -32602 naming the
field, never reaches a command or the store, and never becomes a 500.
Reference ids are judged per entry by the registry (1000 for that entry),
so lists of ids accept any JSON value here and are only bounded in length.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from storconn.connection import InvalidParameter, check_plain_text, host_key

from .service import MAX_WAIT

# Bounds on the work one call or one batch may ask for: the body limit (4 MiB)
# alone would let one request name ~400,000 ids. 10,000 is what the largest
# documented use (statuses of 10,000 references) needs.
MAX_IDS_PER_CALL = 10_000
MAX_BATCH = 100  # calls in one JSON-RPC batch

_IFACE = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")


def _check_host(value: str) -> str:
    check_plain_text(value)
    if value.startswith("-"):
        raise ValueError("may not start with '-'")
    try:
        host_key(value)
    except InvalidParameter as exc:
        raise ValueError(exc.message) from None
    return value


def _check_iface(value: str) -> str:
    check_plain_text(value)
    if value.startswith("-") or not _IFACE.fullmatch(value):
        raise ValueError("must be 1-64 letters, digits and . _ : + - (not starting with '-')")
    return value


WireText = Annotated[str, AfterValidator(check_plain_text)]
HostText = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_check_host)]
IfaceText = Annotated[str, AfterValidator(_check_iface)]
IdList = Annotated[list[Any], Field(max_length=MAX_IDS_PER_CALL)]


class Params(BaseModel):
    # strict: "5" is not a timeout and 1.0 is not a port; the wire has types.
    model_config = ConfigDict(extra="forbid", strict=True)


class AcquireParams(Params):
    conRefArgs: Annotated[dict[str, Any], Field(max_length=MAX_IDS_PER_CALL)]


class ReleaseParams(Params):
    refIDs: IdList = Field(default_factory=list)
    prefixes: IdList = Field(default_factory=list)


class StatusesParams(Params):
    refIDs: IdList | None = None


class WaitParams(Params):
    refIDs: IdList
    timeout: Annotated[float, Field(ge=0, le=MAX_WAIT, allow_inf_nan=False)]


class ManageParams(Params):
    uri: Annotated[str, Field(min_length=1, max_length=8192), AfterValidator(check_plain_text)]
    connectionID: str  # judged as a reference id by the registry (1000 when refused)


class UnmanageParams(Params):
    connectionID: str


class DiscoverParams(Params):
    hostname: HostText
    port: Annotated[int, Field(ge=1, le=65535)] = 3260
    iface: IfaceText = "default"


class NoParams(Params):
    pass


# -- Volumes.* (attachments.py): ids and connInfo are judged there, naming the field --

VolumeTimeout = Annotated[float, Field(ge=0, le=MAX_WAIT, allow_inf_nan=False)]


class VolumesAttachParams(Params):
    connectionID: Any
    connInfo: Any
    mode: Literal["rw", "ro"] | None = None
    deviceType: Literal["file", "block"] | None = None
    timeout: VolumeTimeout = 60.0


class VolumesConnectionParams(Params):
    connectionID: Any


class VolumesListParams(Params):
    pass
