"""Storage domains and their connections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.sql import Executable

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

# Enum lookups by value through a dict: Enum.__call__ per row is most of a listing's cost.
_STORAGE_TYPES = {member.value: member for member in StorageType}
_DOMAIN_STATUSES = {member.value: member for member in DomainStatus}
# A domain's own columns, read through Core: loading ORM objects costs several times the query.
_DOMAIN_COLUMNS = (
    DomainRow.id,
    DomainRow.name,
    DomainRow.storage_type,
    DomainRow.domain_type,
    DomainRow.description,
    DomainRow.data_center_id,
    DomainRow.status,
    DomainRow.volume_group_id,
)
# _domains builds StorageDomain positionally (keywords cost twice as much per row): its field order.
assert [f.name for f in dataclass_fields(StorageDomain)] == [
    "id", "name", "storage_type", "domain_type", "description", "data_center_id",
    "status", "connection_ids", "volume_group_id", "luns",
]


class DomainRows(RepositoryBase):
    # -- storage domains -----------------------------------------------------

    def domains(
        self, *, max: int | None = None, data_center_id: str | None = None
    ) -> list[StorageDomain]:
        query = select(*_DOMAIN_COLUMNS).order_by(DomainRow.created_at, DomainRow.id)
        if data_center_id is not None:
            query = query.where(DomainRow.data_center_id == data_center_id)
        if max is not None:
            query = query.limit(max)
        return self._read_domains(query, every_row=data_center_id is None and max is None)

    def domain(self, domain_id: str) -> StorageDomain | None:
        found = self._read_domains(select(*_DOMAIN_COLUMNS).where(DomainRow.id == domain_id))
        return found[0] if found else None

    def domain_by_name(self, name: str) -> StorageDomain | None:
        found = self._read_domains(select(*_DOMAIN_COLUMNS).where(DomainRow.name == name))
        return found[0] if found else None

    def domains_using(self, connection_id: str) -> list[StorageDomain]:
        return self._read_domains(
            select(*_DOMAIN_COLUMNS)
            .join(DomainConnectionRow, DomainConnectionRow.domain_id == DomainRow.id)
            .where(DomainConnectionRow.connection_id == connection_id)
            .order_by(DomainRow.created_at, DomainRow.id)
        )

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

    def _luns(self, domain_ids: Sequence[str], *, every_row: bool = False) -> dict[str, list[DomainLun]]:
        mapping: dict[str, list[DomainLun]] = {domain_id: [] for domain_id in domain_ids}
        if domain_ids:
            lun = DomainLunRow
            query = select(lun.domain_id, lun.lun_id, lun.connection_id, lun.lun_mapping).order_by(lun.id)
            if not every_row:  # as in _connection_ids: no IN of every id when all are wanted
                query = query.where(lun.domain_id.in_(list(domain_ids)))
            for domain_id, lun_id, connection_id, lun_mapping in (
                self.session.connection().execute(query).fetchall()
            ):
                if domain_id in mapping:
                    mapping[domain_id].append(DomainLun(lun_id, connection_id, lun_mapping))
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

    def _read_domains(self, query: Executable, *, every_row: bool = False) -> list[StorageDomain]:
        """The domains a select of ``_DOMAIN_COLUMNS`` finds, with their connections and LUNs.

        ``every_row``: the query reads the whole table (see ``_connection_ids``).
        """
        self.session.flush()  # Core reads past the session: what it holds must be in the database first
        rows: Sequence[Any] = self.session.connection().execute(query).fetchall()
        mapping = self._connection_ids(
            DomainConnectionRow.domain_id, DomainConnectionRow.connection_id, rows, every_row=every_row
        )
        luns = self._luns([row[0] for row in rows], every_row=every_row)
        types, statuses = _STORAGE_TYPES, _DOMAIN_STATUSES
        # Unpacked by position: a Core row's attributes cost a lookup each, ten a row.
        return [
            StorageDomain(
                id_, name, types[storage_type], domain_type, description, dc_id,
                statuses[status], mapping[id_], volume_group_id, luns[id_],
            )
            for id_, name, storage_type, domain_type, description, dc_id, status, volume_group_id in rows
        ]
