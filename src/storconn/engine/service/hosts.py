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
from storconn.engine.rules import clusters as cluster_rules
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EngineBase, command, found
from storconn.engine.service.clusters import (
    cluster_key,
    data_center_key,
    default_cluster,
    known_cluster,
)

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
        cluster_id: str | None = None,
    ) -> Host:
        """Add an agent as a host: in ``cluster_id``, or in ``data_center_id``'s default cluster
        (``clusters.default_cluster``), or in no cluster at all when neither is given."""
        rules.check_name(name, entity="Host")
        rules.check_host_address(address, port)
        host = Host(
            id=str(uuid.uuid4()),
            name=name,
            address=address,
            port=port,
            token=token or None,
            status=HostStatus.NON_RESPONSIVE,
        )
        # The cluster cannot go meanwhile; a data center's default cluster is made once.
        if cluster_id:
            held = [cluster_key(cluster_id)]
        else:
            held = [data_center_key(data_center_id)] if data_center_id else []
        with self.locks.hold(held, action=Action.ADD_HOST), self._tx() as repo:
            dc = None
            if cluster_id is not None:
                cluster = known_cluster(repo, cluster_id)
                host.cluster_id, host.data_center_id = cluster.id, cluster.data_center_id
                if cluster.data_center_id is not None:
                    dc = repo.data_center(cluster.data_center_id)
            elif data_center_id is not None:
                dc = found(repo.data_center(data_center_id), "data center", data_center_id)
                host.cluster_id, host.data_center_id = default_cluster(repo, dc).id, dc.id
            rules.check_name_free(name, repo.host(name) is not None, entity="host")
            if dc is not None:
                cluster_rules.check_host_in_cluster(host, dc, repo.hosts(data_center_id=dc.id))
            repo.add_host(host)
            if host.data_center_id is not None:
                repo.refresh_references(host.data_center_id)
            self._record(event_rules.build(EventKind.HOST_ADDED, host=host), repo)
        # First contact: the host is Up if its agent answers, and gets what its data center holds.
        self._sync([host])
        return self.get_host(host.id)

    @command(Action.EDIT_HOST)
    def update_host(
        self, host_id: str, *, name: str | None = None, cluster_id: str | None = None
    ) -> Host:
        """Rename a host or move it to another cluster (only in maintenance, as oVirt's
        ChangeVDSCluster); its references follow its new data center."""
        if name is not None:
            rules.check_name(name, entity="Host", verb="update")
        current = self._host(host_id)
        held = [keys.host_key(current.id)] + ([cluster_key(cluster_id)] if cluster_id else [])
        with self.locks.hold(held, action=Action.EDIT_HOST), self._tx() as repo:
            host = found(repo.host(current.id), "host", host_id)
            old_dc = host.data_center_id
            if name is not None and name != host.name:
                rules.check_name_free(name, repo.host(name) is not None, entity="host")
                host.name = name
            if cluster_id is not None and cluster_id != host.cluster_id:
                cluster = known_cluster(repo, cluster_id)
                dc = repo.data_center(cluster.data_center_id) if cluster.data_center_id else None
                cluster_rules.check_host_move(host, dc, repo.hosts(data_center_id=dc.id) if dc else [])
                host.cluster_id, host.data_center_id = cluster.id, cluster.data_center_id
            repo.save_host(host)
            if host.data_center_id != old_dc:
                # What it held for its old data center is no longer wanted; it gets the new one's.
                repo.replace_references([host.id], set())
                if host.data_center_id is not None:
                    repo.refresh_references(host.data_center_id)
            return host

    @command(Action.REMOVE_HOST)
    def remove_host(self, host_id: str) -> None:
        host = self._host(host_id)
        with self.locks.hold([keys.host_key(host.id)], action=Action.REMOVE_HOST):
            host = self._host(host_id)  # its status under the lock: an activation may have just ended
            cluster_rules.check_host_remove(host)  # oVirt's RemoveVds: maintenance first
            with self._tx() as repo:
                # VMs on it run nowhere the engine knows of now; their disk references go with the host.
                repo.clear_vm_host(host.id)
                repo.refresh_disk_references()
                repo.remove_host(host.id)
                self._record(event_rules.build(EventKind.HOST_REMOVED, host=host), repo)
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
