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
                connection: ConnectionFields | None = None, host: str | None = None) -> StorageDomain
    .update_domain(domain_id: str, *, name: str | None = None, description: str | None = None) -> StorageDomain
    .remove_domain(domain_id: str) -> None
    .domain_connections(domain_id: str) -> list[StorageConnection]
    .attach_connection(domain_id: str, connection_id: str) -> None
    .detach_connection(domain_id: str, connection_id: str) -> None

    # data centers and their domains
    .list_data_centers() -> list[DataCenter]
    .get_data_center(dc_id: str) -> DataCenter
    .add_data_center(name: str, *, description: str | None = None, local: bool = False) -> DataCenter
    .data_center_domains(dc_id: str) -> list[StorageDomain]
    .attach_domain(dc_id: str, domain_id: str) -> StorageDomain        # → maintenance
    .activate_domain(dc_id: str, domain_id: str) -> list[str]          # → active; returns failed host names
    .deactivate_domain(dc_id: str, domain_id: str) -> list[str]        # → maintenance
    .detach_domain(dc_id: str, domain_id: str) -> None                 # → unattached

    # hosts
    .list_hosts() -> list[Host]
    .get_host(id_or_name: str) -> Host
    .add_host(name: str, *, address: str, port: int, token: str | None,
              data_center_id: str | None = None) -> Host
    .remove_host(host_id: str) -> None

    # LUN disks and VMs
    .list_disks() -> list[LunDisk]
    .get_disk(disk_id: str) -> LunDisk
    .add_lun_disk(name: str, *, lun_id: str, connections: list[ConnectionFields]) -> LunDisk
    .remove_disk(disk_id: str) -> None
    .list_vms() -> list[Vm]
    .get_vm(vm_id: str) -> Vm
    .add_vm(name: str, *, status: VmStatus = VmStatus.DOWN) -> Vm
    .set_vm_status(vm_id: str, status: VmStatus) -> Vm
    .attach_disk(vm_id: str, disk_id: str, *, plugged: bool = True) -> Vm

    # the connectivity test (seed 001): acquire a flow reference on the host,
    # wait for it, release it, answer what the agent saw
    .test_connection(connection_id: str, *, host: str, timeout: float = 30.0) -> dict[str, Any]
"""

from __future__ import annotations
