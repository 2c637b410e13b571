"""Storage domains: add (with a new or an existing connection), edit, remove, and their connections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from storconn.engine import rules
from storconn.engine.errors import NotFound
from storconn.engine.model import (
    ConnectionFields,
    Host,
    LunFields,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules import Action
from storconn.engine.rules import domains as domain_rules
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.rules import locks as keys
from storconn.engine.service import luns as lun_plans
from storconn.engine.service.base import EMPTY_GUID, EngineBase, command, found


@dataclass(frozen=True, slots=True)
class DomainOverview:
    """Every domain with its connections (no secrets) and the names of the data centers: one read."""

    domains: list[StorageDomain]
    connections: dict[str, StorageConnection]
    data_center_names: dict[str, str]


class DomainCommands(EngineBase):
    def domain_overview(self) -> DomainOverview:
        """What a list of domains shows, read in one transaction (one consistent picture, one round)."""
        with self._tx(write=False) as repo:
            domains, connections = repo.domains_and_connections()
            names = {dc.id: dc.name for dc in repo.data_centers()}
        return DomainOverview(domains, connections, names)

    def list_domains(self, *, max: int | None = None) -> list[StorageDomain]:
        with self._tx(write=False) as repo:
            return repo.domains(max=max)

    def get_domain(self, domain_id: str) -> StorageDomain:
        with self._tx(write=False) as repo:
            return found(repo.domain(domain_id), "storage domain", domain_id)

    @command(Action.ADD_DOMAIN)
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
        luns: list[LunFields] | None = None,
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
        if storage_type in lun_plans.BLOCK_TYPES:
            domain.volume_group_id = lun_plans.volume_group_id()
        # The empty GUID is oVirt's "no host", as on the connection commands.
        named = host is not None and host.strip() not in ("", EMPTY_GUID)
        target = self._host(host) if host is not None and named else None
        if luns and connection_id is None:
            return self._add_lun_domain(domain, luns, target)
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
                    self._record(event_rules.build(EventKind.CONNECTION_ADDED, connection=conn), repo)
                repo.save_domain(domain)
                if conn is not None:
                    repo.attach(domain.id, conn.id)
                    domain.connection_ids = [conn.id]
                self._record(event_rules.build(EventKind.DOMAIN_ADDED, domain=domain), repo)
        return domain

    def _add_lun_domain(
        self, domain: StorageDomain, luns: list[LunFields], target: Host | None
    ) -> StorageDomain:
        """A block domain given as LUNs, on any number of targets: one connection per target."""
        plan = lun_plans.plan_luns(domain.storage_type, luns)
        with self.locks.hold(plan.lock_keys, action=Action.ADD_DOMAIN):
            with self._tx(write=False) as repo:
                lun_plans.check_luns_free(repo, [unit.lun_id for unit in luns])
                plan.resolve(repo)
            if target is not None:
                for conn in plan.chosen:
                    self._connect_or_raise(target, conn)
            # One transaction: connections created with the domain go away if the domain fails.
            with self._tx() as repo:
                rules.check_name_free(
                    domain.name, repo.domain_by_name(domain.name) is not None, entity="storage domain"
                )
                repo.save_domain(domain)
                lun_plans.store_luns(repo, domain, plan)
        return domain

    def _extend(self, domain_id: str, luns: list[LunFields]) -> list[Host]:
        """oVirt's ExtendSANStorageDomain: the LUNs new to a block domain join it; the Up hosts to sync.

        LUNs the domain has are left alone (the SDK sends every LUN back on
        update); a file domain ignores them, as oVirt's update does.
        """
        with self._tx(write=False) as repo:
            domain = found(repo.domain(domain_id), "storage domain", domain_id)
        have = {lun.lun_id for lun in domain.luns}
        new = [unit for unit in luns if unit.lun_id not in have]
        if domain.storage_type not in lun_plans.BLOCK_TYPES or not new:
            return []
        plan = lun_plans.plan_luns(domain.storage_type, new)
        lock_keys = [keys.domain_key(domain_id), *plan.lock_keys]
        with self.locks.hold(lock_keys, action=Action.EDIT_DOMAIN):
            with self._tx() as repo:
                domain = found(repo.domain(domain_id), "storage domain", domain_id)
                lun_plans.check_luns_free(repo, [unit.lun_id for unit in new], domain_id=domain.id)
                plan.resolve(repo)
                lun_plans.store_luns(repo, domain, plan)
                if domain.data_center_id is None:
                    return []
                # An active domain's hosts connect to its new targets.
                repo.refresh_references(domain.data_center_id)
                return self._up_hosts(repo, domain.data_center_id)

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

    @command(Action.EDIT_DOMAIN)
    def update_domain(
        self,
        domain_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        luns: list[LunFields] | None = None,
    ) -> StorageDomain:
        if luns:
            if name is not None:
                # Checked before the LUNs join, so that a refused name changes nothing.
                with self._tx(write=False) as repo:
                    domain = found(repo.domain(domain_id), "storage domain", domain_id)
                    if name != domain.name:
                        rules.check_name(name, entity="StorageDomain", verb="update")
                        taken = repo.domain_by_name(name) is not None
                        rules.check_name_free(name, taken, entity="storage domain")
            self._sync(self._extend(domain_id, luns))
        with (
            self.locks.hold([keys.domain_key(domain_id)], action=Action.EDIT_DOMAIN),
            self._tx() as repo,
        ):
            domain = found(repo.domain(domain_id), "storage domain", domain_id)
            if name is not None and name != domain.name:
                rules.check_name(name, entity="StorageDomain", verb="update")
                rules.check_name_free(
                    name, repo.domain_by_name(name) is not None, entity="storage domain"
                )
                domain.name = name
            if description is not None:
                domain.description = description or None
            repo.save_domain(domain)
            self._record(event_rules.build(EventKind.DOMAIN_UPDATED, domain=domain), repo)
            return domain

    @command(Action.REMOVE_DOMAIN)
    def remove_domain(self, domain_id: str) -> None:
        """Remove an unattached domain, and its connections that nothing else uses (as oVirt)."""
        seen = self.get_domain(domain_id)
        lock_keys = [keys.domain_key(domain_id)]
        lock_keys += [keys.connection_key(cid) for cid in sorted(seen.connection_ids)]
        with self.locks.hold(lock_keys, action=Action.REMOVE_DOMAIN), self._tx() as repo:
            domain = found(repo.domain(domain_id), "storage domain", domain_id)
            domain_rules.check_remove_domain(domain)
            repo.delete_domain(domain_id)
            # Connections attached meanwhile are not under the locks: they stay.
            self._drop_unused(repo, [c for c in domain.connection_ids if c in seen.connection_ids])
            self._record(event_rules.build(EventKind.DOMAIN_REMOVED, domain=domain), repo)

    def domain_connections(self, domain_id: str) -> list[StorageConnection]:
        with self._tx(write=False) as repo:
            domain = found(repo.domain(domain_id), "storage domain", domain_id)
            by_id = repo.connections_by_id(domain.connection_ids)
            return [by_id[cid] for cid in domain.connection_ids if cid in by_id]

    @command(Action.ATTACH_CONNECTION)
    def attach_connection(self, domain_id: str, connection_id: str) -> None:
        lock_keys = keys.attach_connection_keys(domain_id, connection_id)
        with self.locks.hold(lock_keys, action=Action.ATTACH_CONNECTION), self._tx() as repo:
            domain = found(repo.domain(domain_id), "storage domain", domain_id)
            domain_rules.check_attach_connection(domain, self._existing(repo, connection_id))
            repo.attach(domain_id, connection_id)

    @command(Action.DETACH_CONNECTION)
    def detach_connection(self, domain_id: str, connection_id: str) -> None:
        lock_keys = keys.attach_connection_keys(domain_id, connection_id)
        with self.locks.hold(lock_keys, action=Action.DETACH_CONNECTION), self._tx() as repo:
            domain = found(repo.domain(domain_id), "storage domain", domain_id)
            existing = self._existing(repo, connection_id, missing=NotFound)
            domain_rules.check_detach_connection(domain, existing)
            # That mapping only: the LUNs and the domain's other paths stay.
            repo.detach(domain_id, connection_id)
