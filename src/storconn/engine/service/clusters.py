"""Clusters: add, edit, remove, and the data center's default cluster that hosts named by their data center join."""

from __future__ import annotations

import uuid

from storconn.engine import rules
from storconn.engine.db import Repository
from storconn.engine.errors import BadRequest
from storconn.engine.model import Cluster, DataCenter
from storconn.engine.rules import Action
from storconn.engine.rules import clusters as cluster_rules
from storconn.engine.service.base import EngineBase, command, found

__all__ = [
    "DEFAULT_CLUSTER",
    "ClusterCommands",
    "cluster_key",
    "data_center_key",
    "default_cluster",
    "known_cluster",
]

# oVirt installs a "Default" cluster in a "Default" data center; storconn creates a
# data center's "Default" cluster when a host names only the data center (see docs/engine.md).
DEFAULT_CLUSTER = "Default"


def cluster_key(cluster_id: str) -> str:
    return f"cluster:{cluster_id}"


def data_center_key(dc_id: str) -> str:
    return f"data_center:{dc_id}"


def known_cluster(repo: Repository, cluster_id: str) -> Cluster:
    """A cluster named in a body: an unknown id is oVirt's VDS_CLUSTER_IS_NOT_VALID (400)."""
    cluster = repo.cluster(cluster_id)
    if cluster is None:
        raise BadRequest("VDS_CLUSTER_IS_NOT_VALID", f"Cluster ID {cluster_id} is not valid.")
    return cluster


def default_cluster(repo: Repository, dc: DataCenter) -> Cluster:
    """The cluster a host named only by its data center joins: the data center's cluster named
    "Default", else its oldest; a data center without clusters gets a new "Default" one
    ("Default-<data center id>" when another data center's cluster already has that name,
    since cluster names are unique across the engine)."""
    clusters = repo.clusters(data_center_id=dc.id)
    for cluster in clusters:
        if cluster.name == DEFAULT_CLUSTER:
            return cluster
    if clusters:
        return clusters[0]
    name = DEFAULT_CLUSTER if repo.cluster_by_name(DEFAULT_CLUSTER) is None else f"{DEFAULT_CLUSTER}-{dc.id}"
    cluster = Cluster(id=str(uuid.uuid4()), name=name, data_center_id=dc.id, version=dc.version)
    repo.add_cluster(cluster)
    return cluster


class ClusterCommands(EngineBase):
    def list_clusters(self, *, data_center_id: str | None = None) -> list[Cluster]:
        with self._tx(write=False) as repo:
            if data_center_id is not None:
                found(repo.data_center(data_center_id), "data center", data_center_id)
            return repo.clusters(data_center_id=data_center_id)

    def get_cluster(self, cluster_id: str) -> Cluster:
        with self._tx(write=False) as repo:
            return found(repo.cluster(cluster_id), "cluster", cluster_id)

    @command(Action.ADD_CLUSTER)
    def add_cluster(
        self,
        name: str,
        *,
        data_center_id: str,
        description: str | None = None,
        comment: str | None = None,
        version: tuple[int, int] | None = None,
        cpu_type: str | None = None,
        cpu_architecture: str | None = None,
    ) -> Cluster:
        rules.check_name(name, entity="Cluster")
        with (
            self.locks.hold([data_center_key(data_center_id)], action=Action.ADD_CLUSTER),
            self._tx() as repo,
        ):
            dc = found(repo.data_center(data_center_id), "data center", data_center_id)
            cluster = Cluster(
                id=str(uuid.uuid4()),
                name=name,
                data_center_id=dc.id,
                description=description or None,
                comment=comment or None,
                # oVirt maps the new cluster from its data center first: the version defaults to the DC's.
                version=version or dc.version,
                cpu_type=cpu_type or None,
                cpu_architecture=cpu_architecture or None,
            )
            cluster_rules.check_cluster_add(
                cluster,
                dc,
                repo.clusters(data_center_id=dc.id),
                name_taken=repo.cluster_by_name(name) is not None,
            )
            repo.add_cluster(cluster)
            return cluster

    @command(Action.EDIT_CLUSTER)
    def update_cluster(
        self,
        cluster_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        comment: str | None = None,
        data_center_id: str | None = None,
        version: tuple[int, int] | None = None,
        cpu_type: str | None = None,
        cpu_architecture: str | None = None,
    ) -> Cluster:
        """Change what is given (None keeps the stored value, "" clears a text)."""
        if name is not None:
            rules.check_name(name, entity="Cluster", verb="update")
        with self.locks.hold([cluster_key(cluster_id)], action=Action.EDIT_CLUSTER), self._tx() as repo:
            old = found(repo.cluster(cluster_id), "cluster", cluster_id)
            new = Cluster(
                id=old.id,
                name=name if name is not None else old.name,
                data_center_id=data_center_id if data_center_id is not None else old.data_center_id,
                description=_text(description, old.description),
                comment=_text(comment, old.comment),
                version=version or old.version,
                cpu_type=_text(cpu_type, old.cpu_type),
                cpu_architecture=_text(cpu_architecture, old.cpu_architecture),
            )
            dc = None
            if new.data_center_id is not None:
                dc = found(repo.data_center(new.data_center_id), "data center", new.data_center_id)
            hosts = repo.hosts(cluster_id=old.id)
            cluster_rules.check_cluster_update(
                old,
                new,
                dc,
                hosts=hosts,
                dc_clusters=repo.clusters(data_center_id=new.data_center_id) if dc else [],
                name_taken=repo.cluster_by_name(new.name) is not None,
            )
            repo.save_cluster(new)
            if new.data_center_id != old.data_center_id:
                # A cluster without a data center joins one: its hosts (none Up) follow it.
                for host in hosts:
                    host.data_center_id = new.data_center_id
                    repo.save_host(host)
                if new.data_center_id is not None:
                    repo.refresh_references(new.data_center_id)
            return new

    @command(Action.REMOVE_CLUSTER)
    def remove_cluster(self, cluster_id: str) -> None:
        with self.locks.hold([cluster_key(cluster_id)], action=Action.REMOVE_CLUSTER), self._tx() as repo:
            cluster = found(repo.cluster(cluster_id), "cluster", cluster_id)
            cluster_rules.check_cluster_remove(cluster, repo.hosts(cluster_id=cluster.id))
            repo.remove_cluster(cluster.id)


def _text(given: str | None, stored: str | None) -> str | None:
    if given is None:
        return stored
    return given or None
