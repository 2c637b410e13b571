"""Data centers and the life of a domain in them: attach, activate, maintenance, detach."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from storconn.engine import rules
from storconn.engine.db import Repository
from storconn.engine.errors import ObjectLocked
from storconn.engine.model import (
    DEFAULT_VERSION,
    DataCenter,
    DomainStatus,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules import Action
from storconn.engine.rules import clusters as cluster_rules
from storconn.engine.rules import domains as domain_rules
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EngineBase, command, found
from storconn.engine.service.clusters import data_center_key


def _with_status(repo: Repository, dcs: list[DataCenter]) -> list[DataCenter]:
    """Each data center with its status, derived from its domains (one query for all of them)."""
    by_dc: dict[str, list[StorageDomain]] = {}
    for domain in repo.domains():
        if domain.data_center_id:
            by_dc.setdefault(domain.data_center_id, []).append(domain)
    for dc in dcs:
        dc.status = cluster_rules.data_center_status(by_dc.get(dc.id, []))
    return dcs


class DataCenterCommands(EngineBase):
    def list_data_centers(self) -> list[DataCenter]:
        with self._tx(write=False) as repo:
            return _with_status(repo, repo.data_centers())

    def get_data_center(self, dc_id: str) -> DataCenter:
        with self._tx(write=False) as repo:
            dc = found(repo.data_center(dc_id), "data center", dc_id)
            dc.status = cluster_rules.data_center_status(repo.domains(data_center_id=dc.id))
            return dc

    @command(Action.ADD_DATA_CENTER)
    def add_data_center(
        self,
        name: str,
        *,
        description: str | None = None,
        local: bool = False,
        comment: str | None = None,
        version: tuple[int, int] | None = None,
    ) -> DataCenter:
        rules.check_name(name, entity="DataCenter")
        dc = DataCenter(
            id=str(uuid.uuid4()),
            name=name,
            description=description or None,
            local=local,
            comment=comment or None,
            version=cluster_rules.check_version(version or DEFAULT_VERSION),
        )
        with self._tx() as repo:
            taken = repo.data_center_by_name(name) is not None
            rules.check_name_free(name, taken, entity="data center")
            repo.add_data_center(dc)
            self._record(event_rules.build(EventKind.DATA_CENTER_ADDED, data_center=dc), repo)
        return dc

    @command(Action.EDIT_DATA_CENTER)
    def update_data_center(
        self,
        dc_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        comment: str | None = None,
        local: bool | None = None,
        version: tuple[int, int] | None = None,
    ) -> DataCenter:
        """Change what is given (None keeps the stored value, "" clears a text)."""
        if name is not None:
            rules.check_name(name, entity="DataCenter", verb="update")
        with self.locks.hold([data_center_key(dc_id)], action=Action.EDIT_DATA_CENTER), self._tx() as repo:
            old = found(repo.data_center(dc_id), "data center", dc_id)
            new = DataCenter(
                id=old.id,
                name=name if name is not None else old.name,
                description=old.description if description is None else description or None,
                local=old.local if local is None else local,
                comment=old.comment if comment is None else comment or None,
                version=version or old.version,
            )
            domains = repo.domains(data_center_id=dc_id)
            cluster_rules.check_data_center_update(
                old,
                new,
                name_taken=repo.data_center_by_name(new.name) is not None,
                clusters=repo.clusters(data_center_id=dc_id),
                hosts=repo.hosts(data_center_id=dc_id),
                domains=domains,
            )
            repo.save_data_center(new)
            new.status = cluster_rules.data_center_status(domains)
            return new

    @command(Action.REMOVE_DATA_CENTER)
    def remove_data_center(self, dc_id: str, *, force: bool = False) -> None:
        """oVirt's RemoveStoragePool: its domains (all in maintenance) are detached, its clusters
        and their hosts stay without a data center. oVirt deletes the domains of a forced
        removal from its database; storconn leaves them unattached (docs/engine.md)."""
        with self._tx(write=False) as repo:
            found(repo.data_center(dc_id), "data center", dc_id)
            domain_ids = [d.id for d in repo.domains(data_center_id=dc_id)]
        held = [data_center_key(dc_id), *(keys.domain_key(d) for d in domain_ids)]
        with self.locks.hold(held, action=Action.REMOVE_DATA_CENTER), self._tx() as repo:
            dc = found(repo.data_center(dc_id), "data center", dc_id)
            domains = repo.domains(data_center_id=dc_id)
            if {d.id for d in domains} - set(domain_ids):
                # A domain was attached meanwhile: it is not locked; the client tries again.
                raise ObjectLocked(f"data center {dc.name}")
            hosts = repo.hosts(data_center_id=dc_id)
            cluster_rules.check_data_center_remove(dc, domains, hosts, force=force)
            for domain in domains:
                domain.status = DomainStatus.UNATTACHED
                domain.data_center_id = None
                repo.save_domain(domain)
            repo.forget_data_center(dc_id)
            repo.replace_references([h.id for h in hosts], set())
            repo.remove_data_center(dc_id)

    def data_center_domains(self, dc_id: str) -> list[StorageDomain]:
        with self._tx(write=False) as repo:
            found(repo.data_center(dc_id), "data center", dc_id)
            return repo.domains(data_center_id=dc_id)

    @command(Action.ATTACH_DOMAIN)
    def attach_domain(self, dc_id: str, domain_id: str) -> StorageDomain:
        """Attach an unattached domain and activate it, as oVirt's attach does (its ``activate``
        defaults to true and its REST API offers no other value): the data center's Up hosts
        connect to it. A host that fails is logged; the domain is active all the same."""
        with self.locks.hold([keys.domain_key(domain_id)], action=Action.ATTACH_DOMAIN):
            with self._tx() as repo:
                dc = found(repo.data_center(dc_id), "data center", dc_id)
                domain = found(repo.domain(domain_id), "storage domain", domain_id)
                domain_rules.attach_to_data_center(domain, dc)
                domain.status = DomainStatus.ACTIVE
                domain.data_center_id = dc.id
                if domain.storage_type is StorageType.LOCALFS:
                    # Local storage is unique per data center: its duplicates are looked for there now.
                    for conn in repo.connections_by_id(domain.connection_ids).values():
                        rules.check_duplicates(conn, repo.candidates(conn), data_center_id=dc.id)
                        repo.set_connection_data_center(conn, dc.id)
                repo.save_domain(domain)
                repo.refresh_references(dc.id)
                hosts = self._up_hosts(repo, dc.id)
                for kind in (EventKind.DOMAIN_ATTACHED, EventKind.DOMAIN_ACTIVATED):
                    self._record(event_rules.build(kind, domain=domain, data_center=dc), repo)
            result = self._sync(hosts)
        for host in hosts:
            if host.id in result.failed:
                self._record(
                    event_rules.build(EventKind.HOST_STORAGE_FAILED, domain=domain, data_center=dc, host=host)
                )
        return domain

    @command(Action.ACTIVATE_DOMAIN)
    def activate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        return self._move_domain(
            dc_id, domain_id, domain_rules.activate, Action.ACTIVATE_DOMAIN, EventKind.DOMAIN_ACTIVATED
        )

    @command(Action.DEACTIVATE_DOMAIN)
    def deactivate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        return self._move_domain(
            dc_id, domain_id, domain_rules.deactivate, Action.DEACTIVATE_DOMAIN, EventKind.DOMAIN_DEACTIVATED
        )

    @command(Action.DETACH_DOMAIN)
    def detach_domain(self, dc_id: str, domain_id: str) -> None:
        self._move_domain(
            dc_id,
            domain_id,
            domain_rules.detach_from_data_center,
            Action.DETACH_DOMAIN,
            EventKind.DOMAIN_DETACHED,
        )

    def _move_domain(
        self,
        dc_id: str,
        domain_id: str,
        move: Callable[[StorageDomain, str], Any],
        action: str,
        kind: EventKind,
    ) -> list[str]:
        """Change a domain's status, then make the data center's Up hosts hold what they should.

        Returns the names of the hosts that did not answer or refused a reference.
        """
        with self.locks.hold([keys.domain_key(domain_id)], action=action):
            with self._tx() as repo:
                dc = found(repo.data_center(dc_id), "data center", dc_id)
                domain = found(repo.domain(domain_id), "storage domain", domain_id)
                domain.status = move(domain, dc_id)
                if domain.status is DomainStatus.UNATTACHED:
                    domain.data_center_id = None
                repo.save_domain(domain)
                repo.refresh_references(dc_id)
                hosts = self._up_hosts(repo, dc_id)
                self._record(event_rules.build(kind, domain=domain, data_center=dc), repo)
            result = self._sync(hosts)
        if kind is EventKind.DOMAIN_ACTIVATED:
            for host in hosts:
                if host.id in result.failed:
                    self._record(
                        event_rules.build(EventKind.HOST_STORAGE_FAILED, domain=domain, data_center=dc, host=host)
                    )
        names = {host.id: host.name for host in hosts}
        return sorted(names[host_id] for host_id in result.failed)
