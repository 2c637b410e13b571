"""The mounted types: nfs, posixfs, glusterfs and localfs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from .base import Comparison, InfoBase
from .errors import InvalidParameter
from .fields import FieldProblem, Frozen, HostName, Int, Name, Text, in_range
from .fstypes import posixfs_spec_problem, vfs_type_problem
from .hosts import host_key, normalize_spec, split_remote
from .options import check_options, option_secrets, redact_options, split_options
from .paths import normalize_path, path_problem

__all__ = [
    "GlusterfsInfo",
    "GlusterfsParams",
    "LocalfsInfo",
    "LocalfsParams",
    "NFS_VERSIONS",
    "NfsInfo",
    "NfsParams",
    "PosixfsInfo",
    "PosixfsParams",
]

NFS_VERSIONS = ("3", "4", "4.0", "4.1", "4.2", "auto")

_GLUSTER_VOLUME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
# mount.glusterfs passes the subdirectory to the client through word
# splitting: no spaces, globs, quotes or '#' (see options.GLUSTERFS_OPTIONS).
_GLUSTER_SUBDIR = re.compile(r"[\w.+@=,-]+")

HOST_BLOCK_TYPES = "host_block_types"
"""The validation context key with the block-backed types a host offers (``parse_info``)."""


def _remote(value: str) -> tuple[str, str]:
    """Validate ``server:/path`` and return (host key, path)."""
    try:
        server, path = split_remote(value)
        key = host_key(server)
    except ValueError:
        raise ValueError("must be server:/path (IPv6 addresses in brackets)") from None
    if (":" in key and not server.startswith("[")) or path.startswith(":"):
        raise ValueError("IPv6 addresses must be in brackets: [address]:/path")
    problem = path_problem(path, absolute=True)
    if problem:
        raise ValueError(f"the path {problem}")
    return key, path


def _check_export(value: str) -> str:
    _remote(value)
    return value


def _check_gluster_spec(value: str) -> str:
    _, path = _remote(value)
    volume, *subdir = normalize_path(path).split("/")[1:]
    if not _GLUSTER_VOLUME.fullmatch(volume):
        raise ValueError("must be server:/volume[/subdir] with a valid volume name")
    if not all(_GLUSTER_SUBDIR.fullmatch(part) for part in subdir):
        raise ValueError("the subdirectory may hold only letters, digits and . _ + @ = , -")
    return value


def _check_spec(value: str) -> str:
    try:
        normalize_spec(value)
    except ValueError as exc:
        raise ValueError(f"the path {exc}") from None
    return value


def _check_local_path(value: str) -> str:
    problem = path_problem(value, absolute=True)
    if problem:
        raise ValueError(problem)
    return value


def _to_version(value: object) -> object:
    # Seed 000 sends the version as an integer; it is stored as text.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value in NFS_VERSIONS:
        return value
    raise ValueError("must be one of " + ", ".join(NFS_VERSIONS))


def _empty_to_none(value: object) -> object:
    # The engine stores empty strings as null: "" and absent mean the same.
    return None if value in ("", [], ()) else value


def _to_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",")]
    return value


def _options_checker(kind: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        try:
            check_options(kind, value, field="params.options")
        except InvalidParameter as exc:
            raise ValueError(exc.reason) from None
        return value

    return AfterValidator(check)


NfsVersion = Annotated[str, BeforeValidator(_to_version)]
Options = Annotated[Text | None, BeforeValidator(_empty_to_none)]


class _MountParams(Frozen):
    """Params with mount options, which may hold a password (cifs ``password=``)."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # SecretStr hides CHAP passwords; option values need the same care.
        for name, value in super().__repr_args__():
            if name == "options" and isinstance(value, str) and option_secrets(value):
                value = redact_options(value)
            yield name, value


class NfsParams(_MountParams):
    export: Annotated[Text, AfterValidator(_check_export)]
    version: NfsVersion | None = None
    timeout: Annotated[Int, AfterValidator(in_range(1, 6000))] | None = None
    """Deciseconds, as NFS's ``timeo``."""
    retrans: Annotated[Int, AfterValidator(in_range(0, 32767))] | None = None
    options: Annotated[Options, _options_checker("nfs")] = None


class NfsInfo(InfoBase):
    type: Literal["nfs"] = "nfs"
    params: NfsParams

    @property
    def identity(self) -> tuple[str, ...]:
        key, path = _remote(self.params.export)
        return ("nfs", key, normalize_path(path))

    @property
    def mount_fstypes(self) -> frozenset[str]:
        version = self.params.version
        if version == "3":
            return frozenset({"nfs"})
        if version and version.startswith("4"):
            return frozenset({"nfs4"})
        return frozenset({"nfs", "nfs4"})

    def _compared(self, other: NfsInfo) -> list[Comparison]:
        mine, theirs = self.params, other.params
        return [
            # No version means "negotiate", which is what "auto" says.
            ("params.version", mine.version or "auto", theirs.version or "auto"),
            ("params.timeout", mine.timeout, theirs.timeout),
            ("params.retrans", mine.retrans, theirs.retrans),
            ("params.options", split_options(mine.options), split_options(theirs.options)),
        ]

    def _mount_options(self) -> str | None:
        return self.params.options


def _host_block_types(info: ValidationInfo) -> frozenset[str]:
    context = info.context
    if isinstance(context, dict):
        return frozenset(context.get(HOST_BLOCK_TYPES) or ())
    return frozenset()


def _check_vfs_type(value: str, info: ValidationInfo) -> str:
    problem = vfs_type_problem(value, host_block_types=_host_block_types(info))
    if problem:
        raise ValueError(problem)
    return value


def _check_posixfs_options(value: str | None, info: ValidationInfo) -> str | None:
    # The type's own rules (sshfs's ssh options...) need the type, validated
    # before the options; without a valid type only the common rules apply.
    vfs_type = info.data.get("vfs_type", "posixfs")
    try:
        check_options(vfs_type, value, field="params.options")
    except InvalidParameter as exc:
        raise ValueError(exc.reason) from None
    return value


class PosixfsParams(_MountParams):
    spec: Annotated[Text, AfterValidator(_check_spec)]
    vfs_type: Annotated[Name, AfterValidator(_check_vfs_type)] = Field(alias="vfsType")
    options: Annotated[Options, AfterValidator(_check_posixfs_options)] = None

    @model_validator(mode="after")
    def _spec_suits_type(self, info: ValidationInfo) -> PosixfsParams:
        problem = posixfs_spec_problem(
            self.vfs_type,
            self.spec,
            split_options(self.options),
            host_block_types=_host_block_types(info),
        )
        if problem:
            raise FieldProblem("spec", problem)
        return self


class PosixfsInfo(InfoBase):
    type: Literal["posixfs"] = "posixfs"
    params: PosixfsParams

    @property
    def identity(self) -> tuple[str, ...]:
        return ("posixfs", self.params.vfs_type, normalize_spec(self.params.spec))

    @property
    def mount_fstypes(self) -> frozenset[str]:
        return frozenset({self.params.vfs_type})

    def _compared(self, other: PosixfsInfo) -> list[Comparison]:
        mine, theirs = self.params, other.params
        return [("params.options", split_options(mine.options), split_options(theirs.options))]

    def _mount_options(self) -> str | None:
        return self.params.options


class GlusterfsParams(_MountParams):
    spec: Annotated[Text, AfterValidator(_check_gluster_spec)]
    options: Annotated[Options, _options_checker("glusterfs")] = None
    backup_servers: Annotated[
        tuple[HostName, ...] | None, BeforeValidator(_to_list), BeforeValidator(_empty_to_none)
    ] = Field(default=None, alias="backupServers")
    """Wire: a list of hosts, or one comma-separated string (as in the URI)."""


class GlusterfsInfo(InfoBase):
    type: Literal["glusterfs"] = "glusterfs"
    params: GlusterfsParams

    @property
    def identity(self) -> tuple[str, ...]:
        key, path = _remote(self.params.spec)
        return ("glusterfs", key, normalize_path(path))

    @property
    def mount_fstypes(self) -> frozenset[str]:
        # The glusterfs client is a FUSE daemon: mountinfo shows its FUSE name.
        return frozenset({"fuse.glusterfs"})

    def _compared(self, other: GlusterfsInfo) -> list[Comparison]:
        mine, theirs = self.params, other.params
        return [
            ("params.options", split_options(mine.options), split_options(theirs.options)),
            (
                "params.backupServers",
                _host_keys(mine.backup_servers),
                _host_keys(theirs.backup_servers),
            ),
        ]

    def _mount_options(self) -> str | None:
        return self.params.options


class LocalfsParams(Frozen):
    path: Annotated[Text, AfterValidator(_check_local_path)]


class LocalfsInfo(InfoBase):
    type: Literal["localfs"] = "localfs"
    params: LocalfsParams

    @property
    def identity(self) -> tuple[str, ...]:
        return ("localfs", normalize_path(self.params.path))


def _host_keys(hosts: tuple[str, ...] | None) -> list[str]:
    return [host_key(host) for host in hosts or ()]
