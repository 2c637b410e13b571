"""Storage domains and their connections."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from storconn.engine.model import (
    DomainStatus,
    StorageDomain,
    StorageType,
)

from ..schema import (
    DomainConnectionRow,
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
        )
        self._upsert(DomainRow, domain.id, values)

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
        self.session.execute(
            delete(DomainConnectionRow).where(DomainConnectionRow.domain_id == domain_id)
        )
        self.session.execute(delete(DomainRow).where(DomainRow.id == domain_id))
        self.session.flush()

    def _domains(self, rows: Sequence[DomainRow]) -> list[StorageDomain]:
        mapping = self._connection_ids(
            DomainConnectionRow.domain_id, DomainConnectionRow.connection_id, rows
        )
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
            )
            for row in rows
        ]
