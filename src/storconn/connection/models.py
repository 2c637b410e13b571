"""``ConnectionInfo``, the union of the per-type models, and ``parse_info``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Final, TypeAlias

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .blocks import FcpInfo, IscsiInfo
from .errors import InvalidParameter
from .fields import FieldProblem
from .mounts import HOST_BLOCK_TYPES, GlusterfsInfo, LocalfsInfo, NfsInfo, PosixfsInfo

__all__ = ["CONNECTION_TYPES", "ConnectionInfo", "parse_info"]

ConnectionInfo: TypeAlias = Annotated[
    FcpInfo | GlusterfsInfo | IscsiInfo | LocalfsInfo | NfsInfo | PosixfsInfo,
    Field(discriminator="type"),
]
"""``{"type": ..., "params": {...}}`` as in seed 000, one model per type."""

CONNECTION_TYPES: Final = ("fcp", "glusterfs", "iscsi", "localfs", "nfs", "posixfs")

_ADAPTER: TypeAdapter[ConnectionInfo] = TypeAdapter(ConnectionInfo)

# Field name used when the whole input is wrong (not an object at all).
_WHOLE = "connectionInfo"

_REASONS = {
    "missing": "field required",
    "extra_forbidden": "unknown parameter",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "union_tag_not_found": "field required",
}


def parse_info(data: object, *, host_block_types: Collection[str] = ()) -> ConnectionInfo:
    """Validate a wire dict into its model; InvalidParameter on any problem.

    The error names the dotted wire path of the first problem found
    (``params.target.portal.port``) and says why, never quoting a value.
    Only wire names are accepted (``vfsType``, not ``vfs_type``).
    ``host_block_types`` widens the posixfs types with the block-backed ones
    a host's kernel offers (``fstypes.block_types_offered``); the engine,
    which knows no host, validates with the fixed list.
    """
    context = {HOST_BLOCK_TYPES: frozenset(host_block_types)} if host_block_types else None
    try:
        return _ADAPTER.validate_python(data, by_alias=True, by_name=False, context=context)
    except ValidationError as exc:
        error = _translate(exc.errors(include_url=False, include_input=False)[0])
    # Raised outside the handler so that it has no __context__: pydantic's
    # text quotes input values, passwords included.
    raise error


def _translate(error: ErrorDetails) -> InvalidParameter:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        shown = repr(tag if len(tag) <= 40 else tag[:40] + "...")
        expected = ", ".join(CONNECTION_TYPES)
        return InvalidParameter(
            "type", f"unknown connection type {shown}; expected one of {expected}"
        )
    if kind == "union_tag_not_found":
        return InvalidParameter("type", "field required")
    # The first element of a location is the union's tag ("nfs"), not a field.
    path = [str(part) for part in error["loc"][1:]]
    problem = ctx.get("error")
    if isinstance(problem, FieldProblem):
        path.append(problem.field)
    field = ".".join(path) or _WHOLE
    if kind == "value_error" and problem is not None:
        reason = str(problem)
    elif kind == "literal_error":
        reason = f"must be {ctx.get('expected', 'one of the allowed values')}"
    else:
        reason = _REASONS.get(kind) or _lower_first(error["msg"])
    return InvalidParameter(field, reason)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
