"""Storage connections: rows in and out, secrets sealed, duplicates' candidates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields as dataclass_fields

from sqlalchemy import delete, null, select, update

from storconn.engine.model import (
    TYPE_CODES,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules.duplicates import Candidate, duplicate_scope
from storconn.engine.rules.fields import mount_fields
from storconn.engine.rules.infos import identity_hash, identity_key

from ..schema import (
    ConnectionRow,
    DomainConnectionRow,
    DomainRow,
)

from .domains import _DOMAIN_COLUMNS, _DOMAIN_STATUSES, _STORAGE_TYPES, DomainRows


# StorageType(value) goes through Enum.__call__; a dict lookup is a fraction of it.
_TYPES = {member.value: member for member in StorageType}
# A listing's columns in StorageConnection's field order, so a row is its positional arguments
# (id and type first; type is mapped to its enum). A listing never carries the password.
_LISTED_FIELDS = [f.name for f in dataclass_fields(StorageConnection)]
assert _LISTED_FIELDS[:2] == ["id", "type"], _LISTED_FIELDS
_LISTED_COLUMNS = [
    null().label(name) if name == "password" else getattr(ConnectionRow, name) for name in _LISTED_FIELDS
]


class ConnectionRows(DomainRows):
    # -- storage connections -------------------------------------------------

    def connections(
        self, *, max: int | None = None, secrets: bool = False
    ) -> list[StorageConnection]:
        if not secrets:
            return self._listed_connections(max)
        query = select(ConnectionRow).order_by(ConnectionRow.created_at, ConnectionRow.id)
        if max is not None:
            query = query.limit(max)
        return [self._connection(row, secrets) for row in self.session.scalars(query)]

    def _listed_connections(self, max: int | None) -> list[StorageConnection]:
        """The list without secrets, from plain column tuples through Core.

        Loading 10,000 ORM objects (identity map, attribute instrumentation)
        costs five times the query itself, and even a column select run
        through the session goes through the ORM's row loading (twice the
        query); a list answer needs neither, so it runs on the session's
        connection. Rows go into the dataclass positionally (keywords cost
        twice as much here): the columns are selected in its field order.
        """
        c = ConnectionRow
        query = select(*_LISTED_COLUMNS).order_by(c.created_at, c.id)
        if max is not None:
            query = query.limit(max)
        types, make = _TYPES, StorageConnection
        # fetchall: iterating the result itself fetches row by row, a Python call each.
        rows = self.session.connection().execute(query).fetchall()
        return [make(r[0], types[r[1]], *r[2:]) for r in rows]

    def connection(self, connection_id: str, *, secrets: bool = False) -> StorageConnection | None:
        row = self.session.get(ConnectionRow, connection_id)
        return self._connection(row, secrets) if row else None

    def connections_by_id(
        self, ids: Iterable[str], *, secrets: bool = False
    ) -> dict[str, StorageConnection]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        if secrets:
            rows = self.session.scalars(select(ConnectionRow).where(ConnectionRow.id.in_(wanted)))
            return {row.id: self._connection(row, secrets) for row in rows}
        # Without secrets, as the listing: Core rows straight into the dataclass.
        self.session.flush()
        query = select(*_LISTED_COLUMNS).where(ConnectionRow.id.in_(wanted))
        types, make = _TYPES, StorageConnection
        return {
            r[0]: make(r[0], types[r[1]], *r[2:])
            for r in self.session.connection().execute(query).fetchall()
        }

    def domains_and_connections(self) -> tuple[list[StorageDomain], dict[str, StorageConnection]]:
        """Every domain, and every connection a domain uses (no secrets): what a list of domains shows.

        One query, each domain joined with its connections, rather than one
        for the domains, one for their links and one for the connections.
        """
        d, link, c = DomainRow, DomainConnectionRow, ConnectionRow
        query = (
            select(*_DOMAIN_COLUMNS, *_LISTED_COLUMNS)
            .outerjoin(link, link.domain_id == d.id)
            .outerjoin(c, c.id == link.connection_id)
            .order_by(d.created_at, d.id, c.created_at, c.id)
        )
        self.session.flush()
        rows = self.session.connection().execute(query).fetchall()
        width = len(_DOMAIN_COLUMNS)
        types, statuses, connection_types = _STORAGE_TYPES, _DOMAIN_STATUSES, _TYPES
        make = StorageConnection
        domains: list[StorageDomain] = []
        connections: dict[str, StorageConnection] = {}
        current: StorageDomain | None = None
        for row in rows:
            if current is None or current.id != row[0]:
                id_, name, storage_type, domain_type, description, dc_id, status, vg_id = row[:width]
                current = StorageDomain(
                    id_, name, types[storage_type], domain_type, description, dc_id,
                    statuses[status], [], vg_id, [],
                )
                domains.append(current)
            conn = row[width:]
            if conn[0] is not None:  # a domain without a connection is joined with NULLs
                current.connection_ids.append(conn[0])
                if conn[0] not in connections:
                    connections[conn[0]] = make(conn[0], connection_types[conn[1]], *conn[2:])
        luns = self._luns([domain.id for domain in domains], every_row=True)
        for domain in domains:
            domain.luns = luns[domain.id]
        return domains, connections

    def connection_data_center(self, connection_id: str) -> str | None:
        row = self.session.get(ConnectionRow, connection_id)
        return row.data_center_id if row else None

    def candidates(self, conn: StorageConnection) -> list[Candidate]:
        """Stored connections with the same identity as ``conn``, with their data center and domains."""
        rows = list(
            self.session.scalars(
                select(ConnectionRow).where(
                    ConnectionRow.identity_hash == identity_hash(identity_key(conn))
                )
            )
        )
        return [
            Candidate(
                connection=self._connection(row, False),
                data_center_id=row.data_center_id,
                domains=tuple(self.domains_using(row.id)),
            )
            for row in rows
        ]

    def save_connection(
        self, conn: StorageConnection, *, data_center_id: str | None = None
    ) -> None:
        """Insert or update ``conn``, every column, the (encrypted) password too.

        Callers of an update pass the merged connection, which carries the
        stored password unless the client replaced or cleared it.
        """
        key = identity_key(conn)
        values = dict(
            type=str(conn.type),
            type_code=TYPE_CODES[conn.type],
            connection=conn.connection,
            port=conn.port,
            iqn=conn.iqn,
            portal=conn.portal,
            username=conn.username,
            password_encrypted=self._box.encrypt(conn.password),
            **mount_fields(conn),
            revision=conn.revision,
            identity_key=key,
            identity_hash=identity_hash(key),
            scope=duplicate_scope(conn, data_center_id),
            data_center_id=data_center_id,
        )
        self._upsert(ConnectionRow, conn.id, values)

    def set_connection_data_center(
        self, conn: StorageConnection, data_center_id: str | None
    ) -> None:
        """Local storage joins the data center of the domain using it (its duplicate scope changes)."""
        self.session.execute(
            update(ConnectionRow)
            .where(ConnectionRow.id == conn.id)
            .values(data_center_id=data_center_id, scope=duplicate_scope(conn, data_center_id))
        )
        self.session.flush()

    def forget_data_center(self, data_center_id: str) -> None:
        """Local storage of a data center being removed belongs to no data center any more."""
        rows = self.session.scalars(
            select(ConnectionRow).where(ConnectionRow.data_center_id == data_center_id)
        )
        for row in list(rows):
            self.set_connection_data_center(self._connection(row, False), None)

    def delete_connection(self, connection_id: str) -> None:
        self.session.execute(delete(ConnectionRow).where(ConnectionRow.id == connection_id))
        self.session.flush()

    def _connection(self, row: ConnectionRow, secrets: bool) -> StorageConnection:
        return StorageConnection(
            id=row.id,
            type=StorageType(row.type),
            connection=row.connection,
            port=row.port,
            iqn=row.iqn,
            portal=row.portal,
            username=row.username,
            password=self._box.decrypt(row.password_encrypted) if secrets else None,
            **mount_fields(row),
            revision=row.revision,
        )
