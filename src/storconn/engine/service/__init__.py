"""The engine's commands and queries: the one door the REST API, the web pages and the CLI use.

Each command takes its locks, runs the rules (``storconn.engine.rules``, pure),
changes the database (``storconn.engine.db``) in one transaction and tells the
hosts (``storconn.engine.hosts``) what to connect. Errors are
``storconn.engine.errors`` subclasses carrying oVirt's message key and the
HTTP status; ``action`` is set to oVirt's "Cannot add Storage Connection."
style prefix.

CONTRACT (the API layer codes against exactly these signatures):

    Engine(database_url: str, *, key_file: Path, hosts: HostDispatcher | None = None)
    .close()

    # users (SSO)
    .authenticate(username: str, password: str) -> User          # Unauthorized
    .add_user(username: str, password: str, role: Role) -> User
    .open_session(user: User, idle_timeout: float) -> str        # a bearer token, stored hashed
    .session_user(token: str) -> User | None                     # None: unknown, expired, revoked
    .close_session(token: str) -> None

    # storage connections
    .list_connections(*, max: int | None = None) -> list[StorageConnection]
    .get_connection(connection_id: str) -> StorageConnection     # NotFound
    .add_connection(fields: ConnectionFields, *, host: str | None = None,
                    connection_id: str | None = None) -> StorageConnection
        # connection_id given by the client → BadRequest ..._ID_NOT_EMPTY
    .update_connection(connection_id: str, fields: ConnectionFields, *, force: bool = False,
                       host: str | None = None) -> StorageConnection
    .remove_connection(connection_id: str, *, host: str | None = None) -> None

    # storage domains
    .list_domains(*, max: int | None = None) -> list[StorageDomain]
    .get_domain(domain_id: str) -> StorageDomain
    .add_domain(name: str, *, storage_type: StorageType, domain_type: str = "data",
                description: str | None = None, connection_id: str | None = None,
                connection: ConnectionFields | None = None, host: str | None = None,
                luns: list[LunFields] | None = None) -> StorageDomain
        # luns: iSCSI LUNs on any number of targets (one connection per target), or FCP LUN ids
    .update_domain(domain_id: str, *, name: str | None = None, description: str | None = None,
                   luns: list[LunFields] | None = None) -> StorageDomain   # new LUNs extend a block domain
    .remove_domain(domain_id: str) -> None
    .domain_connections(domain_id: str) -> list[StorageConnection]
    .attach_connection(domain_id: str, connection_id: str) -> None
    .detach_connection(domain_id: str, connection_id: str) -> None

    # data centers and their domains
    .list_data_centers() -> list[DataCenter]
    .get_data_center(dc_id: str) -> DataCenter
    .add_data_center(name: str, *, description: str | None = None, local: bool = False,
                     comment: str | None = None, version: tuple[int, int] | None = None) -> DataCenter
    .update_data_center(dc_id: str, *, name=None, description=None, comment=None, local=None,
                        version=None) -> DataCenter
    .remove_data_center(dc_id: str, *, force: bool = False) -> None
    .data_center_domains(dc_id: str) -> list[StorageDomain]
    .attach_domain(dc_id: str, domain_id: str) -> StorageDomain        # → active (oVirt's attach activates)
    .activate_domain(dc_id: str, domain_id: str) -> list[str]          # → active; returns failed host names
    .deactivate_domain(dc_id: str, domain_id: str) -> list[str]        # → maintenance
    .detach_domain(dc_id: str, domain_id: str) -> None                 # → unattached

    # clusters
    .list_clusters(*, data_center_id: str | None = None) -> list[Cluster]
    .get_cluster(cluster_id: str) -> Cluster
    .add_cluster(name: str, *, data_center_id: str, description=None, comment=None, version=None,
                 cpu_type=None, cpu_architecture=None) -> Cluster
    .update_cluster(cluster_id: str, *, name=None, description=None, comment=None, data_center_id=None,
                    version=None, cpu_type=None, cpu_architecture=None) -> Cluster
    .remove_cluster(cluster_id: str) -> None

    # hosts
    .list_hosts() -> list[Host]
    .get_host(id_or_name: str) -> Host
    .add_host(name: str, *, address: str, port: int, token: str | None,
              data_center_id: str | None = None, cluster_id: str | None = None) -> Host
    .update_host(host_id: str, *, name: str | None = None, cluster_id: str | None = None) -> Host
    .remove_host(host_id: str) -> None
    .deactivate_host(host_id: str) -> list[str]     # → maintenance; names hosts not released now
    .activate_host(host_id: str) -> list[str]       # → Up (synced); what failed
    .iscsi_discover(host_id: str, iscsi: IscsiDetails) -> list[DiscoveredTarget]
    .iscsi_login(host_id: str, iscsi: IscsiDetails, *, timeout: float = 30.0) -> None
    .host_storage(host_id: str) -> list[HostLun]    # the LUNs of the host's iSCSI sessions

    # LUN disks and VMs
    .list_disks() -> list[LunDisk]
    .get_disk(disk_id: str) -> LunDisk
    .add_lun_disk(name: str, *, lun_id: str, connections: list[ConnectionFields]) -> LunDisk
    .remove_disk(disk_id: str) -> None
    .disk_connections(disk_id: str) -> list[StorageConnection]
    .list_vms() -> list[Vm]
    .get_vm(vm_id: str) -> Vm
    .add_vm(name: str, *, status: VmStatus = VmStatus.DOWN) -> Vm
    .set_vm_status(vm_id: str, status: VmStatus, *, host: str | None = None) -> Vm
        # Up on ``host`` (or where it is, or the first Up host): the host holds its LUN disks' connections
    .attach_disk(vm_id: str, disk_id: str, *, plugged: bool = True) -> Vm

    # the connectivity test (seed 001): acquire a flow reference on the host,
    # wait for it, release it, answer what the agent saw
    .test_connection(connection_id: str, *, host: str, timeout: float = 30.0) -> dict[str, Any]

    # events (the audit log, newest first); every command above records its own
    .list_events(*, max: int | None = None, from_id: int | None = None, search: str | None = None,
                 case_sensitive: bool = True) -> list[Event]      # search: BadRequest UNSUPPORTED_SEARCH
    .get_event(event_id: str) -> Event                             # NotFound
    .add_event(event: ExternalEvent) -> Event                      # oVirt's AddExternalEvent
    .remove_event(event_id: str) -> None                           # NotFound
"""

from __future__ import annotations

from pathlib import Path

from storconn.engine.hosts import HostDispatcher
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.service.base import FLOW_MAX_AGE, EngineBase
from storconn.engine.service.clusters import ClusterCommands
from storconn.engine.service.connections import ConnectionCommands
from storconn.engine.service.datacenters import DataCenterCommands
from storconn.engine.service.disks import DiskCommands
from storconn.engine.service.domains import DomainCommands
from storconn.engine.service.host_maintenance import HostMaintenanceCommands
from storconn.engine.service.host_state import HostStateQueries
from storconn.engine.service.host_storage import HostStorageCommands
from storconn.engine.service.events import EventCommands
from storconn.engine.service.hosts import HostCommands
from storconn.engine.service.probes import ProbeCommands
from storconn.engine.service.sessions import SessionCommands
from storconn.engine.service.users import ADMIN_USER, UserCommands

__all__ = ["ADMIN_USER", "Engine", "EngineBase"]


class Engine(
    UserCommands,
    ConnectionCommands,
    DomainCommands,
    DataCenterCommands,
    ClusterCommands,
    HostCommands,
    HostMaintenanceCommands,
    HostStorageCommands,
    HostStateQueries,
    ProbeCommands,
    DiskCommands,
    EventCommands,
    SessionCommands,
):
    """The engine's commands and queries; see CONTRACT above.

    Thread-safety: one Engine serves every thread of the process. Each
    command runs in its own transaction(s); conflicting commands exclude each
    other through ``locks`` (across processes too on PostgreSQL) and fail at
    once with ObjectLocked rather than wait. Talking to hosts happens after
    the command's transaction committed, never inside it, so a slow host
    never holds the database.
    """

    def __init__(
        self,
        database_url: str,
        *,
        key_file: Path,
        hosts: HostDispatcher | None = None,
        admin_password: str | None = None,
        sync_on_start: bool = True,
    ) -> None:
        super().__init__(database_url, key_file=key_file, hosts=hosts)
        self._ensure_admin(admin_password)
        with self._tx() as repo:
            repo.forget_flows_before(FLOW_MAX_AGE)
            repo.prune_events(self.events_kept)
            # oVirt's VDC_START: also what makes ``GET /events?max=1`` (ovirt_host's first
            # call, which indexes [0]) find an event on a new engine.
            self._record(event_rules.build(EventKind.ENGINE_START), repo)
        if sync_on_start:
            self.sync_hosts()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
