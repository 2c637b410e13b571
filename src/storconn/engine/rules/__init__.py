"""The engine's rules: validation, duplicates, usage, state moves and lock keys. Pure.

Plain functions over the entities of ``storconn.engine.model``: no HTTP, no
SQL, no agents. Each raises a ``storconn.engine.errors`` subclass carrying
oVirt's message key; the command that calls it adds the action prefix.
"""

from __future__ import annotations

from . import clusters, domains, locks, messages, references
from .duplicates import Candidate, check_duplicates, duplicate_scope, find_duplicate
from .fields import (
    DEFAULT_PORTAL,
    REQUIRED_ON_ADD,
    build_connection,
    clean_fields,
    connection_string,
    merge_fields,
    output_fields,
    require_fields,
    split_connection,
    storage_type,
    stored_fields,
    without_password,
)
from .infos import details_changed, identity_hash, identity_key, info_wire, to_info
from .inventory import (
    check_disk_removable,
    check_host_address,
    check_lun_disk,
    check_name,
    check_name_free,
    check_password,
    user_name,
)
from .messages import Action, IncompleteParameters, not_found
from .usage import (
    EDITABLE_TYPES,
    check_edit,
    check_edit_type,
    check_edit_usage,
    check_remove,
    check_same_id,
    check_type_change,
    running_vms,
)
from .validation import CONNECTION_TYPES, checked_connection, mount_option_kind, validate_fields

__all__ = [
    "CONNECTION_TYPES",
    "DEFAULT_PORTAL",
    "EDITABLE_TYPES",
    "REQUIRED_ON_ADD",
    "Action",
    "Candidate",
    "IncompleteParameters",
    "build_connection",
    "check_disk_removable",
    "check_duplicates",
    "check_edit",
    "check_edit_type",
    "check_edit_usage",
    "check_host_address",
    "check_lun_disk",
    "check_name",
    "check_name_free",
    "check_password",
    "check_remove",
    "check_same_id",
    "check_type_change",
    "checked_connection",
    "clean_fields",
    "clusters",
    "connection_string",
    "details_changed",
    "domains",
    "duplicate_scope",
    "find_duplicate",
    "identity_hash",
    "identity_key",
    "info_wire",
    "locks",
    "messages",
    "merge_fields",
    "mount_option_kind",
    "not_found",
    "output_fields",
    "references",
    "require_fields",
    "running_vms",
    "split_connection",
    "storage_type",
    "stored_fields",
    "to_info",
    "user_name",
    "validate_fields",
    "without_password",
]
