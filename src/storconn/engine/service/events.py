"""Events: the audit log the commands write (``EngineBase._record``), read as oVirt's events service.

``list_events`` answers newest first, as oVirt does, so that ``max=1`` is
the newest event and ``from=N`` everything after the event a client last
saw. ``add_event`` is oVirt's AddExternalEvent: an outside system writes
an event in its own name (``origin``) with its own ``custom_id``.
"""

from __future__ import annotations

from storconn.engine import actor
from storconn.engine.errors import NotFound
from storconn.engine.model import Event, ExternalEvent
from storconn.engine.rules import Action
from storconn.engine.rules import events as event_rules
from storconn.engine.service.base import PRUNE_EVERY, EngineBase, command

__all__ = ["EventCommands"]


def _event_id(event_id: str) -> int:
    """An event id from a path: a number, else no such event (404, like any unknown id)."""
    text = event_id.strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    raise NotFound("ENTITY_NOT_FOUND", f"event {event_id[:40]} was not found.")


class EventCommands(EngineBase):
    def list_events(
        self,
        *,
        max: int | None = None,
        from_id: int | None = None,
        search: str | None = None,
        case_sensitive: bool = True,
    ) -> list[Event]:
        """Newest first; ``from_id``: only events after it; ``search``: ``rules.events.parse_search``."""
        where = event_rules.parse_search(search) if search and search.strip() else None
        with self._tx(write=False) as repo:
            return repo.events(max=max, after=from_id, where=where, case_sensitive=case_sensitive)

    def get_event(self, event_id: str) -> Event:
        with self._tx(write=False) as repo:
            found = repo.event(_event_id(event_id))
        if found is None:
            raise NotFound("ENTITY_NOT_FOUND", f"event {event_id[:40]} was not found.")
        return found

    @command(Action.REMOVE_EVENT)
    def remove_event(self, event_id: str) -> None:
        with self._tx() as repo:
            if not repo.delete_event(_event_id(event_id)):
                raise NotFound("ENTITY_NOT_FOUND", f"event {event_id[:40]} was not found.")

    @command(Action.ADD_EVENT)
    def add_event(self, event: ExternalEvent) -> Event:
        """An external event; the objects it names get their names if this engine knows them."""
        event_rules.check_external(event)
        who = actor.current()
        objects = event.objects
        with self._tx() as repo:
            if repo.event_by_custom_id(event.origin, event.custom_id) is not None:
                raise event_rules.duplicate_custom_id()
            if objects.host_id and (host := repo.host(objects.host_id)) is not None:
                objects.host_name = host.name
            if objects.storage_domain_id and (sd := repo.domain(objects.storage_domain_id)) is not None:
                objects.storage_domain_name = sd.name
            if objects.data_center_id and (dc := repo.data_center(objects.data_center_id)) is not None:
                objects.data_center_name = dc.name
            if objects.user_id is None and who is not None:
                objects.user_name = who.user_name
            new_id = repo.add_event(
                code=event_rules.Code.EXTERNAL[event.severity],
                severity=event.severity,
                description=event.description[: event_rules.MAX_DESCRIPTION],
                origin=event.origin,
                objects=objects,
                custom_id=event.custom_id,
                flood_rate=30 if event.flood_rate is None else event.flood_rate,
                correlation_id=event.correlation_id or (who.correlation_id if who else None),
            )
            if new_id % PRUNE_EVERY == 0:
                repo.prune_events(self.events_kept)
            added = repo.event(new_id)
        assert added is not None
        return added
