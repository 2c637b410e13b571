"""The vocabulary shared by the agent, the engine and the volumes library.

``ConnectionInfo`` models (one per storage type), their identity, URIs,
mount option rules, redaction and error codes. Pure: nothing here does I/O,
so identity and equality are safe to compute anywhere, under any lock.
"""

from __future__ import annotations

from .base import IDENTITY_SEPARATOR
from .blocks import (
    DEFAULT_ISCSI_IFACE,
    DEFAULT_ISCSI_PORT,
    ChapParams,
    FcpInfo,
    FcpParams,
    IscsiCredentials,
    IscsiInfo,
    IscsiParams,
    IscsiPortal,
    IscsiTarget,
)
from .errors import ErrorCode, InvalidParameter, StorconnError
from .hosts import host_key
from .models import CONNECTION_TYPES, ConnectionInfo, parse_info
from .mounts import (
    NFS_VERSIONS,
    GlusterfsInfo,
    GlusterfsParams,
    LocalfsInfo,
    LocalfsParams,
    NfsInfo,
    NfsParams,
    PosixfsInfo,
    PosixfsParams,
)
from .options import (
    MANAGED_OPTIONS,
    REFUSED_OPTIONS,
    SECRET_OPTIONS,
    check_options,
    split_options,
)
from .paths import normalize_path
from .redact import SECRET_MASK, redact_text
from .uri import format_uri, parse_uri

__all__ = [
    "CONNECTION_TYPES",
    "DEFAULT_ISCSI_IFACE",
    "DEFAULT_ISCSI_PORT",
    "IDENTITY_SEPARATOR",
    "MANAGED_OPTIONS",
    "NFS_VERSIONS",
    "REFUSED_OPTIONS",
    "SECRET_MASK",
    "SECRET_OPTIONS",
    "ChapParams",
    "ConnectionInfo",
    "ErrorCode",
    "FcpInfo",
    "FcpParams",
    "GlusterfsInfo",
    "GlusterfsParams",
    "InvalidParameter",
    "IscsiCredentials",
    "IscsiInfo",
    "IscsiParams",
    "IscsiPortal",
    "IscsiTarget",
    "LocalfsInfo",
    "LocalfsParams",
    "NfsInfo",
    "NfsParams",
    "PosixfsInfo",
    "PosixfsParams",
    "StorconnError",
    "check_options",
    "format_uri",
    "host_key",
    "normalize_path",
    "parse_info",
    "parse_uri",
    "redact_text",
    "split_options",
]
