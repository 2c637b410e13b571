"""Users, data centers and hosts: the inventory around the storage."""

from __future__ import annotations


from sqlalchemy import delete, func, select, update

from storconn.engine.model import (
    DataCenter,
    Host,
    HostStatus,
    Role,
    User,
)

from ..schema import (
    ClusterRow,
    DataCenterRow,
    FlowRow,
    HostRow,
    ReferenceRow,
    UserRow,
)

from .base import RepositoryBase


class InventoryRows(RepositoryBase):
    # -- users ------------------------------------------------------------

    def count_users(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(UserRow)) or 0)

    def user(self, name: str) -> tuple[User, str] | None:
        """The user and its password hash, or None."""
        row = self.session.scalar(select(UserRow).where(UserRow.name == name))
        return (User(name=row.name, role=Role(row.role)), row.password_hash) if row else None

    def add_user(self, user_id: str, user: User, password_hash: str) -> None:
        self.session.add(
            UserRow(id=user_id, name=user.name, role=str(user.role), password_hash=password_hash)
        )
        self.session.flush()

    # -- data centers -------------------------------------------------------

    def data_centers(self) -> list[DataCenter]:
        rows = self.session.scalars(
            select(DataCenterRow).order_by(DataCenterRow.created_at, DataCenterRow.id)
        )
        return [_data_center(row) for row in rows]

    def data_center(self, dc_id: str) -> DataCenter | None:
        row = self.session.get(DataCenterRow, dc_id)
        return _data_center(row) if row else None

    def data_center_by_name(self, name: str) -> DataCenter | None:
        row = self.session.scalar(select(DataCenterRow).where(DataCenterRow.name == name))
        return _data_center(row) if row else None

    def add_data_center(self, dc: DataCenter) -> None:
        self.session.add(DataCenterRow(id=dc.id, **_data_center_values(dc)))
        self.session.flush()

    def save_data_center(self, dc: DataCenter) -> None:
        """Write every stored field of an existing data center (its status is derived, never stored)."""
        self.session.execute(
            update(DataCenterRow).where(DataCenterRow.id == dc.id).values(**_data_center_values(dc))
        )

    def remove_data_center(self, dc_id: str) -> None:
        """Delete the row; its clusters keep their hosts and lose their data center, as in oVirt."""
        self.session.execute(
            update(HostRow).where(HostRow.data_center_id == dc_id).values(data_center_id=None)
        )
        self.session.execute(
            update(ClusterRow).where(ClusterRow.data_center_id == dc_id).values(data_center_id=None)
        )
        self.session.execute(delete(DataCenterRow).where(DataCenterRow.id == dc_id))

    # -- hosts --------------------------------------------------------------

    def hosts(
        self,
        *,
        data_center_id: str | None = None,
        cluster_id: str | None = None,
        secrets: bool = False,
    ) -> list[Host]:
        query = select(HostRow).order_by(HostRow.created_at, HostRow.id)
        if data_center_id is not None:
            query = query.where(HostRow.data_center_id == data_center_id)
        if cluster_id is not None:
            query = query.where(HostRow.cluster_id == cluster_id)
        return [self._host(row, secrets) for row in self.session.scalars(query)]

    def host(self, id_or_name: str, *, secrets: bool = False) -> Host | None:
        row = self.session.get(HostRow, id_or_name) or self.session.scalar(
            select(HostRow).where(HostRow.name == id_or_name)
        )
        return self._host(row, secrets) if row else None

    def add_host(self, host: Host) -> None:
        self.session.add(
            HostRow(
                id=host.id,
                name=host.name,
                address=host.address,
                port=host.port,
                token_encrypted=self._box.encrypt(host.token),
                data_center_id=host.data_center_id,
                cluster_id=host.cluster_id,
                status=str(host.status),
            )
        )
        self.session.flush()

    def save_host(self, host: Host) -> None:
        """Write a host's name and place (cluster, data center); its token and status change elsewhere."""
        self.session.execute(
            update(HostRow)
            .where(HostRow.id == host.id)
            .values(name=host.name, cluster_id=host.cluster_id, data_center_id=host.data_center_id)
        )

    def set_host_status(self, host_id: str, status: HostStatus) -> None:
        self.session.execute(
            update(HostRow).where(HostRow.id == host_id).values(status=str(status))
        )

    def remove_host(self, host_id: str) -> None:
        self.session.execute(delete(ReferenceRow).where(ReferenceRow.host_id == host_id))
        self.session.execute(delete(FlowRow).where(FlowRow.host_id == host_id))
        self.session.execute(delete(HostRow).where(HostRow.id == host_id))

    def _host(self, row: HostRow, secrets: bool) -> Host:
        return Host(
            id=row.id,
            name=row.name,
            address=row.address,
            port=row.port,
            token=self._box.decrypt(row.token_encrypted) if secrets else None,
            data_center_id=row.data_center_id,
            status=HostStatus(row.status),
            cluster_id=row.cluster_id,
        )


def _data_center(row: DataCenterRow) -> DataCenter:
    return DataCenter(
        id=row.id,
        name=row.name,
        description=row.description,
        local=row.local,
        comment=row.comment,
        version=(row.version_major, row.version_minor),
    )


def _data_center_values(dc: DataCenter) -> dict[str, object]:
    return {
        "name": dc.name,
        "description": dc.description,
        "local": dc.local,
        "comment": dc.comment,
        "version_major": dc.version[0],
        "version_minor": dc.version[1],
    }
