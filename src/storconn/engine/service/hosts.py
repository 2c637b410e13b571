"""Hosts: add, remove, and keeping each one's references in step with what it should hold."""

from __future__ import annotations

import logging
import uuid

from storconn.connection import StorconnError
from storconn.engine import rules
from storconn.engine.model import (
    Host,
    HostStatus,
)
from storconn.engine.rules import Action
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EngineBase, command, found

log = logging.getLogger(__name__)


class HostCommands(EngineBase):
    def list_hosts(self) -> list[Host]:
        with self._tx(write=False) as repo:
            return repo.hosts()

    def get_host(self, id_or_name: str) -> Host:
        host = self._host(id_or_name)
        host.token = None
        return host

    @command(Action.ADD_HOST)
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
                found(repo.data_center(data_center_id), "data center", data_center_id)
            rules.check_name_free(name, repo.host(name) is not None, entity="host")
            repo.add_host(host)
            if data_center_id is not None:
                repo.refresh_references(data_center_id)
        # First contact: the host is Up if its agent answers, and gets what its data center holds.
        self._sync([host])
        return self.get_host(host.id)

    @command(Action.REMOVE_HOST)
    def remove_host(self, host_id: str) -> None:
        host = self._host(host_id)
        with self.locks.hold([keys.host_key(host.id)], action=Action.REMOVE_HOST):
            with self._tx() as repo:
                # VMs on it run nowhere the engine knows of now; their disk references go with the host.
                repo.clear_vm_host(host.id)
                repo.refresh_disk_references()
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
