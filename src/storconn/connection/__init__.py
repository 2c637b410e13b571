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
from .fstypes import (
    BLOCK_FS_TYPES,
    MEMORY_FS_TYPES,
    NETWORK_FS_TYPES,
    POSIXFS_TYPES,
    block_types_offered,
    kernel_offers,
    vfs_type_problem,
)
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
    GLUSTERFS_OPTIONS,
    MANAGED_OPTIONS,
    REFUSED_OPTIONS,
    REFUSED_PREFIXES,
    SECRET_OPTIONS,
    check_options,
    is_refused,
    option_problem,
    option_secrets,
    refusal_reason,
    split_options,
)
from .fields import check_plain_text
from .paths import normalize_path
from .redact import SECRET_MASK, redact_text
from .uri import format_uri, parse_uri

__all__ = [
    "BLOCK_FS_TYPES",
    "CONNECTION_TYPES",
    "DEFAULT_ISCSI_IFACE",
    "DEFAULT_ISCSI_PORT",
    "GLUSTERFS_OPTIONS",
    "IDENTITY_SEPARATOR",
    "MANAGED_OPTIONS",
    "MEMORY_FS_TYPES",
    "NETWORK_FS_TYPES",
    "NFS_VERSIONS",
    "POSIXFS_TYPES",
    "REFUSED_OPTIONS",
    "REFUSED_PREFIXES",
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
    "block_types_offered",
    "check_options",
    "format_uri",
    "host_key",
    "is_refused",
    "kernel_offers",
    "normalize_path",
    "option_problem",
    "option_secrets",
    "check_plain_text",
    "parse_info",
    "parse_uri",
    "redact_text",
    "refusal_reason",
    "split_options",
    "vfs_type_problem",
]
