"""The session, the secret box and the helpers every part of the repository uses."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storconn.engine.secrets import SecretBox

from ..schema import (
    Base,
    ConnectionRow,
)

__all__ = ["RepositoryBase"]


log = logging.getLogger(__name__)


class RepositoryBase:
    def __init__(self, session: Session, box: SecretBox) -> None:
        self.session = session
        self._box = box

    def _upsert(self, row_type: type[Base], row_id: str, values: Mapping[str, object]) -> None:
        """Insert the row ``row_id`` with ``values``, or set every one of them on the stored row."""
        row = self.session.get(row_type, row_id)
        if row is None:
            self.session.add(row_type(id=row_id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        self.session.flush()

    def _connection_ids(
        self,
        owner: InstrumentedAttribute[str],
        connection: InstrumentedAttribute[str],
        rows: Sequence[Any],
        *,
        every_row: bool = False,
    ) -> dict[str, list[str]]:
        """The connection ids of each row (a domain or a disk), in listing order, in one query.

        ``owner`` and ``connection`` are the two columns of the row's link
        table, as ``DomainConnectionRow.domain_id`` and ``.connection_id``;
        ``rows`` anything with an ``id`` (ORM objects or Core rows);
        ``every_row`` when they are all the table's, so the link table is
        read whole rather than through an ``IN`` of every id (which
        SQLAlchemy renders afresh, a bound parameter each, on every call).
        """
        ids = [row.id for row in rows]
        mapping: dict[str, list[str]] = {owner_id: [] for owner_id in ids}
        if ids:
            self.session.flush()  # Core reads past the session: what it holds must be in the database first
            query = (
                select(owner, connection)
                .join(ConnectionRow, ConnectionRow.id == connection)
                # Each owner's connections in the order they were made; by owner first, so the
                # database walks the link table rather than every connection there is.
                .order_by(owner, ConnectionRow.created_at, ConnectionRow.id)
            )
            if not every_row:
                query = query.where(owner.in_(ids))
            for owner_id, connection_id in self.session.connection().execute(query).fetchall():
                if owner_id in mapping:
                    mapping[owner_id].append(connection_id)
        return mapping
