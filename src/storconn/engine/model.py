"""The engine's entities: plain data, no HTTP, no SQL.

Field names follow oVirt's API model (``address``, ``path``, ``vfs_type``,
``nfs_timeo``...), so the API codec maps them one to one and the rules read
like oVirt's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class StorageType(StrEnum):
    NFS = "nfs"
    FCP = "fcp"
    ISCSI = "iscsi"
    LOCALFS = "localfs"
    POSIXFS = "posixfs"
    GLUSTERFS = "glusterfs"


# oVirt's stored type codes (storage_server_connections.storage_type).
TYPE_CODES = {
    StorageType.NFS: 1,
    StorageType.FCP: 2,
    StorageType.ISCSI: 3,
    StorageType.LOCALFS: 4,
    StorageType.POSIXFS: 6,
    StorageType.GLUSTERFS: 7,
}

FILE_TYPES = frozenset({StorageType.NFS, StorageType.LOCALFS, StorageType.POSIXFS, StorageType.GLUSTERFS})


@dataclass(slots=True)
class ConnectionFields:
    """What a client sends for a storage connection; None means "not given" (a PUT keeps the stored value)."""

    type: StorageType | None = None
    address: str | None = None
    path: str | None = None
    port: int | None = None
    target: str | None = None  # the iSCSI iqn
    portal: str | None = None  # the iSCSI target portal group tag, "1" by default
    username: str | None = None
    password: str | None = None
    vfs_type: str | None = None
    mount_options: str | None = None
    nfs_version: str | None = None  # "auto", "3", "4", "4.0", "4.1", "4.2"
    nfs_timeo: int | None = None
    nfs_retrans: int | None = None
    gluster_volume: str | None = None


@dataclass(slots=True)
class StorageConnection:
    """A stored connection. ``connection`` is oVirt's stored string: ``address:path``, a path, or the iSCSI address."""

    id: str
    type: StorageType
    connection: str
    port: int | None = None
    iqn: str | None = None
    portal: str | None = None
    username: str | None = None
    password: str | None = None  # clear in memory only; encrypted at rest, never output
    vfs_type: str | None = None
    mount_options: str | None = None
    nfs_version: str | None = None
    nfs_timeo: int | None = None
    nfs_retrans: int | None = None
    gluster_volume: str | None = None
    revision: int = 1  # bumped on every change of the details an agent connects with


@dataclass(slots=True)
class DomainLun:
    """One path to one LUN of a block domain: the LUN id and the connection it is reached through.

    ``connection_id`` is None for FCP, and for a path whose connection was detached and removed.
    ``lun_mapping`` is the LUN's number on its target, when the client gave it.
    """

    lun_id: str
    connection_id: str | None = None
    lun_mapping: int | None = None


@dataclass(slots=True)
class LunFields:
    """A ``<logical_unit>`` a client sends for a domain: the LUN id and how to reach it (None for FCP)."""

    lun_id: str
    connection: ConnectionFields | None = None
    lun_mapping: int | None = None


class DomainStatus(StrEnum):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    UNATTACHED = "unattached"


@dataclass(slots=True)
class StorageDomain:
    id: str
    name: str
    storage_type: StorageType
    domain_type: str = "data"  # data, iso, export
    description: str | None = None
    data_center_id: str | None = None
    status: DomainStatus = DomainStatus.UNATTACHED
    connection_ids: list[str] = field(default_factory=list)
    volume_group_id: str | None = None  # block domains: oVirt's VG uuid
    luns: list[DomainLun] = field(default_factory=list)


class DataCenterStatus(StrEnum):
    """oVirt's DataCenterStatus values that storconn derives (from its domains; there is no SPM)."""

    UNINITIALIZED = "uninitialized"  # no data domain attached
    UP = "up"  # at least one data domain active
    MAINTENANCE = "maintenance"  # data domains attached, none active


# The compatibility versions oVirt 4.5 supports for data centers and clusters (4.8 since 4.5.5).
SUPPORTED_VERSIONS = ((4, 2), (4, 3), (4, 4), (4, 5), (4, 6), (4, 7), (4, 8))
DEFAULT_VERSION = (4, 7)


@dataclass(slots=True)
class DataCenter:
    id: str
    name: str
    description: str | None = None
    local: bool = False
    comment: str | None = None
    version: tuple[int, int] = DEFAULT_VERSION
    # Derived on every read; never stored.
    status: DataCenterStatus = DataCenterStatus.UNINITIALIZED


@dataclass(slots=True)
class Cluster:
    """A group of hosts in one data center; storconn keeps only what storage needs of oVirt's cluster."""

    id: str
    name: str
    data_center_id: str | None = None
    description: str | None = None
    comment: str | None = None
    version: tuple[int, int] = DEFAULT_VERSION
    cpu_type: str | None = None  # kept and answered as given (Ansible compares it), never used
    cpu_architecture: str | None = None


class HostStatus(StrEnum):
    UP = "up"
    NON_RESPONSIVE = "non_responsive"
    MAINTENANCE = "maintenance"


@dataclass(slots=True)
class Host:
    """A host is an agent: ``address:port`` with its bearer token (encrypted at rest, never output)."""

    id: str
    name: str
    address: str
    port: int
    token: str | None = None
    data_center_id: str | None = None  # always its cluster's (kept beside it for the references' queries)
    status: HostStatus = HostStatus.NON_RESPONSIVE
    cluster_id: str | None = None


@dataclass(slots=True)
class LunDisk:
    """A direct LUN disk: one LUN reached through one or more iSCSI connections."""

    id: str
    name: str
    lun_id: str
    connection_ids: list[str] = field(default_factory=list)


class VmStatus(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class DiskAttachment:
    disk_id: str
    plugged: bool = True


@dataclass(slots=True)
class Vm:
    id: str
    name: str
    status: VmStatus = VmStatus.DOWN
    disk_attachments: list[DiskAttachment] = field(default_factory=list)
    host_id: str | None = None  # the host it runs on while Up


class Role(StrEnum):
    ADMIN = "admin"  # may change everything
    VIEWER = "viewer"  # may read everything, change nothing


@dataclass(slots=True)
class User:
    name: str  # "admin@internal"
    role: Role


# --- a host's storage actions (iSCSI discovery and login, the LUNs a host sees) ---


@dataclass(slots=True)
class IscsiDetails:
    """oVirt's ``IscsiDetails`` as a client sends it in ``<action><iscsi>``."""

    address: str | None = None
    port: int | None = None
    target: str | None = None
    portal: str | None = None
    username: str | None = None
    password: str | None = None  # CHAP; never logged, never answered


@dataclass(frozen=True, slots=True)
class DiscoveredTarget:
    address: str
    port: int
    target: str
    tpgt: int | None

    @property
    def portal(self) -> str:
        """oVirt's ``portal`` of a discovered target: ``address:port,tpgt``."""
        text = f"{self.address}:{self.port}"
        return text if self.tpgt is None else f"{text},{self.tpgt}"


@dataclass(frozen=True, slots=True)
class HostLun:
    """A LUN the host sees through one of its iSCSI sessions (oVirt's ``HostStorage``)."""

    id: str
    address: str
    port: int
    target: str
    portal: str
    lun_mapping: int
    size: int
    vendor_id: str
    product_id: str
    serial: str
    device: str
    status: str  # the session's state: LOGGED_IN, FAILED...


class Severity(StrEnum):
    """oVirt's LogSeverity; stored as oVirt's number (``SEVERITY_CODES``) so that they compare."""

    NORMAL = "normal"
    WARNING = "warning"
    ERROR = "error"
    ALERT = "alert"


SEVERITY_CODES = {Severity.NORMAL: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.ALERT: 10}


@dataclass(slots=True)
class EventObjects:
    """What an event concerns: ids, and the names they had then (oVirt keeps both)."""

    host_id: str | None = None
    host_name: str | None = None
    storage_domain_id: str | None = None
    storage_domain_name: str | None = None
    data_center_id: str | None = None
    data_center_name: str | None = None
    cluster_id: str | None = None
    storage_connection_id: str | None = None
    disk_id: str | None = None
    vm_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None


@dataclass(slots=True)
class Event:
    """One entry of the audit log; ``id`` only ever grows (oVirt's ``index``)."""

    id: int
    time: datetime
    severity: Severity
    code: int
    description: str
    origin: str
    objects: EventObjects = field(default_factory=EventObjects)
    custom_id: int | None = None  # external events only; oVirt shows -1 for its own
    flood_rate: int = 30
    correlation_id: str | None = None


@dataclass(slots=True)
class ExternalEvent:
    """What a client sends to ``POST /events`` (oVirt's AddExternalEvent); ids only, as oVirt takes."""

    description: str
    severity: Severity
    origin: str
    custom_id: int
    flood_rate: int | None = None
    correlation_id: str | None = None
    objects: EventObjects = field(default_factory=EventObjects)
