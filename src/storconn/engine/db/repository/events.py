"""The audit log's rows: add one, read them newest first with ``from``/``max``/a filter, prune the old."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Delete, and_, delete, false, func, insert, or_, select

from storconn.engine.model import SEVERITY_CODES, Event, EventObjects, Severity
from storconn.engine.rules.events import Condition, Filter

from ..schema import EventRow
from .base import RepositoryBase

_SEVERITIES = {code: severity for severity, code in SEVERITY_CODES.items()}
_OBJECT_FIELDS = tuple(EventObjects.__slots__)
_COMPARE = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


class EventRows(RepositoryBase):
    def add_event(
        self,
        *,
        code: int,
        severity: Severity,
        description: str,
        origin: str,
        objects: EventObjects,
        custom_id: int | None = None,
        flood_rate: int = 30,
        correlation_id: str | None = None,
    ) -> int:
        """Insert one event (Core, not the ORM: one statement, nothing loaded back); its new id."""
        values: dict[str, Any] = {name: getattr(objects, name) for name in _OBJECT_FIELDS}
        result: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            insert(EventRow)
            .values(
                code=code,
                severity=SEVERITY_CODES[severity],
                description=description,
                origin=origin,
                custom_id=custom_id,
                flood_rate=flood_rate,
                correlation_id=correlation_id,
                **values,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def events(
        self,
        *,
        max: int | None = None,
        after: int | None = None,
        where: Filter | None = None,
        case_sensitive: bool = True,
    ) -> list[Event]:
        """Newest first (oVirt sorts by id, descending); ``after``: only ids greater than it."""
        query = select(EventRow).order_by(EventRow.id.desc())
        if after is not None:
            query = query.where(EventRow.id > after)
        if where:
            query = query.where(_filter(where, case_sensitive, self.session.get_bind().dialect.name))
        if max is not None:
            query = query.limit(max)
        return [_event(row) for row in self.session.scalars(query)]

    def event(self, event_id: int) -> Event | None:
        row = self.session.get(EventRow, event_id)
        return _event(row) if row else None

    def event_by_custom_id(self, origin: str, custom_id: int) -> Event | None:
        row = self.session.scalar(
            select(EventRow).where(EventRow.origin == origin, EventRow.custom_id == custom_id)
        )
        return _event(row) if row else None

    def delete_event(self, event_id: int) -> bool:
        return self._deleted(delete(EventRow).where(EventRow.id == event_id)) > 0

    def prune_events(self, keep: int) -> int:
        """Keep the newest ``keep`` ids (ids only grow: one indexed delete, no count)."""
        newest = self.session.scalar(select(func.max(EventRow.id)))
        if newest is None or newest <= keep:
            return 0
        return self._deleted(delete(EventRow).where(EventRow.id <= newest - keep))

    def _deleted(self, statement: Delete) -> int:
        result: CursorResult[Any] = self.session.execute(statement)  # type: ignore[assignment]
        return int(result.rowcount)


def _condition(condition: Condition, case_sensitive: bool, dialect: str) -> ColumnElement[bool]:
    column: Any = getattr(EventRow, condition.attr)
    value = condition.value
    if condition.kind != "text":
        return _COMPARE[condition.op](column, value)  # type: ignore[no-any-return]
    assert isinstance(value, str)
    if not case_sensitive:
        column, value = func.lower(column), value.lower()
    if "*" in value and case_sensitive and dialect == "sqlite":
        # SQLite's LIKE ignores case; its GLOB does not. "[x]" quotes GLOB's own wildcards.
        quoted = re.sub(r"([?\[])", r"[\1]", value)
        matched = column.op("GLOB")(quoted)
    elif "*" in value:
        pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
        matched = column.like(pattern, escape="\\")
    else:
        matched = column == value
    if condition.op == "!=":
        # NULL (no such object) is "not equal" too, as a reader means it.
        return or_(column.is_(None), ~matched)
    return matched  # type: ignore[no-any-return]


def _filter(where: Filter, case_sensitive: bool, dialect: str) -> ColumnElement[bool]:
    alternatives = [and_(*(_condition(c, case_sensitive, dialect) for c in terms)) for terms in where if terms]
    return or_(*alternatives) if alternatives else false()


def _event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        time=row.time,
        severity=_SEVERITIES.get(row.severity, Severity.NORMAL),
        code=row.code,
        description=row.description,
        origin=row.origin,
        objects=EventObjects(**{name: getattr(row, name) for name in _OBJECT_FIELDS}),
        custom_id=row.custom_id,
        flood_rate=row.flood_rate,
        correlation_id=row.correlation_id,
    )
