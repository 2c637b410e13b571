"""Clusters: named groups of hosts in a data center."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from storconn.engine.model import Cluster

from ..schema import ClusterRow
from .base import RepositoryBase


class ClusterRows(RepositoryBase):
    def clusters(self, *, data_center_id: str | None = None) -> list[Cluster]:
        query = select(ClusterRow).order_by(ClusterRow.created_at, ClusterRow.id)
        if data_center_id is not None:
            query = query.where(ClusterRow.data_center_id == data_center_id)
        return [_cluster(row) for row in self.session.scalars(query)]

    def cluster(self, cluster_id: str) -> Cluster | None:
        row = self.session.get(ClusterRow, cluster_id)
        return _cluster(row) if row else None

    def cluster_by_name(self, name: str) -> Cluster | None:
        row = self.session.scalar(select(ClusterRow).where(ClusterRow.name == name))
        return _cluster(row) if row else None

    def add_cluster(self, cluster: Cluster) -> None:
        self.session.add(ClusterRow(id=cluster.id, **_values(cluster)))
        self.session.flush()

    def save_cluster(self, cluster: Cluster) -> None:
        self.session.execute(
            update(ClusterRow).where(ClusterRow.id == cluster.id).values(**_values(cluster))
        )

    def remove_cluster(self, cluster_id: str) -> None:
        self.session.execute(delete(ClusterRow).where(ClusterRow.id == cluster_id))


def _cluster(row: ClusterRow) -> Cluster:
    return Cluster(
        id=row.id,
        name=row.name,
        data_center_id=row.data_center_id,
        description=row.description,
        comment=row.comment,
        version=(row.version_major, row.version_minor),
        cpu_type=row.cpu_type,
        cpu_architecture=row.cpu_architecture,
    )


def _values(cluster: Cluster) -> dict[str, object]:
    return {
        "name": cluster.name,
        "data_center_id": cluster.data_center_id,
        "description": cluster.description,
        "comment": cluster.comment,
        "version_major": cluster.version[0],
        "version_minor": cluster.version[1],
        "cpu_type": cluster.cpu_type,
        "cpu_architecture": cluster.cpu_architecture,
    }
