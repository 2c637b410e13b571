"""Storage domains and their connections."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from storconn.engine.model import (
    DomainLun,
    DomainStatus,
    StorageDomain,
    StorageType,
)

from ..schema import (
    DomainConnectionRow,
    DomainLunRow,
    DomainRow,
    ReferenceRow,
)

from .base import RepositoryBase


class DomainRows(RepositoryBase):
    # -- storage domains -----------------------------------------------------

    def domains(
        self, *, max: int | None = None, data_center_id: str | None = None
    ) -> list[StorageDomain]:
        query = select(DomainRow).order_by(DomainRow.created_at, DomainRow.id)
        if data_center_id is not None:
            query = query.where(DomainRow.data_center_id == data_center_id)
        if max is not None:
            query = query.limit(max)
        return self._domains(list(self.session.scalars(query)))

    def domain(self, domain_id: str) -> StorageDomain | None:
        row = self.session.get(DomainRow, domain_id)
        return self._domains([row])[0] if row else None

    def domain_by_name(self, name: str) -> StorageDomain | None:
        row = self.session.scalar(select(DomainRow).where(DomainRow.name == name))
        return self._domains([row])[0] if row else None

    def domains_using(self, connection_id: str) -> list[StorageDomain]:
        rows = self.session.scalars(
            select(DomainRow)
            .join(DomainConnectionRow, DomainConnectionRow.domain_id == DomainRow.id)
            .where(DomainConnectionRow.connection_id == connection_id)
            .order_by(DomainRow.created_at, DomainRow.id)
        )
        return self._domains(list(rows))

    def save_domain(self, domain: StorageDomain) -> None:
        """Insert or update the domain's own columns; its connections change with ``attach``/``detach``."""
        values = dict(
            name=domain.name,
            storage_type=str(domain.storage_type),
            domain_type=domain.domain_type,
            description=domain.description,
            data_center_id=domain.data_center_id,
            status=str(domain.status),
            volume_group_id=domain.volume_group_id,
        )
        self._upsert(DomainRow, domain.id, values)

    def add_luns(self, domain_id: str, luns: Sequence[DomainLun]) -> None:
        """Add paths to LUNs of a block domain; a path it already has is left as it is."""
        have = {(lun.lun_id, lun.connection_id) for lun in self._luns([domain_id])[domain_id]}
        for lun in luns:
            if (lun.lun_id, lun.connection_id) in have:
                continue
            have.add((lun.lun_id, lun.connection_id))
            self.session.add(
                DomainLunRow(
                    domain_id=domain_id,
                    lun_id=lun.lun_id,
                    connection_id=lun.connection_id,
                    lun_mapping=lun.lun_mapping,
                )
            )
        self.session.flush()

    def _luns(self, domain_ids: Sequence[str]) -> dict[str, list[DomainLun]]:
        mapping: dict[str, list[DomainLun]] = {domain_id: [] for domain_id in domain_ids}
        if domain_ids:
            rows = self.session.scalars(
                select(DomainLunRow)
                .where(DomainLunRow.domain_id.in_(list(domain_ids)))
                .order_by(DomainLunRow.id)
            )
            for row in rows:
                mapping[row.domain_id].append(
                    DomainLun(row.lun_id, row.connection_id, row.lun_mapping)
                )
        return mapping

    def attach(self, domain_id: str, connection_id: str) -> None:
        self.session.add(DomainConnectionRow(domain_id=domain_id, connection_id=connection_id))
        self.session.flush()

    def detach(self, domain_id: str, connection_id: str) -> None:
        self.session.execute(
            delete(DomainConnectionRow).where(
                DomainConnectionRow.domain_id == domain_id,
                DomainConnectionRow.connection_id == connection_id,
            )
        )
        self.session.flush()

    def delete_domain(self, domain_id: str) -> None:
        self.session.execute(delete(ReferenceRow).where(ReferenceRow.domain_id == domain_id))
        self.session.execute(delete(DomainLunRow).where(DomainLunRow.domain_id == domain_id))
        self.session.execute(
            delete(DomainConnectionRow).where(DomainConnectionRow.domain_id == domain_id)
        )
        self.session.execute(delete(DomainRow).where(DomainRow.id == domain_id))
        self.session.flush()

    def _domains(self, rows: Sequence[DomainRow]) -> list[StorageDomain]:
        mapping = self._connection_ids(
            DomainConnectionRow.domain_id, DomainConnectionRow.connection_id, rows
        )
        luns = self._luns([row.id for row in rows])
        return [
            StorageDomain(
                id=row.id,
                name=row.name,
                storage_type=StorageType(row.storage_type),
                domain_type=row.domain_type,
                description=row.description,
                data_center_id=row.data_center_id,
                status=DomainStatus(row.status),
                connection_ids=mapping[row.id],
                volume_group_id=row.volume_group_id,
                luns=luns[row.id],
            )
            for row in rows
        ]
