"""Data centers and the life of a domain in them: attach, activate, maintenance, detach."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from storconn.engine import rules
from storconn.engine.model import (
    DataCenter,
    DomainStatus,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules import Action
from storconn.engine.rules import domains as domain_rules
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EngineBase, command, found


class DataCenterCommands(EngineBase):
    def list_data_centers(self) -> list[DataCenter]:
        with self._tx(write=False) as repo:
            return repo.data_centers()

    def get_data_center(self, dc_id: str) -> DataCenter:
        with self._tx(write=False) as repo:
            return found(repo.data_center(dc_id), "data center", dc_id)

    @command(Action.ADD_DATA_CENTER)
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
            self._sync(hosts)
        return domain

    @command(Action.ACTIVATE_DOMAIN)
    def activate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        return self._move_domain(dc_id, domain_id, domain_rules.activate, Action.ACTIVATE_DOMAIN)

    @command(Action.DEACTIVATE_DOMAIN)
    def deactivate_domain(self, dc_id: str, domain_id: str) -> list[str]:
        return self._move_domain(
            dc_id, domain_id, domain_rules.deactivate, Action.DEACTIVATE_DOMAIN
        )

    @command(Action.DETACH_DOMAIN)
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
                found(repo.data_center(dc_id), "data center", dc_id)
                domain = found(repo.domain(domain_id), "storage domain", domain_id)
                domain.status = move(domain, dc_id)
                if domain.status is DomainStatus.UNATTACHED:
                    domain.data_center_id = None
                repo.save_domain(domain)
                repo.refresh_references(dc_id)
                hosts = self._up_hosts(repo, dc_id)
            result = self._sync(hosts)
        names = {host.id: host.name for host in hosts}
        return sorted(names[host_id] for host_id in result.failed)
