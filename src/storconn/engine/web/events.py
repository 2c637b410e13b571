"""The Events page: the engine's audit log, newest first, filtered with the events search of the API."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storconn.engine.errors import EngineError

from .kit import Kit, viewer
from .session import SessionUser

__all__ = ["event_routes"]

PAGE = 200  # the newest this many; older ones by a narrower search


class EventPages:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @viewer
    async def listing(self, request: Request, user: SessionUser) -> Response:
        search = request.query_params.get("search", "").strip()[:500]
        problem = None
        try:
            found = await run_in_threadpool(
                lambda: self.kit.engine.list_events(max=PAGE, search=search or None, case_sensitive=False)
            )
        except EngineError as exc:
            found, problem = [], exc.message
        context = {"events": found, "search": search, "problem": problem, "page_size": PAGE}
        return self.kit.page(request, "events.html", user, context, status_code=400 if problem else 200)


def event_routes(kit: Kit) -> list[Route]:
    return [Route("/events", EventPages(kit).listing)]
