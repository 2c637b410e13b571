"""Volume connection shapes: os-brick's ``conn_info`` and the device it yields.

A controller hands a host a ``conn_info`` dict, ``{"driver_volume_type":
..., "data": {...}}``, shaped as os-brick's connectors expect it, and the
host's agent turns it into what it can act on: the agent references to hold
(one per share or per iSCSI portal) and where the volume lives inside them.
Both the volumes library (which builds conn_info) and the agent (which reads
it from an untrusted client) use this module, so the two can never disagree.

Pure: no I/O. Every problem is an ``InvalidParameter`` naming the dotted
field (``connInfo.data.name``) and never quoting a value, since the data
may hold a CHAP password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .blocks import IscsiInfo
from .errors import InvalidParameter
from .fields import check_plain_text
from .models import ConnectionInfo, parse_info
from .mounts import GlusterfsInfo, LocalfsInfo, NfsInfo, PosixfsInfo

__all__ = [
    "FILE_PROTOCOLS",
    "VOLUME_ID_PATTERN",
    "AccessMode",
    "DeviceType",
    "VolumeLocation",
    "check_volume_id",
    "file_conn_info",
    "iscsi_conn_info",
    "parse_conn_info",
    "volume_file_name",
]

FILE_PROTOCOLS = ("nfs", "glusterfs", "posixfs", "localfs")
AccessMode = Literal["rw", "ro"]
DeviceType = Literal["file", "block"]

# Volume and connection ids become parts of reference ids and file names.
VOLUME_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A volume's file name on its share: one plain path component.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FORMATS = ("raw", "qcow2")


@dataclass(frozen=True, slots=True)
class VolumeLocation:
    """Where a host finds a volume once its shares or portals are connected.

    ``shares`` holds one ConnectionInfo per share (file protocols) or per
    iSCSI portal (several only with multipath), in the order the controller
    gave them. ``name`` is the file name on the share; ``luns`` the LUN
    number behind each portal.
    """

    protocol: str
    volume_id: str
    shares: tuple[ConnectionInfo, ...]
    name: str | None
    luns: tuple[int, ...]
    format: str
    access_mode: AccessMode


def check_volume_id(value: object, field: str) -> str:
    """A volume or connection id: 1–64 of ``[A-Za-z0-9._-]``, starting alphanumeric."""
    if not isinstance(value, str) or not VOLUME_ID_PATTERN.fullmatch(value):
        raise InvalidParameter(
            field, "must be 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def volume_file_name(volume_id: str) -> str:
    """The file a ``file``-backed volume lives in on its share (Cinder's naming)."""
    return f"volume-{volume_id}"


def file_conn_info(
    share: ConnectionInfo,
    *,
    volume_id: str,
    name: str,
    volume_format: str,
    access_mode: AccessMode,
    secrets: bool = True,
) -> dict[str, Any]:
    """os-brick remotefs-shaped conn_info for a volume file on ``share``.

    ``export``/``options`` are what os-brick's RemoteFsConnector reads;
    ``share`` is the full agent ConnectionInfo, which the agent prefers
    because it keeps what ``export`` cannot say (NFS version, vfsType).
    """
    protocol = share.type
    if protocol not in FILE_PROTOCOLS:
        raise InvalidParameter("share", f"type {protocol} cannot hold volume files")
    params = share.params
    export = _export_of(share)
    options = getattr(params, "options", None)
    data: dict[str, Any] = {
        "export": export,
        "name": name,
        "options": options,
        "format": volume_format,
        "volume_id": volume_id,
        "access_mode": access_mode,
        "share": share.to_wire(secrets=secrets),
    }
    if isinstance(share, PosixfsInfo):
        data["vfs_type"] = share.params.vfs_type
    return {"driver_volume_type": protocol, "data": data}


def iscsi_conn_info(
    targets: list[tuple[str, str, int]],
    *,
    volume_id: str,
    access_mode: AccessMode,
    chap: tuple[str, str] | None,
) -> dict[str, Any]:
    """os-brick iscsi-shaped conn_info; ``targets`` is ``[(portal, iqn, lun), ...]``.

    The singular keys name the first path; the plural ones every path, as
    os-brick's multipath code reads them.
    """
    portal, iqn, lun = targets[0]
    data: dict[str, Any] = {
        "target_discovered": False,
        "target_portal": portal,
        "target_iqn": iqn,
        "target_lun": lun,
        "volume_id": volume_id,
        "access_mode": access_mode,
        "encrypted": False,
    }
    if len(targets) > 1:
        data["target_portals"] = [t[0] for t in targets]
        data["target_iqns"] = [t[1] for t in targets]
        data["target_luns"] = [t[2] for t in targets]
    if chap is not None:
        data["auth_method"] = "CHAP"
        data["auth_username"], data["auth_password"] = chap
    return {"driver_volume_type": "iscsi", "data": data}


def parse_conn_info(
    conn_info: object,
    *,
    field: str = "connInfo",
    host_block_types: tuple[str, ...] = (),
) -> VolumeLocation:
    """Validate an untrusted conn_info into a VolumeLocation; InvalidParameter otherwise.

    Every share is validated exactly as an acquire would validate it, so a
    conn_info can ask for nothing a reference could not.
    """
    if not isinstance(conn_info, Mapping):
        raise InvalidParameter(field, "must be an object")
    protocol = conn_info.get("driver_volume_type")
    data = conn_info.get("data")
    if not isinstance(data, Mapping):
        raise InvalidParameter(f"{field}.data", "must be an object")
    volume_id = check_volume_id(data.get("volume_id"), f"{field}.data.volume_id")
    access_mode = data.get("access_mode", "rw")
    if access_mode not in ("rw", "ro"):
        raise InvalidParameter(f"{field}.data.access_mode", "must be 'rw' or 'ro'")
    if protocol in FILE_PROTOCOLS:
        return _parse_file(str(protocol), data, volume_id, access_mode, field, host_block_types)
    if protocol == "iscsi":
        return _parse_iscsi(data, volume_id, access_mode, field)
    raise InvalidParameter(
        f"{field}.driver_volume_type",
        f"must be one of {', '.join((*FILE_PROTOCOLS, 'iscsi'))}",
    )


def _parse_file(
    protocol: str,
    data: Mapping[str, Any],
    volume_id: str,
    access_mode: AccessMode,
    field: str,
    host_block_types: tuple[str, ...],
) -> VolumeLocation:
    name = data.get("name")
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name):
        raise InvalidParameter(
            f"{field}.data.name",
            "must be one file name of letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
    volume_format = data.get("format", "raw")
    if volume_format not in _FORMATS:
        raise InvalidParameter(f"{field}.data.format", "must be 'raw' or 'qcow2'")
    wire = data.get("share")
    share_field = f"{field}.data.share"
    if wire is None:
        wire = _share_from_export(protocol, data, field)
        share_field = f"{field}.data"
    share = _parse_share(wire, share_field, host_block_types)
    if share.type != protocol:
        raise InvalidParameter(f"{field}.data.share.type", "must match driver_volume_type")
    return VolumeLocation(protocol, volume_id, (share,), name, (), volume_format, access_mode)


def _parse_iscsi(
    data: Mapping[str, Any], volume_id: str, access_mode: AccessMode, field: str
) -> VolumeLocation:
    prefix = f"{field}.data"
    portals = _list_or_single(data, "target_portals", "target_portal", prefix)
    iqns = _list_or_single(data, "target_iqns", "target_iqn", prefix)
    luns = _list_or_single(data, "target_luns", "target_lun", prefix)
    if not (len(portals) == len(iqns) == len(luns)):
        raise InvalidParameter(
            f"{prefix}.target_portals", "target_portals, target_iqns and target_luns differ in length"
        )
    credentials = _chap(data, prefix)
    shares: list[ConnectionInfo] = []
    checked_luns: list[int] = []
    for index, (portal, iqn, lun) in enumerate(zip(portals, iqns, luns, strict=True)):
        if not isinstance(lun, int) or isinstance(lun, bool) or not 0 <= lun <= 16383:
            raise InvalidParameter(f"{prefix}.target_luns[{index}]", "must be an integer 0-16383")
        if not isinstance(portal, str) or not isinstance(iqn, str):
            raise InvalidParameter(f"{prefix}.target_portals[{index}]", "must be text")
        host, port = _split_portal(portal, f"{prefix}.target_portals[{index}]")
        wire: dict[str, Any] = {
            "type": "iscsi",
            "params": {"target": {"portal": {"hostname": host, "port": port}, "iqn": iqn}},
        }
        if credentials is not None:
            wire["params"]["credentials"] = {"type": "chap", "params": credentials}
        shares.append(_parse_share(wire, f"{prefix}.target_portals[{index}]", ()))
        checked_luns.append(lun)
    return VolumeLocation(
        "iscsi", volume_id, tuple(shares), None, tuple(checked_luns), "raw", access_mode
    )


def _list_or_single(data: Mapping[str, Any], plural: str, single: str, prefix: str) -> list[Any]:
    many = data.get(plural)
    if many is not None:
        if not isinstance(many, list) or not many or len(many) > 16:
            raise InvalidParameter(f"{prefix}.{plural}", "must be a list of 1-16 entries")
        return many
    if single not in data:
        raise InvalidParameter(f"{prefix}.{single}", "field required")
    return [data[single]]


def _chap(data: Mapping[str, Any], prefix: str) -> dict[str, str] | None:
    method = data.get("auth_method")
    if method in (None, "", "None"):
        return None
    if not isinstance(method, str) or method.upper() != "CHAP":
        raise InvalidParameter(f"{prefix}.auth_method", "must be CHAP or absent")
    username = data.get("auth_username")
    password = data.get("auth_password")
    if not isinstance(username, str) or not username:
        raise InvalidParameter(f"{prefix}.auth_username", "field required with CHAP")
    if not isinstance(password, str) or not password:
        raise InvalidParameter(f"{prefix}.auth_password", "field required with CHAP")
    return {"username": username, "password": password}


def _split_portal(portal: str, field: str) -> tuple[str, int]:
    _check_text(portal, field)
    host, sep, port_text = portal.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise InvalidParameter(field, "must be host:port")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InvalidParameter(field, "port must be 1-65535")
    return host.removeprefix("[").removesuffix("]"), port


def _check_text(value: str, field: str) -> None:
    try:
        check_plain_text(value)
    except ValueError as exc:
        raise InvalidParameter(field, str(exc)) from None


def _share_from_export(protocol: str, data: Mapping[str, Any], field: str) -> dict[str, Any]:
    """A share wire dict from os-brick's ``export``/``options`` alone (hand-made conn_info)."""
    export = data.get("export")
    if not isinstance(export, str):
        raise InvalidParameter(f"{field}.data.export", "field required")
    params: dict[str, Any] = {}
    options = data.get("options")
    if options not in (None, ""):
        params["options"] = options
    if protocol == "nfs":
        params["export"] = export
    elif protocol == "glusterfs":
        params["spec"] = export
    elif protocol == "posixfs":
        params["spec"] = export
        params["vfsType"] = data.get("vfs_type")
    else:
        params = {"path": export}
    return {"type": protocol, "params": params}


def _parse_share(wire: object, field: str, host_block_types: tuple[str, ...]) -> ConnectionInfo:
    try:
        return parse_info(wire, host_block_types=host_block_types)
    except InvalidParameter as exc:
        raise InvalidParameter(f"{field}.{exc.field}", exc.reason) from None


def _export_of(share: ConnectionInfo) -> str:
    if isinstance(share, NfsInfo):
        return share.params.export
    if isinstance(share, (GlusterfsInfo, PosixfsInfo)):
        return share.params.spec
    if isinstance(share, LocalfsInfo):
        return share.params.path
    if isinstance(share, IscsiInfo):
        raise InvalidParameter("share", "an iSCSI target is not a file share")
    raise InvalidParameter("share", f"type {share.type} cannot hold volume files")
