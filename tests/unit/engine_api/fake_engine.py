"""A tiny in-memory Engine for the API's tests (tests only).

It follows the CONTRACT in ``storconn.engine.service`` closely enough to
drive every route: ids, NotFound, a duplicate check (409), the client-id
rule (400), merging PUTs, in-use removals (409) and roles. It knows none of
the real rules; ``tests/integration/engine/test_api_*.py`` run the real
Engine.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any

from storconn.engine.api.auth import TokenStore
from storconn.engine.errors import BadRequest, Conflict, NotFound, Unauthorized
from storconn.engine.model import (
    Cluster,
    ConnectionFields,
    DataCenter,
    DiskAttachment,
    DomainStatus,
    Host,
    HostStatus,
    LunDisk,
    LunFields,
    Role,
    StorageConnection,
    StorageDomain,
    StorageType,
    User,
    Vm,
    VmStatus,
)

ADD = "Cannot add Storage Connection."
EDIT = "Cannot edit Storage Connection."
REMOVE = "Cannot remove Storage Connection."


def _id() -> str:
    return str(uuid.uuid4())


def _connection_string(t: StorageType, f: ConnectionFields) -> str:
    if t == StorageType.ISCSI:
        return f.address or ""
    if t == StorageType.LOCALFS or not f.address:
        return f.path or ""
    return f"{f.address}:{f.path or ''}"


class FakeEngine:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, tuple[str, Role]] = {}
        self.sessions: TokenStore | None = None
        self.connections: dict[str, StorageConnection] = {}
        self.domains: dict[str, StorageDomain] = {}
        self.dcs: dict[str, DataCenter] = {}
        self.hosts: dict[str, Host] = {}
        self.disks: dict[str, LunDisk] = {}
        self.vms: dict[str, Vm] = {}
        self.calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []
        self.fail_hosts: list[str] = []

    def _log(self, name: str, *args: object, **kwargs: object) -> None:
        self.calls.append((name, args, kwargs))

    # users
    def add_user(self, username: str, password: str, role: Role) -> User:
        self.users[username] = (password, role)
        return User(username, role)

    def authenticate(self, username: str, password: str) -> User:
        known = self.users.get(username)
        if known is None or known[0] != password:
            raise Unauthorized("USER_FAILED_TO_AUTHENTICATE", "The username or password is incorrect.")
        return User(username, known[1])

    # SSO sessions: the API's in-memory store stands in for the engine's table
    def open_session(self, user: User, idle_timeout: float) -> str:
        with self.lock:
            if self.sessions is None:
                self.sessions = TokenStore(idle_timeout)
        return self.sessions.issue(user)

    def session_user(self, token: str) -> User | None:
        return self.sessions.user(token) if self.sessions is not None else None

    def close_session(self, token: str) -> None:
        if self.sessions is not None:
            self.sessions.revoke(token)

    # connections
    def list_connections(self, *, max: int | None = None) -> list[StorageConnection]:
        items = [dataclasses.replace(c) for c in self.connections.values()]
        return items if max is None else items[:max]

    def get_connection(self, connection_id: str) -> StorageConnection:
        if connection_id not in self.connections:
            raise NotFound("ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST", "Storage connection does not exist.")
        return dataclasses.replace(self.connections[connection_id])

    def add_connection(self, fields: ConnectionFields, *, host: str | None = None,
                       connection_id: str | None = None) -> StorageConnection:
        self._log("add_connection", fields, host=host, connection_id=connection_id)
        if connection_id:
            raise BadRequest("ACTION_TYPE_FAILED_STORAGE_CONNECTION_ID_NOT_EMPTY",
                             "Storage connection id is not empty.", action=ADD)
        if fields.type is None:
            raise BadRequest("VALIDATION_STORAGE_CONNECTION_EMPTY_TYPE", "Incomplete parameters: type.", action=ADD)
        if host is not None:
            self.get_host(host)
        with self.lock:
            text = _connection_string(fields.type, fields)
            if not text:
                raise BadRequest("VALIDATION_STORAGE_CONNECTION_EMPTY_CONNECTION",
                                 "Storage connection field is empty.", action=ADD)
            for other in self.connections.values():
                if other.type == fields.type and other.connection == text and other.iqn == fields.target:
                    raise Conflict("ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS",
                                   f"Storage connection already exists ({other.id}).", action=ADD)
            connection = StorageConnection(
                id=_id(), type=fields.type, connection=text,
                port=fields.port or (3260 if fields.type == StorageType.ISCSI else None),
                iqn=fields.target, portal=fields.portal or ("1" if fields.type == StorageType.ISCSI else None),
                username=fields.username, password=fields.password, vfs_type=fields.vfs_type,
                mount_options=fields.mount_options, nfs_version=fields.nfs_version, nfs_timeo=fields.nfs_timeo,
                nfs_retrans=fields.nfs_retrans, gluster_volume=fields.gluster_volume,
            )
            self.connections[connection.id] = connection
            return dataclasses.replace(connection)

    def update_connection(self, connection_id: str, fields: ConnectionFields, *, force: bool = False,
                          host: str | None = None) -> StorageConnection:
        self._log("update_connection", connection_id, fields, force=force, host=host)
        current = self.get_connection(connection_id)
        if fields.type is not None and fields.type != current.type:
            raise BadRequest("ACTION_TYPE_FAILED_UNSUPPORTED_CHANGE_STORAGE_TYPE",
                             "Cannot change the storage type.", action=EDIT)
        address = fields.address
        path = fields.path
        if current.type in (StorageType.NFS, StorageType.POSIXFS, StorageType.GLUSTERFS):
            old_address, _, old_path = current.connection.partition(":")
            text = f"{address or old_address}:{path or old_path}"
        elif current.type == StorageType.ISCSI:
            text = address or current.connection
        else:
            text = path or current.connection
        updated = dataclasses.replace(
            current, connection=text,
            **{k: v for k, v in {
                "port": fields.port, "iqn": fields.target, "portal": fields.portal, "username": fields.username,
                "password": fields.password, "vfs_type": fields.vfs_type, "mount_options": fields.mount_options,
                "nfs_version": fields.nfs_version, "nfs_timeo": fields.nfs_timeo, "nfs_retrans": fields.nfs_retrans,
            }.items() if v is not None},
            revision=current.revision + 1,
        )
        self.connections[connection_id] = updated
        return dataclasses.replace(updated)

    def remove_connection(self, connection_id: str, *, host: str | None = None) -> None:
        self._log("remove_connection", connection_id, host=host)
        self.get_connection(connection_id)
        if host is not None:
            self.get_host(host)
        if any(connection_id in d.connection_ids for d in self.domains.values()):
            raise Conflict("ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
                           "Storage connection belongs to storage domains.", action=REMOVE)
        del self.connections[connection_id]

    def test_connection(self, connection_id: str, *, host: str, timeout: float = 30.0) -> dict[str, Any]:
        """The fake has no agents: every test "connects" at once."""
        self._log("test_connection", connection_id, host=host)
        self.get_connection(connection_id)
        found = self.get_host(host)
        return {"connected": True, "lastError": [0, ""], "path": None,
                "host": {"id": found.id, "name": found.name}, "connection": connection_id}

    # domains
    def list_domains(self, *, max: int | None = None) -> list[StorageDomain]:
        items = [dataclasses.replace(d, connection_ids=list(d.connection_ids)) for d in self.domains.values()]
        return items if max is None else items[:max]

    def get_domain(self, domain_id: str) -> StorageDomain:
        if domain_id not in self.domains:
            raise NotFound("ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_EXIST", "Storage domain does not exist.")
        d = self.domains[domain_id]
        return dataclasses.replace(d, connection_ids=list(d.connection_ids))

    def add_domain(self, name: str, *, storage_type: StorageType, domain_type: str = "data",
                   description: str | None = None, connection_id: str | None = None,
                   connection: ConnectionFields | None = None, host: str | None = None,
                   luns: list[LunFields] | None = None) -> StorageDomain:
        if connection is None and luns and luns[0].connection is not None:
            connection = luns[0].connection  # the fake keeps one connection per domain
        self._log("add_domain", name, storage_type=storage_type, domain_type=domain_type, description=description,
                  connection_id=connection_id, connection=connection, host=host)
        if connection_id is None:
            assert connection is not None
            connection.type = storage_type
            connection_id = self.add_connection(connection).id
        else:
            self.get_connection(connection_id)
        domain = StorageDomain(id=_id(), name=name, storage_type=storage_type, domain_type=domain_type,
                               description=description, connection_ids=[connection_id])
        self.domains[domain.id] = domain
        return self.get_domain(domain.id)

    def update_domain(self, domain_id: str, *, name: str | None = None,
                      description: str | None = None, luns: list[LunFields] | None = None) -> StorageDomain:
        domain = self.domains[self.get_domain(domain_id).id]
        if name is not None:
            domain.name = name
        if description is not None:
            domain.description = description
        return self.get_domain(domain_id)

    def remove_domain(self, domain_id: str) -> None:
        self.get_domain(domain_id)
        del self.domains[domain_id]

    def domain_connections(self, domain_id: str) -> list[StorageConnection]:
        return [self.get_connection(c) for c in self.get_domain(domain_id).connection_ids]

    def attach_connection(self, domain_id: str, connection_id: str) -> None:
        domain = self.domains[self.get_domain(domain_id).id]
        self.get_connection(connection_id)
        if connection_id in domain.connection_ids:
            raise Conflict("ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_ALREADY_EXISTS",
                           "The connection is already attached to the domain.")
        domain.connection_ids.append(connection_id)

    def detach_connection(self, domain_id: str, connection_id: str) -> None:
        domain = self.domains[self.get_domain(domain_id).id]
        if connection_id not in domain.connection_ids:
            raise BadRequest("ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_NOT_EXIST",
                             "The connection is not attached to the domain.")
        domain.connection_ids.remove(connection_id)

    # data centers
    def list_data_centers(self) -> list[DataCenter]:
        return [dataclasses.replace(d) for d in self.dcs.values()]

    def get_data_center(self, dc_id: str) -> DataCenter:
        if dc_id not in self.dcs:
            raise NotFound("ACTION_TYPE_FAILED_STORAGE_POOL_NOT_EXIST", "Data center does not exist.")
        return dataclasses.replace(self.dcs[dc_id])

    def add_data_center(self, name: str, *, description: str | None = None, local: bool = False,
                        comment: str | None = None, version: tuple[int, int] | None = None) -> DataCenter:
        dc = DataCenter(_id(), name, description, local, comment)
        self.dcs[dc.id] = dc
        return dataclasses.replace(dc)

    def data_center_domains(self, dc_id: str) -> list[StorageDomain]:
        self.get_data_center(dc_id)
        return [d for d in self.list_domains() if d.data_center_id == dc_id]

    def _attached(self, dc_id: str, domain_id: str) -> StorageDomain:
        self.get_data_center(dc_id)
        domain = self.domains[self.get_domain(domain_id).id]
        if domain.data_center_id != dc_id:
            raise NotFound("ACTION_TYPE_FAILED_STORAGE_DOMAIN_NOT_IN_STORAGE_POOL", "Not attached.")
        return domain

    def attach_domain(self, dc_id: str, domain_id: str) -> StorageDomain:
        self.get_data_center(dc_id)
        domain = self.domains[self.get_domain(domain_id).id]
        if domain.data_center_id is not None:
            raise Conflict("ACTION_TYPE_FAILED_STORAGE_DOMAIN_ALREADY_ATTACHED", "Already attached.")
        domain.data_center_id = dc_id
        domain.status = DomainStatus.MAINTENANCE
        return self.get_domain(domain_id)

    def activate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        self._attached(dc_id, domain_id).status = DomainStatus.ACTIVE
        return list(self.fail_hosts)

    def deactivate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        self._attached(dc_id, domain_id).status = DomainStatus.MAINTENANCE
        return []

    def detach_domain(self, dc_id: str, domain_id: str) -> None:
        domain = self._attached(dc_id, domain_id)
        domain.data_center_id = None
        domain.status = DomainStatus.UNATTACHED

    # hosts
    def list_hosts(self) -> list[Host]:
        return [dataclasses.replace(h) for h in self.hosts.values()]

    def get_host(self, id_or_name: str) -> Host:
        for h in self.hosts.values():
            if id_or_name in (h.id, h.name):
                return dataclasses.replace(h)
        raise NotFound("ACTION_TYPE_FAILED_HOST_NOT_EXIST", f"Host {id_or_name} does not exist.")

    def add_host(self, name: str, *, address: str, port: int, token: str | None,
                 data_center_id: str | None = None, cluster_id: str | None = None) -> Host:
        self._log("add_host", name, address=address, port=port, token=token, data_center_id=data_center_id,
                  **({"cluster_id": cluster_id} if cluster_id else {}))
        h = Host(_id(), name, address, port, token, data_center_id, HostStatus.UP, cluster_id)
        self.hosts[h.id] = h
        return dataclasses.replace(h)

    def list_clusters(self, *, data_center_id: str | None = None) -> list[Cluster]:
        return []  # the codec's tests name data centers, not clusters

    def remove_host(self, host_id: str) -> None:
        del self.hosts[self.get_host(host_id).id]

    # disks and VMs
    def list_disks(self) -> list[LunDisk]:
        return [dataclasses.replace(d, connection_ids=list(d.connection_ids)) for d in self.disks.values()]

    def get_disk(self, disk_id: str) -> LunDisk:
        if disk_id not in self.disks:
            raise NotFound("ACTION_TYPE_FAILED_DISK_NOT_EXIST", "Disk does not exist.")
        d = self.disks[disk_id]
        return dataclasses.replace(d, connection_ids=list(d.connection_ids))

    def add_lun_disk(self, name: str, *, lun_id: str, connections: list[ConnectionFields]) -> LunDisk:
        ids = []
        for fields in connections:
            text = fields.address or ""
            found = [c.id for c in self.connections.values()
                     if c.type == StorageType.ISCSI and c.connection == text and c.iqn == fields.target]
            ids.append(found[0] if found else self.add_connection(fields).id)
        disk = LunDisk(_id(), name, lun_id, ids)
        self.disks[disk.id] = disk
        return self.get_disk(disk.id)

    def remove_disk(self, disk_id: str) -> None:
        self.get_disk(disk_id)
        del self.disks[disk_id]

    def list_vms(self) -> list[Vm]:
        return [self.get_vm(v) for v in self.vms]

    def get_vm(self, vm_id: str) -> Vm:
        if vm_id not in self.vms:
            raise NotFound("ACTION_TYPE_FAILED_VM_NOT_EXIST", "VM does not exist.")
        v = self.vms[vm_id]
        return dataclasses.replace(v, disk_attachments=[dataclasses.replace(a) for a in v.disk_attachments])

    def add_vm(self, name: str, *, status: VmStatus = VmStatus.DOWN) -> Vm:
        v = Vm(_id(), name, status)
        self.vms[v.id] = v
        return self.get_vm(v.id)

    def disk_connections(self, disk_id: str) -> list[StorageConnection]:
        return [self.get_connection(c) for c in self.get_disk(disk_id).connection_ids]

    def set_vm_status(self, vm_id: str, status: VmStatus, *, host: str | None = None) -> Vm:
        self.get_vm(vm_id)
        self.vms[vm_id].status = status
        return self.get_vm(vm_id)

    def attach_disk(self, vm_id: str, disk_id: str, *, plugged: bool = True) -> Vm:
        self.get_vm(vm_id)
        self.get_disk(disk_id)
        self.vms[vm_id].disk_attachments.append(DiskAttachment(disk_id, plugged))
        return self.get_vm(vm_id)
