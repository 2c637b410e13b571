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

import functools
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from storconn.agent.client import AgentUnavailable
from storconn.connection import ConnectionInfo, StorconnError
from storconn.engine import rules
from storconn.engine.db import Database, Locks, Repository, UnitOfWork, upgrade_engine
from storconn.engine.errors import BadRequest, Conflict, EngineError, NotFound, Unauthorized
from storconn.engine.hosts import DispatchResult, HostDispatcher, SyncResult
from storconn.engine.model import (
    ConnectionFields,
    DataCenter,
    DomainStatus,
    Host,
    HostStatus,
    LunDisk,
    Role,
    StorageConnection,
    StorageDomain,
    StorageType,
    User,
    Vm,
    VmStatus,
)
from storconn.engine.rules import Action
from storconn.engine.rules import domains as domain_rules
from storconn.engine.rules import locks as keys
from storconn.engine.secrets import SecretBox, hash_password, verify_password

__all__ = ["ADMIN_USER", "Engine"]

log = logging.getLogger(__name__)

ADMIN_USER = "admin@internal"
ADMIN_PASSWORD_ENV = "STORCONN_ADMIN_PASSWORD"
# A flow row older than this belongs to an engine that died mid-flow: its
# references on the agents are leftovers. Longer than any flow can last
# (the agent's wait is capped at 300 s).
FLOW_MAX_AGE = timedelta(minutes=10)
# How long add/edit with a host wait for the host to connect.
CONNECT_TIMEOUT = 30.0

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _found(value: T | None, what: str, ident: str) -> T:
    """``value``, or oVirt's 404 for the ``what`` the client named."""
    if value is None:
        raise rules.not_found(what, ident)
    return value


def _command(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Give every EngineError the command raises oVirt's action prefix ("Cannot add Storage Connection.")."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except EngineError as exc:
                if exc.action is None:
                    exc.action = action
                raise

        return run

    return decorate


class Engine:
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
        self._box = SecretBox(key_file)
        self._db = Database(database_url)
        upgrade_engine(self._db.engine)
        self._tx = UnitOfWork(self._db, self._box)
        self.locks = Locks(self._db.engine)
        self._hosts = hosts if hosts is not None else HostDispatcher()
        self._own_hosts = hosts is None
        self._ensure_admin(admin_password)
        with self._tx() as repo:
            repo.forget_flows_before(FLOW_MAX_AGE)
        if sync_on_start:
            self.sync_hosts()

    def close(self) -> None:
        if self._own_hosts:
            self._hosts.close()
        self._db.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- users (SSO) --------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        name = rules.user_name(username)
        found = None
        # A name no user can have (PostgreSQL refuses a NUL in any text) is a
        # wrong login, never a database error; it is still hashed below.
        if len(name) <= 255 and not any(ord(char) < 0x20 or char == "\x7f" for char in name):
            with self._tx(write=False) as repo:
                found = repo.user(name)
        # verify_password hashes even for an unknown user: both answers take as long.
        if not verify_password(password, found[1] if found else None) or found is None:
            raise Unauthorized(
                "USER_FAILED_TO_AUTHENTICATE",
                "Cannot authenticate user: wrong user name or password.",
            )
        return found[0]

    @_command(Action.ADD_USER)
    def add_user(self, username: str, password: str, role: Role) -> User:
        name = rules.check_name(rules.user_name(username), entity="User")
        digest = hash_password(rules.check_password(password))  # slow: outside the transaction
        user = User(name=name, role=Role(role))
        with self._tx() as repo:
            rules.check_name_free(name, repo.user(name) is not None, entity="user")
            repo.add_user(str(uuid.uuid4()), user, digest)
        return user

    def _ensure_admin(self, password: str | None) -> None:
        """With no users yet, create ``admin@internal`` with the given (or environment's) password."""
        password = password or os.environ.get(ADMIN_PASSWORD_ENV)
        with self._tx(write=False) as repo:
            if repo.count_users():
                return
        if not password:
            log.warning(
                "the engine has no users: start it with an admin password (%s)", ADMIN_PASSWORD_ENV
            )
            return
        try:
            self.add_user(ADMIN_USER, password, Role.ADMIN)
        except Conflict:
            pass  # another engine process created it first

    # -- storage connections ----------------------------------------------------------

    def list_connections(self, *, max: int | None = None) -> list[StorageConnection]:
        with self._tx(write=False) as repo:
            return repo.connections(max=max)

    def get_connection(self, connection_id: str) -> StorageConnection:
        with self._tx(write=False) as repo:
            return _found(repo.connection(connection_id), "storage connection", connection_id)

    @_command(Action.ADD_CONNECTION)
    def add_connection(
        self, fields: ConnectionFields, *, host: str | None = None, connection_id: str | None = None
    ) -> StorageConnection:
        if connection_id:
            raise BadRequest(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ID_NOT_EMPTY",
                "A new storage connection gets its id from the engine; do not send one.",
            )
        conn = self._checked(fields)
        target = self._host(host) if host is not None else None
        dc_id = (
            target.data_center_id
            if target is not None and conn.type is StorageType.LOCALFS
            else None
        )
        with self.locks.hold(keys.add_connection_keys(conn), action=Action.ADD_CONNECTION):
            with self._tx(write=False) as repo:
                rules.check_duplicates(conn, repo.candidates(conn), data_center_id=dc_id)
            if target is not None:
                self._connect_or_raise(target, conn)
            with self._tx() as repo:
                repo.save_connection(conn, data_center_id=dc_id)
        return rules.without_password(conn)

    @_command(Action.EDIT_CONNECTION)
    def update_connection(
        self,
        connection_id: str,
        fields: ConnectionFields,
        *,
        force: bool = False,
        host: str | None = None,
    ) -> StorageConnection:
        # Not cleaned here: an empty string clears a field, and merge_fields
        # must see it as given ("" → null), not as absent (None → keep).
        given = fields if fields.type is None else replace(fields, type=rules.storage_type(fields.type))
        target = self._host(host) if host is not None else None
        new, domains, disk_ids = self._plan_edit(connection_id, given, force)
        lock_keys = keys.edit_connection_keys(
            new, domain_ids=[d.id for d in domains], disk_ids=disk_ids
        )
        with self.locks.hold(lock_keys, action=Action.EDIT_CONNECTION):
            # Planned again under the locks: what was read before them may have moved.
            new, domains, _ = self._plan_edit(connection_id, given, force)
            if target is not None:
                self._connect_or_raise(target, new)
            with self._tx() as repo:
                repo.save_connection(new, data_center_id=repo.connection_data_center(connection_id))
                dc_ids = {d.data_center_id for d in domains if d.data_center_id}
                for dc_id in dc_ids:
                    repo.refresh_references(dc_id)
                hosts = [h for dc_id in dc_ids for h in self._up_hosts(repo, dc_id)]
            # A forced edit of a connection in use: new revision first, then the old one goes.
            self._sync(hosts)
        return rules.without_password(new)

    def _plan_edit(
        self, connection_id: str, given: ConnectionFields, force: bool
    ) -> tuple[StorageConnection, list[StorageDomain], list[str]]:
        with self._tx(write=False) as repo:
            stored = repo.connection(connection_id, secrets=True)
            if stored is None:
                raise BadRequest(
                    "ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
                    f"Storage connection {connection_id} does not exist.",
                )
            domains = repo.domains_using(connection_id)
            disks = repo.disks_using(connection_id)
            vms = repo.vms(disk_ids=[disk.id for disk in disks])
            rules.check_edit(stored, given, domains=domains, disks=disks, vms=vms, force=force)
            merged = rules.merge_fields(rules.stored_fields(stored), given)
            rules.validate_fields(merged)
            new = rules.build_connection(merged, connection_id=stored.id, revision=stored.revision)
            if rules.details_changed(stored, new):
                new.revision += 1
            rules.check_duplicates(
                new, repo.candidates(new), data_center_id=repo.connection_data_center(connection_id)
            )
        return new, domains, [disk.id for disk in disks]

    @_command(Action.REMOVE_CONNECTION)
    def remove_connection(self, connection_id: str, *, host: str | None = None) -> None:
        conn = self.get_connection(connection_id)
        target = self._host(host) if host is not None else None  # unknown host: 404, unlike oVirt
        with self.locks.hold(keys.remove_connection_keys(conn), action=Action.REMOVE_CONNECTION):
            with self._tx() as repo:
                rules.check_remove(
                    conn, domains=repo.domains_using(conn.id), disks=repo.disks_using(conn.id)
                )
                repo.delete_connection(conn.id)
        if target is not None:
            # Disconnecting is making the host hold only what it should: nothing of this connection.
            # A failure is logged and does not undo the removal.
            self._sync([target])

    # -- storage domains ---------------------------------------------------------------

    def list_domains(self, *, max: int | None = None) -> list[StorageDomain]:
        with self._tx(write=False) as repo:
            return repo.domains(max=max)

    def get_domain(self, domain_id: str) -> StorageDomain:
        with self._tx(write=False) as repo:
            return _found(repo.domain(domain_id), "storage domain", domain_id)

    @_command(Action.ADD_DOMAIN)
    def add_domain(
        self,
        name: str,
        *,
        storage_type: StorageType,
        domain_type: str = "data",
        description: str | None = None,
        connection_id: str | None = None,
        connection: ConnectionFields | None = None,
        host: str | None = None,
    ) -> StorageDomain:
        rules.check_name(name, entity="StorageDomain")
        storage_type = rules.storage_type(storage_type)
        domain = StorageDomain(
            id=str(uuid.uuid4()),
            name=name,
            storage_type=storage_type,
            domain_type=domain_type,
            description=description,
        )
        target = self._host(host) if host is not None else None
        if connection_id is not None:
            conn = self._existing_connection(connection_id, secrets=True)
            lock_keys = [keys.connection_key(conn.id)]
        elif connection is not None:
            fields = rules.clean_fields(connection)
            fields.type = fields.type or storage_type
            conn = self._checked(fields, entity="StorageDomain")
            lock_keys = keys.add_connection_keys(conn)
        elif storage_type is StorageType.FCP:
            conn, lock_keys = None, []
        else:
            raise rules.IncompleteParameters("StorageDomain", ["storage"], "add")
        with self.locks.hold(lock_keys, action=Action.ADD_DOMAIN):
            conn, is_new = self._domain_connection(domain, conn, connection_id)
            if conn is not None and target is not None:
                self._connect_or_raise(target, conn)
            # One transaction: a connection created with the domain goes away if the domain fails.
            with self._tx() as repo:
                rules.check_name_free(
                    name, repo.domain_by_name(name) is not None, entity="storage domain"
                )
                if conn is not None and is_new:
                    repo.save_connection(conn)
                repo.save_domain(domain)
                if conn is not None:
                    repo.attach(domain.id, conn.id)
                    domain.connection_ids = [conn.id]
        return domain

    def _domain_connection(
        self, domain: StorageDomain, conn: StorageConnection | None, connection_id: str | None
    ) -> tuple[StorageConnection | None, bool]:
        """The connection a new domain uses, and whether it must be created with it."""
        if conn is None:
            return None, False
        with self._tx(write=False) as repo:
            if connection_id is not None:
                domain_rules.check_domain_connection(
                    domain.storage_type, conn, used_by=repo.domains_using(conn.id)
                )
                return conn, False
            if conn.type is not domain.storage_type:
                domain_rules.check_domain_connection(domain.storage_type, conn, used_by=[])
            found = rules.find_duplicate(conn, repo.candidates(conn))
            if found is not None and conn.type is StorageType.ISCSI:
                # iSCSI targets are shared between domains. Candidates are read
                # without secrets; the host connects with the stored CHAP password.
                shared = repo.connection(found.connection.id, secrets=True)
                return shared or found.connection, False
            rules.check_duplicates(conn, repo.candidates(conn))
        return conn, True

    @_command(Action.EDIT_DOMAIN)
    def update_domain(
        self, domain_id: str, *, name: str | None = None, description: str | None = None
    ) -> StorageDomain:
        with (
            self.locks.hold([keys.domain_key(domain_id)], action=Action.EDIT_DOMAIN),
            self._tx() as repo,
        ):
            domain = _found(repo.domain(domain_id), "storage domain", domain_id)
            if name is not None and name != domain.name:
                rules.check_name(name, entity="StorageDomain", verb="update")
                rules.check_name_free(
                    name, repo.domain_by_name(name) is not None, entity="storage domain"
                )
                domain.name = name
            if description is not None:
                domain.description = description or None
            repo.save_domain(domain)
            return domain

    @_command(Action.REMOVE_DOMAIN)
    def remove_domain(self, domain_id: str) -> None:
        with (
            self.locks.hold([keys.domain_key(domain_id)], action=Action.REMOVE_DOMAIN),
            self._tx() as repo,
        ):
            domain_rules.check_remove_domain(
                _found(repo.domain(domain_id), "storage domain", domain_id)
            )
            # The connections stay: they are entities of their own (seed 001).
            repo.delete_domain(domain_id)

    def domain_connections(self, domain_id: str) -> list[StorageConnection]:
        with self._tx(write=False) as repo:
            domain = _found(repo.domain(domain_id), "storage domain", domain_id)
            found = repo.connections_by_id(domain.connection_ids)
            return [found[cid] for cid in domain.connection_ids if cid in found]

    @_command(Action.ATTACH_CONNECTION)
    def attach_connection(self, domain_id: str, connection_id: str) -> None:
        lock_keys = keys.attach_connection_keys(domain_id, connection_id)
        with self.locks.hold(lock_keys, action=Action.ATTACH_CONNECTION), self._tx() as repo:
            domain = _found(repo.domain(domain_id), "storage domain", domain_id)
            domain_rules.check_attach_connection(domain, self._existing(repo, connection_id))
            repo.attach(domain_id, connection_id)

    @_command(Action.DETACH_CONNECTION)
    def detach_connection(self, domain_id: str, connection_id: str) -> None:
        lock_keys = keys.attach_connection_keys(domain_id, connection_id)
        with self.locks.hold(lock_keys, action=Action.DETACH_CONNECTION), self._tx() as repo:
            domain = _found(repo.domain(domain_id), "storage domain", domain_id)
            existing = self._existing(repo, connection_id, missing=NotFound)
            domain_rules.check_detach_connection(domain, existing)
            # That mapping only: the LUNs and the domain's other paths stay.
            repo.detach(domain_id, connection_id)

    # -- data centers and their domains ------------------------------------------------

    def list_data_centers(self) -> list[DataCenter]:
        with self._tx(write=False) as repo:
            return repo.data_centers()

    def get_data_center(self, dc_id: str) -> DataCenter:
        with self._tx(write=False) as repo:
            return _found(repo.data_center(dc_id), "data center", dc_id)

    @_command(Action.ADD_DATA_CENTER)
    def add_data_center(
        self, name: str, *, description: str | None = None, local: bool = False
    ) -> DataCenter:
        rules.check_name(name, entity="DataCenter")
        dc = DataCenter(
            id=str(uuid.uuid4()), name=name, description=description or None, local=local
        )
        with self._tx() as repo:
            taken = any(other.name == name for other in repo.data_centers())
            rules.check_name_free(name, taken, entity="data center")
            repo.add_data_center(dc)
        return dc

    def data_center_domains(self, dc_id: str) -> list[StorageDomain]:
        with self._tx(write=False) as repo:
            _found(repo.data_center(dc_id), "data center", dc_id)
            return repo.domains(data_center_id=dc_id)

    @_command(Action.ATTACH_DOMAIN)
    def attach_domain(self, dc_id: str, domain_id: str) -> StorageDomain:
        with (
            self.locks.hold([keys.domain_key(domain_id)], action=Action.ATTACH_DOMAIN),
            self._tx() as repo,
        ):
            dc = _found(repo.data_center(dc_id), "data center", dc_id)
            domain = _found(repo.domain(domain_id), "storage domain", domain_id)
            domain.status = domain_rules.attach_to_data_center(domain, dc)
            domain.data_center_id = dc.id
            if domain.storage_type is StorageType.LOCALFS:
                # Local storage is unique per data center: its duplicates are looked for there now.
                for conn in repo.connections_by_id(domain.connection_ids).values():
                    rules.check_duplicates(conn, repo.candidates(conn), data_center_id=dc.id)
                    repo.set_connection_data_center(conn, dc.id)
            repo.save_domain(domain)
            return domain

    @_command(Action.ACTIVATE_DOMAIN)
    def activate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        return self._move_domain(dc_id, domain_id, domain_rules.activate, Action.ACTIVATE_DOMAIN)

    @_command(Action.DEACTIVATE_DOMAIN)
    def deactivate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        return self._move_domain(
            dc_id, domain_id, domain_rules.deactivate, Action.DEACTIVATE_DOMAIN
        )

    @_command(Action.DETACH_DOMAIN)
    def detach_domain(self, dc_id: str, domain_id: str) -> None:
        self._move_domain(
            dc_id, domain_id, domain_rules.detach_from_data_center, Action.DETACH_DOMAIN
        )

    def _move_domain(
        self, dc_id: str, domain_id: str, move: Callable[[StorageDomain, str], Any], action: str
    ) -> list[str]:
        """Change a domain's status, then make the data center's Up hosts hold what they should.

        Returns the names of the hosts that did not answer or refused a reference.
        """
        with self.locks.hold([keys.domain_key(domain_id)], action=action):
            with self._tx() as repo:
                _found(repo.data_center(dc_id), "data center", dc_id)
                domain = _found(repo.domain(domain_id), "storage domain", domain_id)
                domain.status = move(domain, dc_id)
                if domain.status is DomainStatus.UNATTACHED:
                    domain.data_center_id = None
                repo.save_domain(domain)
                repo.refresh_references(dc_id)
                hosts = self._up_hosts(repo, dc_id)
            result = self._sync(hosts)
        names = {host.id: host.name for host in hosts}
        return sorted(names[host_id] for host_id in result.failed)

    # -- hosts ---------------------------------------------------------------------------

    def list_hosts(self) -> list[Host]:
        with self._tx(write=False) as repo:
            return repo.hosts()

    def get_host(self, id_or_name: str) -> Host:
        host = self._host(id_or_name)
        host.token = None
        return host

    @_command(Action.ADD_HOST)
    def add_host(
        self,
        name: str,
        *,
        address: str,
        port: int,
        token: str | None,
        data_center_id: str | None = None,
    ) -> Host:
        rules.check_name(name, entity="Host")
        rules.check_host_address(address, port)
        host = Host(
            id=str(uuid.uuid4()),
            name=name,
            address=address,
            port=port,
            token=token or None,
            data_center_id=data_center_id,
            status=HostStatus.NON_RESPONSIVE,
        )
        with self._tx() as repo:
            if data_center_id is not None:
                _found(repo.data_center(data_center_id), "data center", data_center_id)
            rules.check_name_free(name, repo.host(name) is not None, entity="host")
            repo.add_host(host)
            if data_center_id is not None:
                repo.refresh_references(data_center_id)
        # First contact: the host is Up if its agent answers, and gets what its data center holds.
        self._sync([host])
        return self.get_host(host.id)

    @_command(Action.REMOVE_HOST)
    def remove_host(self, host_id: str) -> None:
        host = self._host(host_id)
        with self.locks.hold([keys.host_key(host.id)], action=Action.REMOVE_HOST):
            with self._tx() as repo:
                repo.remove_host(host.id)
            try:
                # It leaves the engine: it holds nothing for the engine any more.
                self._hosts.release_all(host)
            except StorconnError as exc:
                log.warning(
                    "host %s removed; its references could not be released: %s",
                    host.name,
                    exc.message,
                )

    def sync_hosts(self) -> list[str]:
        """Contact every host not in maintenance: mark it Up or non-responsive, sync its references.

        Run on start; ``storconn engine serve`` should also run it periodically,
        so that hosts that come back get what they should hold. Returns the
        names of the hosts that failed.
        """
        with self._tx(write=False) as repo:
            hosts = [h for h in repo.hosts(secrets=True) if h.status is not HostStatus.MAINTENANCE]
        result = self._sync(hosts)
        names = {host.id: host.name for host in hosts}
        return sorted(names[host_id] for host_id in result.failed)

    def sync_host(self, host_id: str) -> list[str]:
        """Sync one host's references; returns what failed (empty when all is well)."""
        host = self._host(host_id)
        result = self._sync([host])
        return list(result.failed.values())

    # -- LUN disks and VMs ----------------------------------------------------------

    def list_disks(self) -> list[LunDisk]:
        with self._tx(write=False) as repo:
            return repo.disks()

    def get_disk(self, disk_id: str) -> LunDisk:
        with self._tx(write=False) as repo:
            return _found(repo.disk(disk_id), "disk", disk_id)

    @_command(Action.ADD_DISK)
    def add_lun_disk(
        self, name: str, *, lun_id: str, connections: list[ConnectionFields]
    ) -> LunDisk:
        rules.check_lun_disk(name, lun_id, connections)
        wanted: list[StorageConnection] = []
        for fields in connections:
            fields = rules.clean_fields(fields)
            fields.type = fields.type or StorageType.ISCSI  # the port defaults to 3260
            wanted.append(self._checked(fields, entity="Disk", required=("address", "target")))
        lock_keys = [key for conn in wanted for key in keys.add_connection_keys(conn)]
        disk = LunDisk(id=str(uuid.uuid4()), name=name, lun_id=lun_id)
        with self.locks.hold(lock_keys, action=Action.ADD_DISK), self._tx() as repo:
            for conn in wanted:
                # A disk reuses the connection to its target when there is one.
                found = rules.find_duplicate(conn, repo.candidates(conn))
                if found is None:
                    repo.save_connection(conn)
                chosen = found.connection.id if found is not None else conn.id
                if chosen not in disk.connection_ids:
                    disk.connection_ids.append(chosen)
            repo.add_disk(disk)
        return disk

    @_command(Action.REMOVE_DISK)
    def remove_disk(self, disk_id: str) -> None:
        with (
            self.locks.hold([keys.disk_key(disk_id)], action=Action.REMOVE_DISK),
            self._tx() as repo,
        ):
            disk = _found(repo.disk(disk_id), "disk", disk_id)
            rules.check_disk_removable(disk, repo.vms(disk_ids=[disk.id]))
            repo.delete_disk(disk.id)

    def list_vms(self) -> list[Vm]:
        with self._tx(write=False) as repo:
            return repo.vms()

    def get_vm(self, vm_id: str) -> Vm:
        with self._tx(write=False) as repo:
            return _found(repo.vm(vm_id), "VM", vm_id)

    @_command(Action.ADD_VM)
    def add_vm(self, name: str, *, status: VmStatus = VmStatus.DOWN) -> Vm:
        rules.check_name(name, entity="VM")
        vm = Vm(id=str(uuid.uuid4()), name=name, status=VmStatus(status))
        with self._tx() as repo:
            rules.check_name_free(name, repo.vm_name_taken(name), entity="VM")
            repo.add_vm(vm)
        return vm

    @_command(Action.EDIT_VM)
    def set_vm_status(self, vm_id: str, status: VmStatus) -> Vm:
        vm = self.get_vm(vm_id)
        # Starting a VM takes its disks' locks: an iSCSI edit holding them excludes it.
        disk_keys = [keys.disk_key(att.disk_id) for att in vm.disk_attachments if att.plugged]
        with (
            self.locks.hold([f"vm:{vm_id}", *disk_keys], action=Action.EDIT_VM),
            self._tx() as repo,
        ):
            repo.set_vm_status(vm_id, VmStatus(status))
            return _found(repo.vm(vm_id), "VM", vm_id)

    @_command(Action.ATTACH_DISK)
    def attach_disk(self, vm_id: str, disk_id: str, *, plugged: bool = True) -> Vm:
        lock_keys = [f"vm:{vm_id}", keys.disk_key(disk_id)]
        with self.locks.hold(lock_keys, action=Action.ATTACH_DISK), self._tx() as repo:
            _found(repo.vm(vm_id), "VM", vm_id)
            _found(repo.disk(disk_id), "disk", disk_id)
            repo.attach_disk(vm_id, disk_id, plugged=plugged)
            return _found(repo.vm(vm_id), "VM", vm_id)

    # -- the connectivity test -------------------------------------------------------------

    @_command(Action.TEST_CONNECTION)
    def test_connection(
        self, connection_id: str, *, host: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        """What the agent saw of a flow reference (``connected``, ``lastError``, ``path``), and the host."""
        conn = self._existing_connection(connection_id, secrets=True, missing=NotFound)
        target = self._host(host)
        status = self._try_on_host(target, conn, timeout=timeout)
        return {**status, "host": {"id": target.id, "name": target.name}, "connection": conn.id}

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _checked(fields: ConnectionFields, **options: Any) -> StorageConnection:
        return rules.checked_connection(fields, connection_id=str(uuid.uuid4()), **options)

    def _existing_connection(
        self, connection_id: str, *, secrets: bool = False, missing: type[EngineError] = BadRequest
    ) -> StorageConnection:
        with self._tx(write=False) as repo:
            return self._existing(repo, connection_id, secrets=secrets, missing=missing)

    @staticmethod
    def _existing(
        repo: Repository,
        connection_id: str,
        *,
        secrets: bool = False,
        missing: type[EngineError] = BadRequest,
    ) -> StorageConnection:
        conn = repo.connection(connection_id, secrets=secrets)
        if conn is None:
            # A connection named in a body is a bad request (400), not oVirt's 500.
            raise missing(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST",
                f"Storage connection {connection_id} does not exist.",
            )
        return conn

    def _host(self, id_or_name: str) -> Host:
        with self._tx(write=False) as repo:
            return _found(repo.host(id_or_name, secrets=True), "host", id_or_name)

    @staticmethod
    def _up_hosts(repo: Repository, dc_id: str) -> list[Host]:
        return [
            h for h in repo.hosts(data_center_id=dc_id, secrets=True) if h.status is HostStatus.UP
        ]

    def _desired(self, host: Host) -> dict[str, ConnectionInfo]:
        with self._tx(write=False) as repo:
            return repo.desired_infos(host.id)

    def _live_flows(self) -> set[str]:
        with self._tx(write=False) as repo:
            return repo.live_flows(max_age=FLOW_MAX_AGE)

    def _sync(self, hosts: Sequence[Host]) -> DispatchResult[SyncResult]:
        """Sync ``hosts`` in parallel and record who answered (Up) and who did not (non-responsive)."""
        if not hosts:
            return DispatchResult()
        result = self._hosts.sync(hosts, self._desired, live_flows=self._live_flows)
        self._record_contact(hosts, result.unreachable)
        for host in hosts:
            if host.id in result.failed:
                log.warning("host %s: %s", host.name, result.failed[host.id])
        return result

    def _record_contact(self, hosts: Iterable[Host], unreachable: set[str]) -> None:
        changed = {
            host.id: HostStatus.NON_RESPONSIVE if host.id in unreachable else HostStatus.UP
            for host in hosts
            if host.status is not HostStatus.MAINTENANCE
        }
        with self._tx() as repo:
            for host_id, status in changed.items():
                repo.set_host_status(host_id, status)

    def _try_on_host(
        self, host: Host, conn: StorageConnection, *, timeout: float
    ) -> dict[str, Any]:
        """Connect ``conn`` on ``host`` for a moment through a flow reference; the agent's status."""
        info = rules.to_info(conn)
        flow_id = str(uuid.uuid4())
        # Recorded first, so that a sync meanwhile does not take the flow for a leftover.
        with self._tx() as repo:
            repo.add_flow(flow_id, host.id, "connect")
        try:
            return self._hosts.try_connect(host, info, flow_id=flow_id, timeout=timeout)
        except StorconnError as exc:
            if isinstance(exc, AgentUnavailable):
                self._record_contact([host], {host.id})
            raise BadRequest(
                "VDS_NETWORK_ERROR",
                f"Network error during communication with host {host.name}: {exc.message}",
            ) from None
        finally:
            with self._tx() as repo:
                repo.delete_flow(flow_id)

    def _connect_or_raise(self, host: Host, conn: StorageConnection) -> None:
        status = self._try_on_host(host, conn, timeout=CONNECT_TIMEOUT)
        if not status.get("connected"):
            code, message = (status.get("lastError") or [0, ""])[:2]
            why = f"{message or 'no answer in time'} (code {code})"
            raise BadRequest(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FAILED",
                f"Host {host.name} could not connect to the storage: {why}.",
            )
